"""Shared fixtures: where the real KMNIST files live on our machines (../shared beside the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_KMNIST = REPO.parent / "shared" / "data" / "kmnist"


@pytest.fixture(scope="session")
def kmnist_dir() -> Path:
    """Folder with the official kmnist-test-imgs.npz / -labels.npz (real data)."""
    if not (SHARED_KMNIST / "kmnist-test-imgs.npz").exists():
        pytest.skip(f"real KMNIST files not found in {SHARED_KMNIST}")
    return SHARED_KMNIST


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test runs torch on one thread: the CI machine has 2 shared cores and our tensors are
    tiny, so a second OpenMP thread only waits (one test ran 35x slower with two under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
