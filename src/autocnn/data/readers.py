"""Readers for image arrays in files: .npz (official ``arr_0`` or ``x_train``...) and MNIST IDX.

Files from users are data, never code: ``np.load(..., allow_pickle=False)``. Every problem a
file can have (missing, not a zip, truncated, wrong dtype or shape, bad labels) becomes one
:class:`DataError` that names the file and says what to do.
"""

from __future__ import annotations

import gzip
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from autocnn.data.imageset import ImageSet
from autocnn.errors import DataError, DataWarning

# IDX type codes -> numpy big-endian dtypes (http://yann.lecun.com/exdb/mnist/).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def read_npz(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Read arrays ``keys`` (all when ``None``) from an .npz file, without unpickling anything.

    Example::

        >>> read_npz(Path("kmnist-test-labels.npz"))["arr_0"].shape
        (10000,)
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found. Check the path, or pass --data-dir DIR.")
    try:
        archive = np.load(path, allow_pickle=False)
        if isinstance(archive, np.ndarray):
            raise DataError(f"{path}: an .npy file, expected an .npz archive (np.savez).")
        with archive as npz:
            available = list(npz.files)
            missing = [k for k in keys or () if k not in available]
            if missing:
                raise DataError(
                    f"{path}: no array named {', '.join(missing)} (it holds: "
                    f"{', '.join(available) or 'nothing'}). Save it with np.savez(path, "
                    f"{', '.join(f'{k}=...' for k in keys or ())})."
                )
            return {k: npz[k] for k in (keys or available)}
    except DataError:
        raise
    except _READ_ERRORS as exc:
        raise DataError(
            f"{path}: cannot read as .npz ({type(exc).__name__}: {exc}). The file is truncated, "
            "corrupt or not a numpy archive; delete it and download or write it again."
        ) from exc


def read_idx(path: Path) -> np.ndarray:
    """Read one MNIST-format IDX file (optionally gzipped, by its ``.gz`` suffix).

    Example::

        >>> read_idx(Path("t10k-labels-idx1-ubyte.gz")).shape
        (10000,)
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found.")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path}: cannot read ({exc}); the gzip file is truncated or corrupt."
        ) from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'}); expected "
            "MNIST-format files such as train-images-idx3-ubyte[.gz]."
        )
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header.")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: IDX header says shape {shape} ({expected} bytes) but the file holds "
            f"{len(raw) - header} bytes; it is truncated or corrupt."
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def as_images(x: np.ndarray, where: str) -> torch.Tensor:
    """Check an image array and return it as a contiguous uint8 tensor (N, C, H, W).

    (N, H, W) gets a channel axis; (N, H, W, C) with C in 1/3 becomes channels-first;
    (N, C, H, W) with C in 1/3 is kept.
    """
    if x.dtype != np.uint8:
        raise DataError(
            f"{where}: images must be uint8 (0..255), got {x.dtype}. Convert them, e.g. "
            "(x * 255).round().astype(np.uint8) for floats in [0, 1]."
        )
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    elif not (x.ndim == 4 and x.shape[1] in (1, 3)):
        raise DataError(
            f"{where}: images must have shape (N, H, W) or (N, H, W, C) with C = 1 or 3, got "
            f"{x.shape}."
        )
    if x.shape[0] == 0:
        raise DataError(f"{where}: holds no images.")
    return torch.from_numpy(np.ascontiguousarray(x))


def as_labels(
    y: np.ndarray, n_images: int, where: str, n_classes: int | None = None
) -> torch.Tensor:
    """Check a label array (1-D integers in ``[0, n_classes)``) and return it as int64."""
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{where}: labels must be a 1-D integer array, got {y.dtype} of shape {y.shape}."
        )
    if len(y) != n_images:
        raise DataError(
            f"{where}: {len(y)} labels for {n_images} images; they must match one to one."
        )
    if len(y) and int(y.min()) < 0:
        raise DataError(f"{where}: negative label {int(y.min())}; labels must be 0..n_classes-1.")
    if n_classes is not None and len(y) and int(y.max()) >= n_classes:
        raise DataError(
            f"{where}: label {int(y.max())} is out of range for {n_classes} classes "
            f"(0..{n_classes - 1}); the file does not belong to this dataset."
        )
    return torch.from_numpy(y.astype(np.int64))


def to_imageset(
    x: np.ndarray, y: np.ndarray, where: str, n_classes: int | None = None, name: str = ""
) -> ImageSet:
    """Validate raw arrays and build an :class:`ImageSet` (``n_classes`` = max label + 1 if unset).

    Example::

        >>> to_imageset(np.zeros((2, 8, 8), np.uint8), np.array([0, 2]), "mine.npz").n_classes
        3
    """
    images = as_images(x, where)
    labels = as_labels(y, len(images), where, n_classes)
    if n_classes is None:
        n_classes = int(labels.max()) + 1
    return ImageSet(images, labels, n_classes, name)


def image_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The (C, H, W) that :func:`as_images` makes of an array of ``shape`` (``shape[1:]`` when it
    would refuse it: that array's own load reports it)."""
    if len(shape) == 3:
        return (1, *shape[1:])
    if len(shape) == 4 and shape[3] in (1, 3):
        return (shape[3], shape[1], shape[2])
    return tuple(shape[1:])


