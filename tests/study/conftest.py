"""Tiny synthetic source (balanced) and K49-shaped destination (long-tailed) datasets."""

from __future__ import annotations

import pytest

from autocnn import data


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    data.write_synthetic(root / "src", "kmnist", n_classes=4, n_train=160, n_test=40,
                         imbalance=1.0, image_size=12)  # fmt: skip
    data.write_synthetic(root / "dst", "k49", n_classes=6, n_train=150, n_test=48,
                         imbalance=5.0, image_size=12, seed=1)  # fmt: skip
    return f"npz:{root / 'src'}", f"npz:{root / 'dst'}"


@pytest.fixture()
def load_log(monkeypatch):
    """Record every data.load call as (dataset, part)."""
    calls: list[tuple[str, str]] = []
    real = data.load

    def logged(name, part="train", *args, **kwargs):
        calls.append((name, part))
        return real(name, part, *args, **kwargs)

    monkeypatch.setattr(data, "load", logged)
    return calls
