from __future__ import annotations

import os
import time

import numpy as np

from autocnn.data import clear_cache, load


def test_second_load_is_the_same_object_and_fast(kmnist_dir):
    first = load("kmnist10k", "train", data_dir=kmnist_dir)
    start = time.perf_counter()
    for _ in range(20):
        again = load("kmnist10k", "train", data_dir=kmnist_dir)
    assert again is first
    assert (time.perf_counter() - start) / 20 < 0.01
    clear_cache()
    assert load("kmnist10k", "train", data_dir=kmnist_dir) is not first


def test_rewritten_file_is_read_again(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 8, 8), np.uint8), y=np.array([0, 1, 0, 1]))
    first = load(f"npz:{path}")
    assert load(f"npz:{path}") is first
    np.savez(path, x=np.ones((6, 8, 8), np.uint8), y=np.array([0, 1, 2, 0, 1, 2]))
    os.utime(path, ns=(1, 1))  # distinct mtime even on coarse-clock file systems
    second = load(f"npz:{path}")
    assert len(second) == 6 and second.n_classes == 3