def npz_shape(path: Path, key: str) -> tuple[int, ...]:
    """Shape of array ``key`` in an .npz file, read from its header only (no image data)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
            version = np.lib.format.read_magic(member)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            return tuple(read(member)[0])
    except _READ_ERRORS as exc:
        raise DataError(
            f"{path}: cannot read as .npz ({type(exc).__name__}: {exc}). The file is truncated, "
            "corrupt or not a numpy archive; delete it and download or write it again."
        ) from exc


def idx_shape(path: Path) -> tuple[int, ...]:
    """Shape of an IDX file's array, read from its header only."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            head = f.read(4)
            ndim = head[3] if len(head) == 4 else 0
            dims = f.read(4 * ndim)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({exc}); the file is truncated or corrupt.") from exc
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {head.hex() or 'empty'}).")
    if len(dims) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX header.")
    return tuple(int(d) for d in np.frombuffer(dims, ">u4"))


def check_same_image_shape(shapes: dict[str, tuple[tuple[int, ...], str]], name: str) -> None:
    """DataError when the parts' images differ in size: a model trained on one cannot read the
    other, and that would only show after training. ``shapes``: part -> (raw shape, where)."""
    found = {part: image_shape(shape) for part, (shape, _) in shapes.items()}
    if len(set(found.values())) > 1:
        described = "; ".join(
            f"{part} images {'x'.join(map(str, found[part]))} (C x H x W) in {where}"
            for part, (_, where) in shapes.items()
        )
        raise DataError(
            f"{name}: the parts' images differ in size: {described}. A model trained on one "
            "part cannot read the other; resize or crop them to one size."
        )


def class_count(train: np.ndarray, where: str) -> int | None:
    """Classes of a user's dataset from its training labels: ``0..max``, checked (None for a
    malformed array, which :func:`as_labels` reports).

    Fewer than 2 classes is an error (nothing to learn; every metric would be perfect). Labels
    that leave most of ``0..max`` empty are an error too (a stray label such as 255 among 0..9
    would make a 256-class net); a few empty classes only warn, saying what is assumed.
    """
    if train.ndim != 1 or not np.issubdtype(train.dtype, np.integer) or not len(train):
        return None
    values, counts = np.unique(train, return_counts=True)
    if values[0] < 0:
        return None
    if len(values) < 2:
        raise DataError(
            f"{where}: every training label is {int(values[0])}; a classifier needs at least "
            "2 classes (labels 0..n_classes-1)."
        )
    n_classes = int(values[-1]) + 1
    missing = n_classes - len(values)
    if missing > len(values):
        rare = ", ".join(
            f"{int(v)} ({int(c)} image{'s' * bool(c > 1)})"
            for v, c in sorted(zip(values, counts, strict=True), key=lambda vc: vc[1])[:3]
        )
        raise DataError(
            f"{where}: the labels use {len(values)} values but span 0..{n_classes - 1}, so "
            f"{missing} classes would have no image (rarest labels: {rare}). Labels must be "
            "0..n_classes-1: fix or drop the stray labels, or renumber the classes."
        )
    if missing:
        empty = sorted(set(range(n_classes)) - {int(v) for v in values})
        shown = ", ".join(map(str, empty[:10])) + (", ..." if len(empty) > 10 else "")
        warnings.warn(
            f"{where}: no training image has label {shown}; assuming {n_classes} classes "
            f"0..{n_classes - 1} (the empty ones are never predicted). Renumber the labels "
            "if these classes do not exist.",
            DataWarning,
            stacklevel=3,
        )
    return n_classes


def check_test_labels(test: np.ndarray, n_classes: int, where: str, train_where: str) -> None:
    """DataError for test labels outside the training classes: no model can predict them."""
    if test.ndim != 1 or not np.issubdtype(test.dtype, np.integer) or not len(test):
        return  # malformed: the test part's own load reports it with its file name
    outside = np.unique(test[(test < 0) | (test >= n_classes)])
    if len(outside):
        shown = ", ".join(map(str, outside[:10].tolist())) + (", ..." if len(outside) > 10 else "")
        raise DataError(
            f"{where}: test label {shown} is not among the training classes 0..{n_classes - 1} "
            f"(from {train_where}); a model cannot predict a class it never saw. Fix the test "
            "labels or add training images of that class."
        )
