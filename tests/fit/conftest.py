"""The tiny dataset the end-to-end fit tests train on."""

from __future__ import annotations

import pytest

from autocnn import data


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """4 classes of 12 x 12 synthetic images, 200 training / 40 test, as ``npz:DIR``."""
    root = tmp_path_factory.mktemp("fitdata")
    data.write_synthetic(root, "kmnist", n_classes=4, n_train=200, n_test=40, imbalance=1.0,
                         image_size=12)  # fmt: skip
    return f"npz:{root}"
