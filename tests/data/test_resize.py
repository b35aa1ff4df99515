"""``resize:SIDE:NAME``: both parts scaled the same way, labels and classes kept, names checked."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PIL import Image

from autocnn import data
from autocnn.data.folders import image_files
from autocnn.data.resize import resize_images, scaled_shape
from autocnn.errors import DataError


@pytest.fixture
def wide_rgb(tmp_path):
    """An npz set of 3-channel 24 x 48 images (height x width), 3 classes."""
    data.write_synthetic(tmp_path, "kmnist", n_classes=3, n_train=30, n_test=12, imbalance=1.0,
                         image_size=48, channels=3)  # fmt: skip
    x = np.load(tmp_path / "kmnist-train-imgs.npz")["arr_0"][:, :24]  # crop to 24 x 48
    np.savez(tmp_path / "kmnist-train-imgs.npz", arr_0=x)
    t = np.load(tmp_path / "kmnist-test-imgs.npz")["arr_0"][:, :24]
    np.savez(tmp_path / "kmnist-test-imgs.npz", arr_0=t)
    return f"npz:{tmp_path}"


def test_both_parts_are_scaled_to_the_side_with_their_aspect_ratio_and_labels(wide_rgb):
    name = f"resize:16:{wide_rgb}"
    for part in ("train", "test"):
        own, scaled = data.load(wide_rgb, part), data.load(name, part)
        assert own.input_shape == (3, 24, 48) and scaled.input_shape == (3, 8, 16)
        assert scaled.y.tolist() == own.y.tolist() and scaled.n_classes == own.n_classes
        assert scaled.name == f"{name}:{part}"
        # Pillow's bilinear filter on each image, as predict scales a folder's images
        first = own.x[0].numpy().transpose(1, 2, 0)
        expected = np.asarray(Image.fromarray(first).resize((16, 8), Image.Resampling.BILINEAR))
        assert np.array_equal(scaled.x[0].numpy().transpose(1, 2, 0), expected)
    assert data.load(name, "train") is data.load(name, "train")  # cached per process
    assert data.has_test_part(name)


def test_shrinking_averages_and_growing_keeps_a_flat_image_flat():
    stripes = np.zeros((1, 1, 8, 8), np.uint8)
    stripes[..., ::2] = 200  # columns 200, 0, 200, 0, ...: their mean is 100
    half = resize_images(stripes, (4, 4))
    assert half.shape == (1, 1, 4, 4) and np.all(np.abs(half[..., 1:3].astype(int) - 100) <= 1)
    assert half.min() > 50 and half.max() < 150  # averaged up to the edges, never 0 or 200
    flat = np.full((2, 1, 5, 5), 77, np.uint8)
    assert np.all(resize_images(flat, (20, 20)) == 77)
    assert resize_images(flat, (5, 5)) is flat  # already that size: no copy


def test_a_set_of_28_pixel_images_can_be_built_at_another_resolution(tmp_path):
    """How benchmarks build a larger-image set from kmnist10k's files: resize:96:kmnist10k."""
    data.write_synthetic(tmp_path, "kmnist", n_classes=2, n_train=8, n_test=4, imbalance=1.0)
    big = data.load(f"resize:96:npz:{tmp_path}", "train")
    assert big.input_shape == (1, 96, 96) and big.x.dtype.is_floating_point is False
    again = data.load(f"resize:48:resize:96:npz:{tmp_path}", "train")  # scaled twice
    assert again.input_shape == (1, 48, 48)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("resize:abc:kmnist10k", "SIDE a number"),
        ("resize:32", "SIDE a number"),
        ("resize:2:kmnist10k", "4-1024"),
        ("resize:99999:kmnist10k", "4-1024"),
    ],
)
def test_a_bad_resize_name_says_how_to_write_it(name, match):
    with pytest.raises(DataError, match=match):
        data.load(name, "train")


def test_scaled_shape_keeps_the_aspect_ratio():
    assert scaled_shape((375, 500), 64) == (48, 64)
    assert scaled_shape((500, 375), 64) == (64, 48)
    assert scaled_shape((1, 300), 32) == (1, 32)  # never a zero side


def test_a_folder_set_is_decoded_straight_to_the_size_with_the_pixels_of_scaling_it_after(
    tmp_path,
):
    """``resize:SIDE:dir:`` never holds the full-size images (each image decoded and scaled at
    once), yet gives the pixels of scaling the loaded set; through ``holdout:`` too."""
    rng = np.random.default_rng(0)
    for i in range(12):  # 200 x 300 RGB photos (2.2 MB together), 3 classes; one 250 x 250
        folder = tmp_path / "photos" / f"class-{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        shape = (250, 250, 3) if i == 11 else (200, 300, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{i}.png")
    root = tmp_path / "photos"
    with pytest.warns(UserWarning, match="1 of 12 images resized to 300x200"):
        full = data.load(f"dir:{root}", "train")
    data.clear_cache()
    tracemalloc.start()  # numpy's arrays are traced: the peak shows what was held at once
    try:
        with pytest.warns(UserWarning, match="1 of 12 images not 300x200 .*scaled to 15x10"):
            scaled = data.load(f"resize:15:dir:{root}", "train")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < full.x.numel() / 4  # the full-size set was never in memory
    assert scaled.input_shape == (3, 10, 15) and scaled.y.tolist() == full.y.tolist()
    files = [f for c in sorted(root.iterdir()) for f in image_files(c)]  # the load's order
    same_size = [i for i, f in enumerate(files) if f.name != "11.png"]
    expected = resize_images(full.x.numpy()[same_size], (10, 15))
    assert np.array_equal(scaled.x.numpy()[same_size], expected)
    # holdout: splits on labels only, so scaling first gives the same split, and reuses the set
    held = data.load(f"resize:15:holdout:dir:{root}", "test")
    assert held.name == f"resize:15:holdout:dir:{root}:test" and held.input_shape == (3, 10, 15)
    with pytest.warns(UserWarning):
        assert held.y.tolist() == data.load(f"holdout:dir:{root}", "test").y.tolist()
