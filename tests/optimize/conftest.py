"""Data shared by the optimize tests that train real nets."""

from __future__ import annotations

import pytest

from autocnn.data import write_synthetic


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    """4 classes of learnable 16x16 images (400 to train on), as an npz dataset name."""
    folder = tmp_path_factory.mktemp("tiny")
    write_synthetic(
        folder, "tiny", n_classes=4, n_train=400, n_test=40, imbalance=1.0, image_size=16
    )
    return f"npz:{folder}"
