"""``dir:PATH``: images in one folder per class, read back exactly; every bad layout refused."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from autocnn.data import load
from autocnn.data.folders import IMAGE_SUFFIXES
from autocnn.errors import DataError, DataWarning

CLASSES = ("hiragana-a", "hiragana-i", "hiragana-u")  # sorted: labels 0, 1, 2


def write_images(folder, images, labels, classes=CLASSES, suffix=".png"):
    """One file per image in ``folder/<class name>/``; returns the paths in label order."""
    paths = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        target = folder / classes[label]
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{i:04d}{suffix}"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def gray_set(tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (12, 9, 7), dtype=np.uint8)  # 9 high, 7 wide
    y_train = np.array([0, 1, 2] * 4)
    x_test = rng.integers(0, 256, (4, 9, 7), dtype=np.uint8)
    y_test = np.array([2, 2, 0, 1])
    write_images(tmp_path / "set" / "train", x_train, y_train)
    write_images(tmp_path / "set" / "test", x_test, y_test)
    return tmp_path / "set", (x_train, y_train, x_test, y_test)


def _by_label(x, y):
    """Images sorted by (label, original order): the order a folder walk gives them back."""
    order = np.lexsort((np.arange(len(y)), y))
    return x[order], y[order]


def test_grayscale_folders_read_back_pixel_for_pixel(gray_set):
    root, (x_train, y_train, x_test, y_test) = gray_set
    train, test = load(f"dir:{root}", "train"), load(f"dir:{root}", "test")
    assert (train.n_classes, train.input_shape, len(train), len(test)) == (3, (1, 9, 7), 12, 4)
    for part, (x, y) in ((train, (x_train, y_train)), (test, (x_test, y_test))):
        want_x, want_y = _by_label(x, y)
        assert np.array_equal(part.x[:, 0].numpy(), want_x)
        assert part.y.tolist() == want_y.tolist()


def test_train_only_layout_and_its_missing_test_part(tmp_path):
    x = np.full((4, 5, 5), 7, np.uint8)
    write_images(tmp_path, x, np.array([0, 1, 0, 1]))
    assert load(f"dir:{tmp_path}", "train").class_counts().tolist() == [2, 2]
    with pytest.raises(DataError, match="no test part") as err:
        load(f"dir:{tmp_path}", "test")
    assert str(tmp_path) in str(err.value)


def test_one_colour_image_makes_the_set_rgb(tmp_path):
    x = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    write_images(tmp_path / "train", x, np.array([0, 1]))
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 0] = 200
    (tmp_path / "train" / CLASSES[2]).mkdir()
    Image.fromarray(colour).save(tmp_path / "train" / CLASSES[2] / "red.png")
    train = load(f"dir:{tmp_path}", "train")
    assert train.input_shape == (3, 4, 4)
    assert np.array_equal(train.x[0].numpy(), np.stack([x[0]] * 3))  # gray -> equal channels
    assert train.x[2, :, 0, 0].tolist() == [200, 0, 0]


def test_other_sizes_are_resized_to_the_most_common_with_a_warning(tmp_path):
    x = np.zeros((3, 6, 6), np.uint8)
    write_images(tmp_path / "train", x, np.array([0, 1, 1]))
    Image.fromarray(np.zeros((12, 10), np.uint8)).save(tmp_path / "train" / CLASSES[0] / "b.png")
    with pytest.warns(DataWarning, match="1 of 4 images resized to 6x6"):
        train = load(f"dir:{tmp_path}", "train")
    assert train.input_shape == (1, 6, 6)


def test_non_images_and_hidden_files_are_skipped(tmp_path):
    write_images(tmp_path / "train", np.zeros((2, 4, 4), np.uint8), np.array([0, 1]))
    (tmp_path / "train" / CLASSES[0] / "notes.txt").write_text("not an image")
    (tmp_path / "train" / CLASSES[0] / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "train" / ".cache").mkdir()  # a hidden folder is not a class
    train = load(f"dir:{tmp_path}", "train")
    assert (len(train), train.n_classes) == (2, 2)


def test_jpeg_and_other_suffixes_load(tmp_path):
    x = np.full((2, 8, 8), 128, np.uint8)
    write_images(tmp_path / "train", x[:1], np.array([0]), suffix=".JPG")
    write_images(tmp_path / "train", x[1:], np.array([1]), suffix=".bmp")
    train = load(f"dir:{tmp_path}", "train")
    assert len(train) == 2 and abs(int(train.x[0].float().mean()) - 128) <= 2  # lossy JPEG
    assert ".jpg" in IMAGE_SUFFIXES and ".bmp" in IMAGE_SUFFIXES


@pytest.mark.parametrize(
    "make, part, match",
    [
        (lambda r: None, "train", "not a folder"),
        (lambda r: (r / "train").mkdir(parents=True), "train", "no class folders"),
        (lambda r: (r / "train" / "a").mkdir(parents=True), "train", "at least 2 classes"),
        (lambda r: [(r / "train" / c).mkdir(parents=True) for c in "ab"], "train", "no images"),
    ],
    ids=["missing", "no-classes", "one-class", "empty-class"],
)
def test_bad_layouts_are_refused(tmp_path, make, part, match):
    root = tmp_path / "set"
    make(root)
    with pytest.raises(DataError, match=match):
        load(f"dir:{root}", part)


def test_a_test_class_the_training_part_lacks_is_refused(gray_set):
    root, _ = gray_set
    write_images(root / "test", np.zeros((1, 9, 7), np.uint8), [0], classes=("zz-unseen",))
    with pytest.raises(DataError, match="zz-unseen.*no training folder"):
        load(f"dir:{root}", "test")


def test_a_corrupt_image_names_its_file(gray_set):
    root, _ = gray_set
    bad = root / "train" / CLASSES[1] / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match="cannot read as an image") as err:
        load(f"dir:{root}", "train")
    assert str(bad) in str(err.value)


def test_an_added_image_is_seen_by_the_next_load(gray_set):
    root, _ = gray_set
    assert len(load(f"dir:{root}", "train")) == 12
    folder = root / "train" / CLASSES[0]
    Image.fromarray(np.zeros((9, 7), np.uint8)).save(folder / "new.png")
    later = folder.stat().st_mtime_ns + 10**9  # coarse file-system clocks: move it on
    os.utime(folder, ns=(later, later))
    assert len(load(f"dir:{root}", "train")) == 13


def test_a_command_trains_on_a_folder_set(gray_set, tmp_path):
    from autocnn.cli import main

    root, _ = gray_set
    out = tmp_path / "run"
    args = ["train", "--dataset", f"dir:{root}", "--epochs", "1", "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert json.loads((out / "metrics.json").read_text())["dataset"] == f"dir:{root}"
