"""Synthetic image sets for tests and demos, in memory or written in the official file formats.

Images are *learnable* but not trivial: each class has a fixed pattern of random strokes, and
each image is that pattern shifted by up to two pixels, dimmed, and covered in noise. A small
CNN gets well above chance within an epoch, which is what end-to-end tests of the trainer and
the optimizer need, at a cost of milliseconds. Class sizes can be long-tailed like K49.

:func:`write_like` writes a scaled-down stand-in of a real release under its official npz file
names (``autocnn make-synthetic --like k49 --scale 0.01 --out DIR``; load it with ``npz:DIR``).
:data:`LIKE` holds each release's shape. K49's: 49 classes, 232,365 training and 38,547 test
images (the official release's totals, as :mod:`autocnn.data.registry` lists them), at most
6,000 training images per class (the release's cap, as KMNIST's 6k/1k per class) and about 400
in its smallest class. Its per-class counts are not in this repository, so the shape is fitted
to those numbers: the 34 largest classes at the cap, the other 15 falling geometrically to 1/15
of it (6,002 down to 400 at full scale, summing to the official total; the test part the same
shape, 996 down to 66). The real rare classes are not the last 15 indices; here they are.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from autocnn.data.imageset import ImageSet
from autocnn.errors import DataError

_SHIFT = 2  # pixels of random translation
_NOISE = 0.25  # std of Gaussian noise, images in [0, 1]
_IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def class_sizes(n: int, n_classes: int, imbalance: float = 1.0, head: int = 1) -> np.ndarray:
    """Sizes of ``n_classes`` classes summing to ``n``; the largest/smallest is about ``imbalance``.

    The first ``head`` classes share the largest size; from there sizes fall geometrically to
    the last class (a long tail, like K49). ``head=1``: the fall starts at class 0.

    Example::

        >>> class_sizes(100, 4, imbalance=1.0).tolist()
        [25, 25, 25, 25]
        >>> class_sizes(100, 4, imbalance=4.0, head=2).tolist()
        [36, 36, 18, 10]
    """
    if n < n_classes:
        raise DataError(f"need at least one image per class: n={n} < n_classes={n_classes}.")
    if imbalance < 1.0:
        raise DataError(f"imbalance is largest/smallest class size, >= 1; got {imbalance}.")
    if not 1 <= head <= n_classes:
        raise DataError(f"head must be between 1 and n_classes={n_classes}; got {head}.")
    tail = n_classes - head
    steps = np.concatenate([np.zeros(head), np.arange(1, tail + 1) / max(tail, 1)])
    weights = imbalance ** (-steps)
    spare = n - n_classes  # one image per class first, the rest by largest remainder
    share = spare * weights / weights.sum()
    sizes = np.floor(share).astype(np.int64)
    sizes[np.argsort(-(share - sizes), kind="stable")[: spare - int(sizes.sum())]] += 1
    return sizes + 1


def _prototypes(rng: np.random.Generator, n_classes: int, size: int, channels: int) -> np.ndarray:
    """One (channels, size, size) stroke pattern in [0, 1] per class."""
    protos = np.zeros((n_classes, size, size), np.float32)
    t = np.linspace(0.0, 1.0, 4 * size)
    margin = _SHIFT + 2
    for c in range(n_classes):
        for _ in range(3):  # three strokes per class
            start, end = rng.uniform(margin, size - 1 - margin, size=(2, 2))
            points = start[None] + t[:, None] * (end - start)[None]
            for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):  # two pixels thick
                rows = np.clip(points[:, 0].astype(int) + dy, 0, size - 1)
                cols = np.clip(points[:, 1].astype(int) + dx, 0, size - 1)
                protos[c, rows, cols] = 1.0
    colours = rng.uniform(0.3, 1.0, size=(n_classes, channels, 1, 1)) if channels > 1 else 1.0
    return protos[:, None] * np.asarray(colours, np.float32)


def _render(rng: np.random.Generator, protos: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """uint8 images (N, C, H, W): each its class pattern, shifted, dimmed and noisy."""
    n = len(labels)
    _, channels, size, _ = protos.shape
    padded = np.pad(protos, ((0, 0), (0, 0), (_SHIFT, _SHIFT), (_SHIFT, _SHIFT)))
    oy, ox = rng.integers(0, 2 * _SHIFT + 1, size=(2, n))
    rows = (oy[:, None] + np.arange(size))[:, None, :, None]
    cols = (ox[:, None] + np.arange(size))[:, None, None, :]
    chan = np.arange(channels)[None, :, None, None]
    images = padded[labels[:, None, None, None], chan, rows, cols]
    images = images * rng.uniform(0.5, 1.0, size=(n, 1, 1, 1)).astype(np.float32)
    images += rng.normal(0.0, _NOISE, size=images.shape).astype(np.float32)
    return (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)


def synthetic_parts(
    n_train: int,
    n_test: int,
    n_classes: int = 10,
    imbalance: float = 1.0,
    seed: int = 0,
    image_size: int = 28,
    channels: int = 1,
    head: int = 1,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Raw arrays ``{"train": (x, y), "test": (x, y)}``; x uint8 (N, C, H, W), y uint8/int64.

    Both parts share the class patterns and class proportions (:func:`class_sizes` with
    ``imbalance`` and ``head``); images are in random order.
    Each part has its own random stream, so a part does not depend on the other's size.
    """
    if image_size < 2 * _SHIFT + 6 or channels not in (1, 3):
        raise DataError(f"need image_size >= {2 * _SHIFT + 6} and channels 1 or 3.")
    protos = _prototypes(np.random.default_rng([seed, 0]), n_classes, image_size, channels)
    parts = {}
    for stream, (part, n) in enumerate((("train", n_train), ("test", n_test)), start=1):
        rng = np.random.default_rng([seed, stream])
        labels = np.repeat(np.arange(n_classes), class_sizes(n, n_classes, imbalance, head))
        labels = labels[rng.permutation(n)]
        label_dtype = np.uint8 if n_classes <= 256 else np.int64
        parts[part] = (_render(rng, protos, labels), labels.astype(label_dtype))
    return parts


