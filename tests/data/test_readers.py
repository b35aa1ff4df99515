from __future__ import annotations

import numpy as np
import pytest

from autocnn.data import load, write_idx
from autocnn.errors import DataError

rng = np.random.default_rng(0)


def images(n, *shape):
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def test_npz_file_with_train_and_test(tmp_path):
    x_train, x_test = images(30, 12, 12), images(10, 12, 12)
    y_train, y_test = np.arange(30) % 4, np.array([0, 1, 2, 3] + [0] * 6)
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    train, test = load(f"npz:{path}", "train"), load(f"npz:{path}", "test")
    assert train.x.shape == (30, 1, 12, 12) and train.x.is_contiguous()
    assert np.array_equal(train.x.numpy()[:, 0], x_train)
    assert np.array_equal(test.y.numpy(), y_test) and test.y.dtype.is_floating_point is False
    assert train.n_classes == test.n_classes == 4  # the training labels' classes


def test_npz_file_with_x_y_is_train_only(tmp_path):
    path = tmp_path / "xy.npz"
    np.savez(path, x=images(8, 10, 10), y=np.array([0, 1] * 4))
    assert len(load(f"npz:{path}")) == 8
    with pytest.raises(DataError, match="no test part"):
        load(f"npz:{path}", "test")


def test_npz_channels_last_rgb_becomes_channels_first(tmp_path):
    x = images(6, 16, 16, 3)
    path = tmp_path / "rgb.npz"
    np.savez(path, x=x, y=np.arange(6) % 2)
    data = load(f"npz:{path}")
    assert data.input_shape == (3, 16, 16)
    assert np.array_equal(data.x.numpy(), x.transpose(0, 3, 1, 2))


def test_npz_channels_first_is_kept(tmp_path):
    x = images(6, 3, 16, 16)
    path = tmp_path / "chw.npz"
    np.savez(path, x=x, y=np.arange(6) % 2)
    assert np.array_equal(load(f"npz:{path}").x.numpy(), x)


def write_official_format(folder, prefix, x_train, y_train, x_test, y_test):
    folder.mkdir(exist_ok=True)
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        np.savez_compressed(folder / f"{prefix}-{part}-imgs.npz", x)
        np.savez_compressed(folder / f"{prefix}-{part}-labels.npz", y)


def test_npz_folder_in_official_format(tmp_path):
    x_train, y_train = images(20, 28, 28), (np.arange(20) % 5).astype(np.uint8)
    write_official_format(
        tmp_path / "set", "toy", x_train, y_train, images(5, 28, 28), np.arange(5)
    )
    for name in (f"npz:{tmp_path / 'set'}", f"npz:{tmp_path / 'set' / 'toy'}"):
        data = load(name, "train")
        assert np.array_equal(data.x.numpy()[:, 0], x_train)
        assert data.y.tolist() == y_train.tolist() and data.n_classes == 5
    assert len(load(f"npz:{tmp_path / 'set'}", "test")) == 5


def test_npz_folder_with_several_prefixes_asks_for_one(tmp_path):
    for prefix in ("a", "b"):
        write_official_format(
            tmp_path, prefix, images(4, 8, 8), np.arange(4), images(2, 8, 8), np.arange(2)
        )
    with pytest.raises(DataError, match="several datasets"):
        load(f"npz:{tmp_path}")
    assert len(load(f"npz:{tmp_path / 'b'}", "test")) == 2


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_folder(tmp_path, suffix):
    x_train, y_train = images(12, 28, 28), (np.arange(12) % 4).astype(np.uint8)
    x_test, y_test = images(4, 28, 28), np.array([0, 1, 2, 1], np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", x_train)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", y_train)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", x_test)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", y_test)
    train, test = load(f"idx:{tmp_path}", "train"), load(f"idx:{tmp_path}", "test")
    assert np.array_equal(train.x.numpy()[:, 0], x_train)
    assert np.array_equal(test.y.numpy(), y_test)
    assert train.n_classes == test.n_classes == 4


def test_idx_wider_dtype_roundtrips(tmp_path):
    labels = np.arange(301, dtype=np.int32)[::-1].copy()
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    write_idx(tmp_path / "train-images-idx3-ubyte", images(301, 5, 5))
    data = load(f"idx:{tmp_path}")
    assert data.y.tolist() == labels.tolist() and data.n_classes == 301
