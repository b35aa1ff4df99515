"""``load``: one entry point from a dataset name to an in-memory :class:`ImageSet`.

Every worker process of a BOHB run calls ``load`` for each evaluation, so loaded sets are kept
in a small per-process cache keyed by the files' (resolved path, size, mtime): a repeated call
returns the same object at the cost of a few ``stat`` calls, and a rewritten file is re-read.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path

import numpy as np

from autocnn.data.derived import DERIVED, DerivedSpec
from autocnn.data.files import file_key
from autocnn.data.folders import class_folders, folder_key, load_folder_part, train_format
from autocnn.data.imageset import ImageSet
from autocnn.data.readers import (
    as_labels,
    check_same_image_shape,
    check_test_labels,
    class_count,
    idx_shape,
    npz_shape,
    read_idx,
    read_npz,
    to_imageset,
)
from autocnn.data.registry import (
    KMNIST10K_TRAIN_PER_CLASS,
    PARTS,
    ensure_file,
    get_spec,
)
from autocnn.data.resize import RESIZE_PREFIX, parse_resize_name, resize_images, scaled_shape
from autocnn.errors import DataError

_CACHE_SIZE = 8  # K49 train is ~180 MB; a handful of sets is plenty per worker
# ``holdout:NAME``: NAME's train part less a stratified share, which becomes its test part (for
# sets that come without one); a fixed seed, so every process cuts the same images.
HOLDOUT_PREFIX = "holdout:"
HOLDOUT_FRACTION = 0.15
HOLDOUT_SEED = 0
_cache: OrderedDict[Hashable, ImageSet] = OrderedDict()


def clear_cache() -> None:
    """Forget every set loaded in this process."""
    _cache.clear()


def _cached(key: Hashable, build: Callable[[], ImageSet]) -> ImageSet:
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    data = build()
    _cache[key] = data
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return data


def load(
    name: str, part: str = "train", data_dir: str | os.PathLike | None = None, download: bool = True
) -> ImageSet:
    """Load part ``"train"`` or ``"test"`` of a dataset into memory.

    ``name`` is a registered set (``"kmnist"``, ``"k49"``, ``"kmnist10k"``), one derived from
    it in memory (``"kmnist10k-source"``, ... see :mod:`autocnn.data.derived`), ``"npz:PATH"`` (an
    .npz with ``x_train, y_train, x_test, y_test`` or just ``x, y``; or a folder / folder/prefix
    of ``<prefix>-{train,test}-{imgs,labels}.npz`` holding ``arr_0``), ``"idx:DIR"`` (MNIST
    IDX files, optionally gzipped) or ``"dir:DIR"`` (image files in one folder per class, see
    :mod:`autocnn.data.folders`). ``"holdout:NAME"`` is NAME with a stratified 15 % of its
    training images held out as its test part (for sets without one); ``"resize:SIDE:NAME"`` is
    NAME with its images scaled to a longer side of SIDE pixels (:mod:`autocnn.data.resize`).
    Official files are md5-checked and downloaded if missing.

    Example::

        >>> train = load("kmnist10k", "train", data_dir="../shared/data")
        >>> len(train), train.input_shape, train.n_classes
        (8000, (1, 28, 28), 10)
    """
    if part not in PARTS:
        raise DataError(f"unknown part {part!r} of dataset {name!r}; use 'train' or 'test'.")
    if name.startswith(RESIZE_PREFIX):
        return _load_resized(name, part, data_dir, download)
    if name.startswith(HOLDOUT_PREFIX):
        return _load_holdout(name, part, data_dir, download)
    if name.startswith("npz:"):
        return _load_npz(name, Path(name[4:]).expanduser(), part)
    if name.startswith("idx:"):
        return _load_idx(name, Path(name[4:]).expanduser(), part)
    if name.startswith("dir:"):
        root = Path(name[4:]).expanduser()
        class_folders(root, part)  # a missing part is an error before any cache lookup
        key = ("dir", part, str(root.resolve()), folder_key(root))
        return _cached(key, lambda: load_folder_part(name, root, part))
    if name in DERIVED:
        return _load_derived(DERIVED[name], part, data_dir, download)
    spec = get_spec(name)
    paths = [ensure_file(f, data_dir, download) for f in spec.parts[part]]
    key = (name, part, *(file_key(p) for p in paths))

    def build() -> ImageSet:
        images_path, labels_path = paths
        x = read_npz(images_path, ("arr_0",))["arr_0"]
        y = read_npz(labels_path, ("arr_0",))["arr_0"]
        where = f"{images_path} / {labels_path.name}"
        if name == "kmnist10k":
            y_checked = as_labels(y, len(x), where, spec.n_classes).numpy()
            index = kmnist10k_index(y_checked, part)
            x, y = x[index], y[index]
        return to_imageset(x, y, where, spec.n_classes, f"{name}:{part}")

    return _cached(key, build)


def _load_holdout(
    name: str, part: str, data_dir: str | os.PathLike | None, download: bool
) -> ImageSet:
    """``holdout:NAME``'s part: NAME's train part cut by :func:`train_val_split` (stratified,
    groups of copies kept together), the held-out share as the test part."""
    from autocnn.data.splits import train_val_split  # splits imports the ImageSet only

    base = name[len(HOLDOUT_PREFIX) :]
    if not base or base.startswith(HOLDOUT_PREFIX):
        raise DataError(f"{name}: holdout: takes one dataset name, e.g. holdout:dir:PHOTOS")
    whole = load(base, "train", data_dir, download)
    key = ("holdout", name, part, id(whole), len(whole))

    def build() -> ImageSet:
        train, test = train_val_split(whole, HOLDOUT_FRACTION, seed=HOLDOUT_SEED)
        return dataclasses.replace(train if part == "train" else test, name=f"{name}:{part}")

    return _cached(key, build)


def _load_resized(
    name: str, part: str, data_dir: str | os.PathLike | None, download: bool
) -> ImageSet:
    """``resize:SIDE:NAME``'s part: NAME's part with every image scaled (:mod:`.resize`)."""
    import torch

    side, base = parse_resize_name(name)
    if base.startswith("dir:"):  # decoded straight to the size: never the full-size images
        root = Path(base[4:]).expanduser()
        class_folders(root, part)
        key = ("resize-dir", side, part, str(root.resolve()), folder_key(root))
        return _cached(key, lambda: load_folder_part(name, root, part, side=side))
    inner_base = base[len(HOLDOUT_PREFIX) :]
    if base.startswith(HOLDOUT_PREFIX) and not inner_base.startswith(HOLDOUT_PREFIX):
        # the holdout split reads labels only: scale first, so a dir: set is decoded scaled
        inner = load(f"{HOLDOUT_PREFIX}{RESIZE_PREFIX}{side}:{inner_base}",
                     part, data_dir, download)  # fmt: skip
        return dataclasses.replace(inner, name=f"{name}:{part}")
    whole = load(base, part, data_dir, download)
    hw = scaled_shape(whole.input_shape[1:], side)
    key = ("resize", name, part, id(whole), len(whole))

    def build() -> ImageSet:
        x = torch.from_numpy(resize_images(whole.x.numpy(), hw))
        return dataclasses.replace(whole, x=x, name=f"{name}:{part}")

    return _cached(key, build)


def image_size_from_headers(name: str) -> tuple[int, int] | None:
    """(height, width) a ``dir:`` set's images load at (its most common training size, scaled
    for ``resize:``), read from file headers alone: what ``fit`` decides the input size on
    before it decodes a set of photos. None for other sets (their arrays are loaded anyway)."""
    if name.startswith(RESIZE_PREFIX):
        side, base = parse_resize_name(name)
        own = image_size_from_headers(base)
        return None if own is None else scaled_shape(own, side)
    if name.startswith(HOLDOUT_PREFIX):
        return image_size_from_headers(name[len(HOLDOUT_PREFIX) :])
    if not name.startswith("dir:"):
        return None
    root = Path(name[4:]).expanduser()
    _, classes = class_folders(root, "train")
    width, height = train_format(classes, root)[1]
    return height, width


def has_test_part(name: str) -> bool:
    """Whether dataset ``name`` has a test part, from its names and headers only (the test
    images are read by the final evaluation alone): False for an ``npz:`` file of ``x, y``,
    a ``dir:`` folder without ``test/``, and npz/IDX folders without test files."""
    if name.startswith(RESIZE_PREFIX):
        return has_test_part(parse_resize_name(name)[1])
    if name.startswith(HOLDOUT_PREFIX) or not name.startswith(("npz:", "idx:", "dir:")):
        return True  # official and derived sets have one; unknown names fail in load
    path = Path(name[4:]).expanduser()
    if name.startswith("dir:"):
        return (path / "train").is_dir() and (path / "test").is_dir()
    if name.startswith("idx:"):
        return _idx_file(path, "test", "images") is not None
    if path.is_file():
        try:
            with zipfile.ZipFile(path) as archive:  # an .npz: lists its arrays, reads none
                return "x_test.npy" in archive.namelist()
        except (OSError, zipfile.BadZipFile):
            return True  # unreadable: its own load says why
    try:
        folder, prefix = _npz_prefix(path)
    except DataError:
        return True
    return (folder / f"{prefix}-test-imgs.npz").is_file()


def _load_derived(
    spec: DerivedSpec, part: str, data_dir: str | os.PathLike | None, download: bool
) -> ImageSet:
    """A derived set's part, built from its base's part and cached under the base files' keys."""
    paths = [ensure_file(f, data_dir, download) for f in get_spec(spec.base).parts[part]]
    key = ("derived", spec.name, part, *(file_key(p) for p in paths))

    def build() -> ImageSet:
        return spec.build(spec.name, load(spec.base, part, data_dir, download), part)

    return _cached(key, build)


