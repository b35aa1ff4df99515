"""Every kind of bad file gives one DataError that names the file; nothing else escapes."""

from __future__ import annotations

import numpy as np
import pytest

from autocnn.data import load, write_idx
from autocnn.data.readers import as_labels
from autocnn.errors import DataError

GOOD_X = np.zeros((4, 8, 8), np.uint8)
GOOD_Y = np.array([0, 1, 1, 0])


def npz(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def expect_error(name, part="train", match=None, path=None):
    with pytest.raises(DataError, match=match) as err:
        load(name, part)
    if path is not None:
        assert str(path) in str(err.value)
    return str(err.value)


def test_missing_file(tmp_path):
    expect_error(f"npz:{tmp_path / 'nope.npz'}", match="not found", path=tmp_path / "nope.npz")


def test_missing_part_file_in_folder(tmp_path):
    np.savez(tmp_path / "toy-train-imgs.npz", GOOD_X)
    np.savez(tmp_path / "toy-train-labels.npz", GOOD_Y)
    assert len(load(f"npz:{tmp_path}")) == 4
    expect_error(f"npz:{tmp_path}", "test", match="toy-test-imgs.npz")


@pytest.mark.parametrize("cut", [10, 0.5])
def test_truncated_npz(tmp_path, cut):
    path = npz(tmp_path, x=np.arange(4000, dtype=np.uint8).reshape(10, 20, 20) % 7, y=np.arange(10))
    raw = path.read_bytes()
    path.write_bytes(raw[: cut if isinstance(cut, int) else int(len(raw) * cut)])
    expect_error(f"npz:{path}", match="cannot read as .npz", path=path)


def test_corrupt_compressed_member(tmp_path):
    path = tmp_path / "c.npz"
    np.savez_compressed(
        path, x=np.random.default_rng(0).integers(0, 255, (50, 28, 28), np.uint8), y=np.arange(50)
    )
    raw = bytearray(path.read_bytes())
    for i in range(200, 260):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    expect_error(f"npz:{path}", path=path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("x,y\n1,2\n")
    expect_error(f"npz:{path}", match="cannot read as .npz", path=path)


def test_npy_instead_of_npz(tmp_path):
    path = tmp_path / "arr.npz"
    with open(path, "wb") as f:
        np.save(f, GOOD_X)
    expect_error(f"npz:{path}", match=".npy", path=path)


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=GOOD_Y)
    expect_error(f"npz:{path}", path=path)


def test_wrong_keys(tmp_path):
    path = npz(tmp_path, images=GOOD_X, labels=GOOD_Y)
    msg = expect_error(f"npz:{path}", match="x_train", path=path)
    assert "images" in msg


@pytest.mark.parametrize(
    "x,y,match",
    [
        (GOOD_X.astype(np.float32), GOOD_Y, "uint8"),
        (np.zeros((4, 64), np.uint8), GOOD_Y, "shape"),
        (np.zeros((4, 8, 8, 5), np.uint8), GOOD_Y, "shape"),
        (GOOD_X, GOOD_Y.reshape(2, 2), "1-D integer"),
        (GOOD_X, GOOD_Y.astype(np.float64), "1-D integer"),
        (GOOD_X, np.array([0, 1, 1]), "3 labels for 4 images"),
        (GOOD_X, np.array([0, -1, 1, 0]), "negative label"),
        (GOOD_X[:0], GOOD_Y[:0], "no images"),
    ],
)
def test_bad_arrays(tmp_path, x, y, match):
    path = npz(tmp_path, x=x, y=y)
    expect_error(f"npz:{path}", match=match, path=path)


def test_label_out_of_range_for_a_registered_set():
    with pytest.raises(DataError, match="out of range for 10 classes"):
        as_labels(np.array([0, 3, 10]), 3, "kmnist-test-labels.npz", n_classes=10)
    assert as_labels(np.array([0, 9], np.uint8), 2, "x", n_classes=10).tolist() == [0, 9]


def test_idx_bad_magic(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 40)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    expect_error(f"idx:{tmp_path}", match="magic", path=tmp_path / "train-images-idx3-ubyte")


def test_idx_truncated(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 4, 4), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    expect_error(f"idx:{tmp_path}", match="truncated", path=path)


def test_idx_truncated_gzip(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, np.random.default_rng(0).integers(0, 255, (50, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(50, np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    expect_error(f"idx:{tmp_path}", path=path)


def test_idx_missing_part(tmp_path):
    expect_error(f"idx:{tmp_path}", "test", match="t10k-images-idx3-ubyte")
    expect_error(f"idx:{tmp_path / 'absent'}", match="not a folder")
