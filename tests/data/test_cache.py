from __future__ import annotations

import os

import numpy as np

from autocnn.data import clear_cache, load


def test_second_load_is_the_same_object_and_reads_nothing(kmnist_dir, monkeypatch):
    from autocnn.data import loading

    reads = []
    real = loading.read_npz
    monkeypatch.setattr(loading, "read_npz", lambda path, *a: reads.append(path) or real(path, *a))
    clear_cache()
    first = load("kmnist10k", "train", data_dir=kmnist_dir)
    assert len(reads) == 2  # images and labels
    for _ in range(20):
        again = load("kmnist10k", "train", data_dir=kmnist_dir)
    assert again is first and len(reads) == 2  # served from the cache: no file read again
    clear_cache()
    assert load("kmnist10k", "train", data_dir=kmnist_dir) is not first
    assert len(reads) == 4


def test_rewritten_file_is_read_again(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 8, 8), np.uint8), y=np.array([0, 1, 0, 1]))
    first = load(f"npz:{path}")
    assert load(f"npz:{path}") is first
    np.savez(path, x=np.ones((6, 8, 8), np.uint8), y=np.array([0, 1, 2, 0, 1, 2]))
    os.utime(path, ns=(1, 1))  # distinct mtime even on coarse-clock file systems
    second = load(f"npz:{path}")
    assert len(second) == 6 and second.n_classes == 3