def kmnist10k_index(labels: np.ndarray, part: str) -> np.ndarray:
    """Indices (file order) of part ``part`` of kmnist10k in the official KMNIST test labels.

    Per class, its first 800 images in file order are "train" and the rest (200) "test".
    """
    chosen = []
    for c in range(int(labels.max()) + 1):
        of_class = np.flatnonzero(labels == c)
        head, tail = of_class[:KMNIST10K_TRAIN_PER_CLASS], of_class[KMNIST10K_TRAIN_PER_CLASS:]
        chosen.append(head if part == "train" else tail)
    return np.sort(np.concatenate(chosen))


def _load_npz(name: str, path: Path, part: str) -> ImageSet:
    if path.is_file():
        return _load_npz_file(name, path, part)
    folder, prefix = _npz_prefix(path)
    files = {
        p: (folder / f"{prefix}-{p}-imgs.npz", folder / f"{prefix}-{p}-labels.npz") for p in PARTS
    }
    images_path, labels_path = files[part]
    for f in files[part]:
        if not f.is_file():
            raise DataError(f"{f}: file not found; {name} has no {part} part (expected {f.name}).")
    present = {p: f for p, f in files.items() if f[0].is_file() and f[1].is_file()}
    key = (
        "npz",
        str(folder.resolve()),
        prefix,
        part,
        *(file_key(f) for pair in present.values() for f in pair),
    )

    def build() -> ImageSet:
        x = read_npz(images_path, ("arr_0",))["arr_0"]  # its own format errors first
        labels = {p: read_npz(lab, ("arr_0",))["arr_0"] for p, (_, lab) in present.items()}
        n_classes = _classes(labels, {p: str(lab) for p, (_, lab) in present.items()})
        shapes = {p: (npz_shape(img, "arr_0"), str(img)) for p, (img, _) in present.items()}
        check_same_image_shape(shapes, name)
        y = labels[part]
        return to_imageset(x, y, f"{images_path} / {labels_path.name}", n_classes, f"{name}:{part}")

    return _cached(key, build)


