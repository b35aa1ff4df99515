"""Labels and image sizes are checked when a dataset loads, before anything trains (issue #15)."""

from __future__ import annotations

import numpy as np
import pytest

from autocnn.data import load, write_idx
from autocnn.errors import DataError, DataWarning

rng = np.random.default_rng(0)


def images(n, size=8):
    return rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)


def npz_file(tmp_path, y_train, y_test=None, test_size=8):
    path = tmp_path / "set.npz"
    arrays = {"x_train": images(len(y_train)), "y_train": np.asarray(y_train)}
    if y_test is not None:
        arrays.update(x_test=images(len(y_test), test_size), y_test=np.asarray(y_test))
    else:
        arrays = {"x": arrays["x_train"], "y": arrays["y_train"]}
    np.savez(path, **arrays)
    return f"npz:{path}", path


def folder_set(tmp_path, y_train, y_test, test_size=8):
    for part, y, size in (("train", y_train, 8), ("test", y_test, test_size)):
        np.savez(tmp_path / f"toy-{part}-imgs.npz", images(len(y), size))
        np.savez(tmp_path / f"toy-{part}-labels.npz", np.asarray(y))
    return f"npz:{tmp_path}"


def idx_set(tmp_path, y_train, y_test, test_size=8):
    for stem, y, size in (("train", y_train, 8), ("t10k", y_test, test_size)):
        write_idx(tmp_path / f"{stem}-images-idx3-ubyte", images(len(y), size))
        write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", np.asarray(y, np.uint8))
    return f"idx:{tmp_path}"


TEN = list(range(10)) * 3


@pytest.mark.parametrize("stray", [100000, 255])
def test_a_stray_label_is_an_error_not_a_huge_net(tmp_path, stray):
    name, path = npz_file(tmp_path, TEN + [stray])
    with pytest.raises(DataError, match=f"{stray} \\(1 image\\)") as err:
        load(name)
    assert str(path) in str(err.value) and "0..n_classes-1" in str(err.value)


def test_one_class_is_an_error(tmp_path):
    name, _ = npz_file(tmp_path, [3] * 12)
    with pytest.raises(DataError, match="every training label is 3.*at least 2 classes"):
        load(name)


@pytest.mark.parametrize("layout", [npz_file, folder_set, idx_set])
def test_a_test_label_outside_the_training_classes_is_an_error(tmp_path, layout):
    y_train, y_test = [0, 1, 2] * 4, [0, 1, 2, 7]
    name = layout(tmp_path, y_train, y_test)
    name = name[0] if isinstance(name, tuple) else name
    for part in ("train", "test"):  # found before training, whichever part is loaded first
        with pytest.raises(DataError, match="test label 7 is not among the training classes 0..2"):
            load(name, part)


@pytest.mark.parametrize("layout", [npz_file, folder_set, idx_set])
def test_train_and_test_images_of_different_sizes_are_an_error(tmp_path, layout):
    name = layout(tmp_path, [0, 1] * 4, [0, 1], test_size=10)
    name = name[0] if isinstance(name, tuple) else name
    for part in ("train", "test"):
        with pytest.raises(DataError, match="1x8x8.*1x10x10.*resize"):
            load(name, part)


def test_a_few_empty_classes_warn_and_say_what_is_assumed(tmp_path):
    name, path = npz_file(tmp_path, [0, 1, 3, 4] * 3)
    with pytest.warns(DataWarning, match="no training image has label 2; assuming 5 classes"):
        data = load(name)
    assert data.n_classes == 5


def test_consistent_labels_load_without_a_warning(tmp_path, recwarn):
    name, _ = npz_file(tmp_path, TEN, [0, 5, 9])
    assert load(name).n_classes == load(name, "test").n_classes == 10
    assert not [w for w in recwarn if issubclass(w.category, DataWarning)]


def test_a_missing_data_dir_is_named_and_nothing_is_downloaded(tmp_path, monkeypatch):
    from autocnn.data import files

    missing = tmp_path / "typo"
    with pytest.raises(DataError, match=f"--data-dir {missing}: no such folder"):
        load("kmnist10k", data_dir=missing)
    monkeypatch.setenv(files.DATA_DIR_ENV, str(missing))
    with pytest.raises(DataError, match=f"AUTOCNN_DATA_DIR {missing}: no such folder"):
        load("kmnist10k")
    assert not missing.exists() and not files.cache_dir().exists()


def test_a_failed_download_leaves_no_empty_cache_folder():
    from autocnn.data import files

    with pytest.raises(DataError, match="could not download"):
        load("kmnist10k")  # the conftest mirror is a closed port
    assert not files.cache_dir().exists()
