from __future__ import annotations

import os
import shutil

import pytest

from autocnn.data import DATASETS, OFFICIAL_FILES, dataset_status, files, known_names, load
from autocnn.errors import DataError


def test_real_files_match_their_official_md5(kmnist_dir):
    for name in ("kmnist-test-imgs.npz", "kmnist-test-labels.npz", "kmnist-train-labels.npz"):
        info = OFFICIAL_FILES[name]
        assert files.md5_file(kmnist_dir / name) == info.md5
        assert (kmnist_dir / name).stat().st_size == info.size


def test_registry_covers_all_official_files():
    required = {f for spec in DATASETS.values() for pair in spec.parts.values() for f in pair}
    assert len(required) == 8
    assert required <= OFFICIAL_FILES.keys()
    assert {n for n, f in OFFICIAL_FILES.items() if f.optional} == {
        "kmnist_classmap.csv",
        "k49_classmap.csv",
    }


@pytest.mark.parametrize("level", ["folder", "parent"])
def test_status_finds_files_in_data_dir_or_its_subfolder(kmnist_dir, level):
    data_dir = kmnist_dir if level == "folder" else kmnist_dir.parent
    status = {s.file: s for s in dataset_status(data_dir)}
    assert status["kmnist-test-imgs.npz"].status == "ok"
    assert status["kmnist-test-imgs.npz"].path == kmnist_dir / "kmnist-test-imgs.npz"
    assert status["kmnist-test-imgs.npz"].size == 3_079_479
    assert set(status["kmnist-test-imgs.npz"].used_by) == {"kmnist", "kmnist10k"}
    assert status["k49-train-imgs.npz"].status == "missing"
    assert status["k49-train-imgs.npz"].path is None
    assert status["kmnist_classmap.csv"].optional
    assert status["k49-train-imgs.npz"].dataset == "k49"


def test_status_without_verify_reports_not_checked_then_ok(kmnist_dir):
    before = {s.file: s.status for s in dataset_status(kmnist_dir, verify=False)}
    assert before["kmnist-test-labels.npz"] == "not checked"
    dataset_status(kmnist_dir, verify=True)
    files._md5_memo.clear()  # a new process: only the sidecar in the cache remembers
    after = {s.file: s.status for s in dataset_status(kmnist_dir, verify=False)}
    assert after["kmnist-test-labels.npz"] == "ok"


def test_data_dir_env_is_used(kmnist_dir, monkeypatch):
    monkeypatch.setenv(files.DATA_DIR_ENV, str(kmnist_dir.parent))
    assert len(load("kmnist10k", "test", download=False)) == 2000


def test_verified_file_is_not_hashed_again(kmnist_dir, monkeypatch):
    calls = []
    real_md5 = files.md5_file
    monkeypatch.setattr(files, "md5_file", lambda p: calls.append(p) or real_md5(p))
    load("kmnist10k", "train", data_dir=kmnist_dir)
    load("kmnist10k", "test", data_dir=kmnist_dir)
    assert len(calls) == 2  # images and labels, once each
    files._md5_memo.clear()  # next process: the cache's verified.json is enough
    load("kmnist10k", "test", data_dir=kmnist_dir)
    assert len(calls) == 2


def test_md5_mismatch_in_user_data_dir(kmnist_dir, tmp_path):
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    shutil.copy(kmnist_dir / "kmnist-test-imgs.npz", data_dir)
    labels = bytearray((kmnist_dir / "kmnist-test-labels.npz").read_bytes())
    labels[100] ^= 0xFF  # same size, different content
    (data_dir / "kmnist-test-labels.npz").write_bytes(bytes(labels))
    with pytest.raises(DataError) as err:
        load("kmnist10k", "train", data_dir=data_dir)
    msg = str(err.value)
    assert "kmnist-test-labels.npz" in msg
    assert OFFICIAL_FILES["kmnist-test-labels.npz"].md5 in msg
    assert files.md5_file(data_dir / "kmnist-test-labels.npz") in msg
    assert "delete" in msg


def test_modified_file_is_hashed_again(kmnist_dir, tmp_path):
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    for name in ("kmnist-test-imgs.npz", "kmnist-test-labels.npz"):
        shutil.copy(kmnist_dir / name, data_dir)
    load("kmnist10k", "train", data_dir=data_dir)
    path = data_dir / "kmnist-test-labels.npz"
    corrupt = bytearray(path.read_bytes())
    corrupt[200] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    os.utime(path, ns=(1, 1))  # a different mtime, as any rewrite would give
    with pytest.raises(DataError, match="md5 mismatch"):
        load("kmnist10k", "train", data_dir=data_dir)


def test_unknown_name_lists_known_ones():
    with pytest.raises(DataError) as err:
        load("mnist")
    for name in known_names():
        assert name in str(err.value)


def test_unknown_part():
    with pytest.raises(DataError, match="'train' or 'test'"):
        load("kmnist10k", "validation")


def test_missing_file_without_download_names_file_and_folders(tmp_path):
    with pytest.raises(DataError) as err:
        load("k49", "test", data_dir=tmp_path, download=False)
    assert "k49-test-imgs.npz" in str(err.value)
    assert str(tmp_path) in str(err.value)
