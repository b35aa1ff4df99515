"""Shared fixtures: where the real KMNIST files live on our machines (../shared beside the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_KMNIST = REPO.parent / "shared" / "data" / "kmnist"


@pytest.fixture(scope="session")
def kmnist_dir() -> Path:
    """Folder with the official kmnist-test-imgs.npz / -labels.npz (real data)."""
    if not (SHARED_KMNIST / "kmnist-test-imgs.npz").exists():
        pytest.skip(f"real KMNIST files not found in {SHARED_KMNIST}")
    return SHARED_KMNIST
