"""``resize:SIDE:NAME``: a dataset's images scaled so that their longer side is ``SIDE`` pixels.

A convolution's cost grows with the pixels it sees: on this 2-core CPU the extended space's
default trains ~1,500 images/s on 28 x 28 and about a twelfth of that on 96 x 96, so a user's
photos at full size can leave a time budget too few epochs to train anything well. ``fit``
therefore chooses an input size from measurement (:mod:`autocnn.fit.resolution`) and trains on
``resize:SIDE:NAME``; every other command takes the name too (``autocnn optimize --dataset
resize:32:dir:PHOTOS``), and a larger ``SIDE`` than the images have scales them up (how the
benchmarks build a 96-pixel set from kmnist10k: ``resize:96:kmnist10k``).

Both parts are scaled the same way, the aspect ratio kept (the shorter side rounded, at least 1
pixel), with Pillow's bilinear filter, which averages over the footprint of each output pixel
when it shrinks (no aliasing): the filter ``dir:`` folders and ``autocnn predict`` use for images
of another size, so a model trained on a resized set sees the same pixels at prediction time.
torchvision's ``Resize`` would do the same but needs torchvision (its wheels are tied to one
torch build); per image with Pillow, 10,000 images of 96 x 96 take about a second.

Example:
    >>> import numpy as np
    >>> images = np.zeros((2, 1, 96, 64), np.uint8)
    >>> scaled_shape((96, 64), 48), resize_images(images, (48, 32)).shape
    ((48, 32), (2, 1, 48, 32))
    >>> parse_resize_name("resize:32:holdout:dir:photos")
    (32, 'holdout:dir:photos')
"""

from __future__ import annotations

import numpy as np

from autocnn.errors import DataError

RESIZE_PREFIX = "resize:"
MAX_SIDE = 1024  # a CPU cannot train on more; a typo (32000) is caught here


def parse_resize_name(name: str) -> tuple[int, str]:
    """(side, the base dataset's name) of ``resize:SIDE:NAME``; a DataError that says how to
    write it otherwise."""
    side_text, _, base = name[len(RESIZE_PREFIX) :].partition(":")
    example = "e.g. resize:32:kmnist10k or resize:64:dir:PHOTOS"
    if not side_text.isdigit() or not base:
        raise DataError(f"{name}: write resize:SIDE:NAME with SIDE a number of pixels ({example})")
    side = int(side_text)
    if not 4 <= side <= MAX_SIDE:
        raise DataError(f"{name}: SIDE must be 4-{MAX_SIDE} pixels, got {side} ({example})")
    return side, base


def scaled_shape(hw: tuple[int, int], side: int) -> tuple[int, int]:
    """(height, width) with the longer side ``side`` and the aspect ratio of ``hw``.

    >>> scaled_shape((28, 28), 96), scaled_shape((375, 500), 64)
    ((96, 96), (48, 64))
    """
    h, w = hw
    scale = side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_images(x: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """uint8 (N, C, H, W) images, C 1 or 3, scaled to ``hw`` = (height, width) with Pillow's
    bilinear filter (see the module docstring); the same array when the size is already ``hw``."""
    from PIL import Image

    n, channels, h, w = x.shape
    if (h, w) == tuple(hw):
        return x
    if channels not in (1, 3):
        raise DataError(f"images with {channels} channels cannot be resized; use 1 or 3")
    out = np.empty((n, hw[0], hw[1], channels), np.uint8)
    pixels = x.transpose(0, 2, 3, 1)  # (N, H, W, C): Pillow's layout
    for i in range(n):
        image = Image.fromarray(pixels[i, :, :, 0] if channels == 1 else pixels[i])
        scaled = image.resize((hw[1], hw[0]), Image.Resampling.BILINEAR)
        out[i] = np.asarray(scaled, np.uint8).reshape(hw[0], hw[1], channels)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))
