"""Shared fixtures: where the real KMNIST files live on our machines (../shared beside the repo),
tiny synthetic datasets, one torch thread per test."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest
import torch

from autocnn import data

REPO = Path(__file__).resolve().parents[1]
SHARED_KMNIST = REPO.parent / "shared" / "data" / "kmnist"


@pytest.fixture(scope="session")
def kmnist_dir() -> Path:
    """Folder with the official kmnist-test-imgs.npz / -labels.npz (real data)."""
    if not (SHARED_KMNIST / "kmnist-test-imgs.npz").exists():
        pytest.skip(f"real KMNIST files not found in {SHARED_KMNIST}")
    return SHARED_KMNIST


@pytest.fixture(scope="session")
def benchmark_script():
    """Load a script of ``benchmarks/`` by name as a module (they are scripts, not a package)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test runs torch on one thread: the CI machine has 2 shared cores and our tensors are
    tiny, so a second OpenMP thread only waits (one test ran 35x slower with two under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# Per-process caches: module -> the dict it keeps. Emptied around every test so that no test
# depends on what an earlier one loaded (the suite also passes in random order:
# python -m pytest -q --random-order).
PROCESS_CACHES = {
    "autocnn.optimize.evaluate": "_SPLITS",  # dataset splits (clear_split_cache)
    "autocnn.transfer.search": "_SOURCE_STATES",  # source weights for init_weights
    "autocnn.optimize.ray_backend": "_DATA",  # a worker's dataset from the object store
}


def clear_process_caches() -> None:
    for module_name, attribute in PROCESS_CACHES.items():
        module = sys.modules.get(module_name)  # not imported yet: nothing cached
        if module is not None:
            getattr(module, attribute).clear()


@pytest.fixture(autouse=True)
def fresh_process_caches():
    clear_process_caches()
    yield
    clear_process_caches()


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


@pytest.fixture()
def wait_for():
    """``wait_for(condition, what, timeout=120)``: poll a real subprocess's progress; generous
    timeouts, since a loaded machine is slow but not wrong."""

    def wait(condition, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    return wait