def synthetic_imageset(
    n: int,
    n_classes: int = 10,
    imbalance: float = 1.0,
    seed: int = 0,
    image_size: int = 28,
    channels: int = 1,
    part: str = "train",
) -> ImageSet:
    """An in-memory synthetic :class:`ImageSet`; parts "train" and "test" share class patterns.

    Example::

        >>> train = synthetic_imageset(200, n_classes=4, seed=0)
        >>> test = synthetic_imageset(40, n_classes=4, seed=0, part="test")
        >>> train.input_shape, train.class_counts().tolist()
        ((1, 28, 28), [50, 50, 50, 50])
    """
    if part not in ("train", "test"):
        raise DataError(f"unknown part {part!r}; use 'train' or 'test'.")
    # The unused part is given n_classes images: the cheapest valid size.
    sizes = (n, n_classes) if part == "train" else (n_classes, n)
    x, y = synthetic_parts(*sizes, n_classes, imbalance, seed, image_size, channels)[part]
    labels = torch.from_numpy(y.astype(np.int64))
    return ImageSet(torch.from_numpy(x), labels, n_classes, f"synthetic:{part}")


def _save_npz(path: Path, array: np.ndarray) -> None:
    # Written beside the target and renamed, so a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, array)  # positional -> stored as "arr_0", as the official files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_synthetic(
    directory: str | os.PathLike,
    prefix: str = "k49",
    n_classes: int = 49,
    n_train: int = 4900,
    n_test: int = 980,
    imbalance: float = 10.0,
    seed: int = 0,
    image_size: int = 28,
    channels: int = 1,
    head: int = 1,
) -> dict[str, Path]:
    """Write ``<prefix>-{train,test}-{imgs,labels}.npz`` (``arr_0``) like the official release.

    The defaults give a K49-shaped, long-tailed 49-class set; load it with ``npz:DIRECTORY``.
    Images are (N, H, W) for one channel and (N, H, W, C) for three.

    Example::

        >>> paths = write_synthetic(tmp_path, prefix="k49")
        >>> load(f"npz:{tmp_path}", "train").n_classes
        49
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    parts = synthetic_parts(n_train, n_test, n_classes, imbalance, seed, image_size, channels, head)
    written = {}
    for part, (x, y) in parts.items():
        x = x[:, 0] if channels == 1 else x.transpose(0, 2, 3, 1)
        for kind, array in (("imgs", np.ascontiguousarray(x)), ("labels", y)):
            path = folder / f"{prefix}-{part}-{kind}.npz"
            _save_npz(path, array)
            written[f"{part}-{kind}"] = path
    return written


@dataclass(frozen=True)
class Like:
    """The shape of a real release: file prefix, classes, full-scale part sizes, class sizes."""

    prefix: str
    n_classes: int
    n_train: int
    n_test: int
    imbalance: float = 1.0  # largest / smallest class
    head: int = 1  # classes at the largest size (see class_sizes)


# See the module docstring for where K49's shape comes from.
LIKE = {
    "k49": Like("k49", 49, 232_365, 38_547, imbalance=15.0, head=34),
    "kmnist": Like("kmnist", 10, 60_000, 10_000),
}


def write_like(
    directory: str | os.PathLike,
    like: str = "k49",
    scale: float = 0.01,
    seed: int = 0,
    image_size: int = 28,
) -> dict[str, Path]:
    """A ``scale``-sized synthetic stand-in of release ``like`` in its official npz file names.

    Both parts keep the release's class shape (:data:`LIKE`); every class keeps at least one
    image per part. Read it with ``npz:DIRECTORY`` (the official names, but not the official
    files: the named ``k49`` loader checks md5s and refuses them).

    Example::

        >>> paths = write_like(tmp_path, "k49", scale=0.01)
        >>> load(f"npz:{tmp_path}", "train").class_counts().tolist()[::12]
        [60, 60, 60, 35, 5]
    """
    if like not in LIKE:
        raise DataError(f"unknown release {like!r}; choose one of {', '.join(LIKE)}.")
    if not (isinstance(scale, (int, float)) and 0.0 < scale <= 1.0):
        raise DataError(f"scale must be in (0, 1], got {scale}.")
    shape = LIKE[like]
    sizes = (max(round(n * scale), shape.n_classes) for n in (shape.n_train, shape.n_test))
    n_train, n_test = sizes
    return write_synthetic(
        directory, shape.prefix, shape.n_classes, n_train, n_test, shape.imbalance, seed,
        image_size, head=shape.head,
    )  # fmt: skip


def write_tiny_kmnist(directory: str | os.PathLike, seed: int = 0) -> dict[str, Path]:
    """A tiny balanced 10-class KMNIST-shaped set (1,000 train / 200 test) as ``kmnist-*.npz``."""
    return write_synthetic(directory, "kmnist", 10, 1000, 200, imbalance=1.0, seed=seed)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an MNIST-format IDX file (gzipped when ``path`` ends in ``.gz``).

    Example::

        >>> write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(10, dtype=np.uint8))
    """
    path = Path(path)
    array = np.asarray(array)
    if array.dtype not in _IDX_CODES:
        raise DataError(
            f"IDX cannot hold {array.dtype}; use one of {sorted(map(str, _IDX_CODES))}."
        )
    header = bytes([0, 0, _IDX_CODES[array.dtype], array.ndim])
    header += np.asarray(array.shape, ">u4").tobytes()
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + body)
    return path