def _npz_prefix(path: Path) -> tuple[Path, str]:
    """(folder, prefix) for ``npz:DIR`` (the one prefix in DIR) or ``npz:DIR/PREFIX``."""
    if not path.is_dir():
        if any((path.parent / f"{path.name}-{p}-imgs.npz").is_file() for p in PARTS):
            return path.parent, path.name
        raise DataError(
            f"{path}: not found. npz:PATH takes an .npz file, a folder holding "
            "<prefix>-{train,test}-{imgs,labels}.npz, or FOLDER/PREFIX."
        )
    prefixes = sorted(
        {f.name.rsplit(f"-{p}-imgs.npz", 1)[0] for p in PARTS for f in path.glob(f"*-{p}-imgs.npz")}
    )
    if len(prefixes) == 1:
        return path, prefixes[0]
    if not prefixes:
        raise DataError(
            f"{path}: no <prefix>-train-imgs.npz or <prefix>-test-imgs.npz in this folder."
        )
    raise DataError(
        f"{path}: holds several datasets ({', '.join(prefixes)}); name one, e.g. "
        f"npz:{path / prefixes[0]}."
    )


def _load_npz_file(name: str, path: Path, part: str) -> ImageSet:
    key = ("npz-file", part, file_key(path))

    def build() -> ImageSet:
        arrays = read_npz(path)
        if {"x_train", "y_train"} <= arrays.keys():
            x_key, y_key = f"x_{part}", f"y_{part}"
            if x_key not in arrays or y_key not in arrays:
                raise DataError(
                    f"{path}: has x_train/y_train but no {x_key}/{y_key}; save all four arrays "
                    "(np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...))."
                )
            parts = [p for p in PARTS if f"x_{p}" in arrays and f"y_{p}" in arrays]
        elif {"x", "y"} <= arrays.keys():
            if part == "test":
                raise DataError(
                    f"{path}: holds only x, y (a train part) and no test part. Save x_train, "
                    "y_train, x_test, y_test to have one, or give the test set separately."
                )
            x_key, y_key, parts = "x", "y", []
        else:
            raise DataError(
                f"{path}: expected arrays x_train, y_train, x_test, y_test (or x, y); it holds "
                f"{', '.join(arrays) or 'nothing'}."
            )
        if parts:
            labels = {p: arrays[f"y_{p}"] for p in parts}
            n_classes = _classes(labels, {p: f"{path} [y_{p}]" for p in parts})
            shapes = {p: (arrays[f"x_{p}"].shape, f"{path} [x_{p}]") for p in parts}
            check_same_image_shape(shapes, name)
        else:
            n_classes = _classes({"train": arrays["y"]}, {"train": f"{path} [y]"})
        return to_imageset(
            arrays[x_key], arrays[y_key], f"{path} [{x_key}, {y_key}]", n_classes, f"{name}:{part}"
        )

    return _cached(key, build)


# IDX file names per part; MNIST mirrors use both "-idx3-" and ".idx3-".
_IDX_STEMS = {"train": ("train",), "test": ("t10k", "test")}


def _idx_file(folder: Path, part: str, kind: str) -> Path | None:
    rank = 3 if kind == "images" else 1
    for stem in _IDX_STEMS[part]:
        for sep in ("-", "."):
            for suffix in ("", ".gz"):
                candidate = folder / f"{stem}-{kind}{sep}idx{rank}-ubyte{suffix}"
                if candidate.is_file():
                    return candidate
    return None


def _load_idx(name: str, folder: Path, part: str) -> ImageSet:
    if not folder.is_dir():
        raise DataError(
            f"{folder}: not a folder; idx:DIR takes a folder of MNIST-format IDX files."
        )
    images_path = _idx_file(folder, part, "images")
    labels_path = _idx_file(folder, part, "labels")
    if images_path is None or labels_path is None:
        stem = _IDX_STEMS[part][0]
        raise DataError(
            f"{folder}: no {part} part; expected {stem}-images-idx3-ubyte[.gz] and "
            f"{stem}-labels-idx1-ubyte[.gz]."
        )
    present = {
        p: (images, labels)
        for p in PARTS
        if (images := _idx_file(folder, p, "images")) is not None
        and (labels := _idx_file(folder, p, "labels")) is not None
    }
    key = ("idx", part, *(file_key(f) for pair in present.values() for f in pair))

    def build() -> ImageSet:
        x = read_idx(images_path)  # its own format errors first
        labels = {p: read_idx(lab) for p, (_, lab) in present.items()}
        n_classes = _classes(labels, {p: str(lab) for p, (_, lab) in present.items()})
        check_same_image_shape(
            {p: (idx_shape(img), str(img)) for p, (img, _) in present.items()}, name
        )
        y = labels[part]
        return to_imageset(x, y, f"{images_path} / {labels_path.name}", n_classes, f"{name}:{part}")

    return _cached(key, build)


def _classes(labels: dict[str, np.ndarray], where: dict[str, str]) -> int | None:
    """Classes of a user's dataset: from its training labels (checked, see
    :func:`class_count`); test labels must be among them. None for malformed labels, which
    :func:`to_imageset` then reports with their file name."""
    if "train" not in labels:  # only a test part: its labels are all there is
        y = labels.get("test")
        usable = y is not None and y.ndim == 1 and len(y) and np.issubdtype(y.dtype, np.integer)
        return int(y.max()) + 1 if usable and int(y.min()) >= 0 else None
    n_classes = class_count(labels["train"], where["train"])
    if n_classes is not None and "test" in labels:
        check_test_labels(labels["test"], n_classes, where["test"], where["train"])
    return n_classes
