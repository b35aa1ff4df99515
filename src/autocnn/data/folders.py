"""``dir:PATH``: a user's own images, one folder per class (PNG, JPEG, BMP, ...).

The layout most image sets come in (torchvision's ``ImageFolder``, Keras'
``image_dataset_from_directory``)::

    PATH/train/<class>/*.png      PATH/test/<class>/*.png     (a test part is optional)
    PATH/<class>/*.png            (no train/ folder: all images are the train part)

Class ``k`` is the ``k``-th training folder name in sorted order (``sorted(os.listdir)``), so a
model's label ``k`` always means the same folder; a test folder must name a training class.
Files whose suffix is not an image's (``.txt``, ``.DS_Store``, ...) and hidden entries are
skipped. Images are decoded with Pillow (a dependency of matplotlib, so always installed) with
its decompression-bomb limit on: a file is data, never code. Every image of a set gets one
channel count and one size, both read from the training images: grayscale if every training
image is grayscale, else RGB; the most common training size, to which any other size is
resized (with a warning that says how many). torchvision's loaders would do the decoding too,
but they need torchvision, whose wheels are tied to one torch build (it could pull another
torch); what is needed here is the folder walk and these checks.

The set is cached per process like every other (:mod:`autocnn.data.loading`), keyed by the class
folders' paths and modification times: adding or removing an image changes its folder's mtime;
an image rewritten in place under the same name does not (start a new process after that).

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from autocnn.data import load
    >>> root = Path(tempfile.mkdtemp())
    >>> for part, name in [("train", "cat"), ("train", "dog"), ("test", "dog")]:
    ...     (root / part / name).mkdir(parents=True)
    ...     Image.new("L", (12, 10)).save(root / part / name / "a.png")
    >>> train = load(f"dir:{root}", "train")
    >>> train.class_names, train.input_shape, load(f"dir:{root}", "test").y.tolist()
    (('cat', 'dog'), (1, 10, 12), [1])
"""

from __future__ import annotations

import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from autocnn.data.cpus import usable_cpus
from autocnn.data.imageset import ImageSet
from autocnn.data.resize import scaled_shape
from autocnn.errors import DataError, DataWarning

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm", ".pbm")  # fmt: skip
PART_FOLDERS = ("train", "test")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def class_folders(root: Path, part: str) -> tuple[Path, list[Path]]:
    """(the part's folder, its class folders in sorted order), or a DataError saying why not.

    ``root/train`` and ``root/test`` when ``root`` has a ``train`` folder; otherwise ``root``
    itself is the train part and there is no test part.
    """
    if not root.is_dir():
        raise DataError(
            f"{root}: not a folder. dir:PATH takes a folder of class folders "
            "(PATH/<class>/*.png) or of train/ and test/ folders of class folders."
        )
    split = (root / "train").is_dir()
    if split:
        folder = root / part
        if not folder.is_dir():
            raise DataError(
                f"{root}: has train/ but no {part}/ folder; put the {part} images in "
                f"{folder}/<class>/, or test the model on another dataset."
            )
    elif part == "test":
        raise DataError(
            f"{root}: holds only class folders (a train part) and no test part. Put them in "
            f"{root}/train/<class>/ and the test images in {root}/test/<class>/ to have one."
        )
    else:
        folder = root
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"{folder}: no class folders; put each class's images in its own folder "
            f"({folder}/<class>/image.png)."
        )
    return folder, classes


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name (hidden files skipped)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def folder_key(root: Path) -> tuple:
    """What the per-process cache keys a ``dir:`` set on: every class folder's path and mtime."""
    entries = []
    for part in PART_FOLDERS:
        base = root / part if (root / "train").is_dir() else root
        if not base.is_dir() or (base is root and part == "test"):
            continue
        for child in sorted(base.iterdir()):
            if child.is_dir():
                entries.append((str(child.resolve()), child.stat().st_mtime_ns))
    return tuple(entries)


def read_image(path: Path):
    """One decoded image (a Pillow image, loaded), or a DataError naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return image.copy()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as exc:
        raise DataError(
            f"{path}: cannot read as an image ({type(exc).__name__}: {exc}). Delete or "
            "replace the file, or move it out of the class folder."
        ) from exc
    except Image.DecompressionBombWarning as exc:
        raise DataError(f"{path}: {exc}. autocnn trains on small images; resize it first.") from exc


def load_folder_part(name: str, root: Path, part: str, side: int | None = None) -> ImageSet:
    """Part ``part`` of the ``dir:`` set at ``root`` as an :class:`ImageSet` (see the module
    docstring for the layout and the conversions). ``side``: each image decoded and scaled at
    once to the set's size with that longer side (``resize:SIDE:dir:ROOT``), so memory holds
    only the scaled images."""
    _, train_classes = class_folders(root, "train")
    names = [c.name for c in train_classes]
    folder, classes = class_folders(root, part)
    unknown = [c.name for c in classes if c.name not in names]
    if unknown:
        raise DataError(
            f"{folder}: class folder {', '.join(unknown[:5])} has no training folder of that "
            f"name (training classes: {', '.join(names[:10])}{', ...' * (len(names) > 10)}); "
            "a model cannot predict a class it never saw. Rename or remove it."
        )
    if len(names) < 2:
        raise DataError(
            f"{root}: one class folder ({names[0]}); a classifier needs at least 2 classes."
        )
    files, labels = [], []
    for c in classes:
        found = image_files(c)
        if not found and part == "train":
            raise DataError(
                f"{c}: no images ({', '.join(IMAGE_SUFFIXES)}); a class needs training images. "
                "Add some or remove the folder."
            )
        files += found
        labels += [names.index(c.name)] * len(found)
    if not files:
        raise DataError(f"{folder}: its class folders hold no images.")
    channels, size = train_format(train_classes, root)
    target = size if side is None else scaled_shape(size[::-1], side)[::-1]  # (width, height)
    x = read_as(files, channels, target, folder, "the most common training size", native=size)
    import torch

    images = torch.from_numpy(x)
    y = torch.tensor(labels, dtype=torch.int64)
    return ImageSet(images, y, len(names), f"{name}:{part}", class_names=tuple(names))


def read_as(
    files: list[Path],
    channels: int,
    size: tuple[int, int],
    where: Path,
    why: str,
    native: tuple[int, int] | None = None,
    advice: str = "resize them yourself to control how",
) -> np.ndarray:
    """``files`` decoded as uint8 (N, C, H, W) with ``channels`` (1: grayscale, 3: RGB) and
    ``size`` (width, height); images of another size are resized, each in one step from its own
    size (as ``autocnn predict`` scales an image), with one warning that says how many are not
    ``native`` (default: ``size``), ``why`` that size, and ``advice``."""
    mode = "L" if channels == 1 else "RGB"
    native = native or size
    x = np.empty((len(files), size[1], size[0], channels), np.uint8)

    def decode(i: int) -> bool:  # into x[i]; whether the image was not ``native``
        image = read_image(files[i])
        own = image.size
        if image.mode != mode:
            image = image.convert(mode)
        if image.size != size:
            image = image.resize(size, _resample())
        x[i] = np.asarray(image, np.uint8).reshape(size[1], size[0], channels)
        return own != native

    # Pillow decodes and scales without the GIL: one thread per CPU (the first error in file
    # order is raised, as in a loop)
    with ThreadPoolExecutor(max_workers=usable_cpus()) as pool:
        odd = sum(pool.map(decode, range(len(files))))
    if odd:
        what = f"resized to {size[0]}x{size[1]} ({why})" if native == size else (
            f"not {native[0]}x{native[1]} ({why}): each scaled to {size[0]}x{size[1]} from its "
            "own size")  # fmt: skip
        warnings.warn(
            f"{where}: {odd} of {len(files)} images {what}; {advice}.",
            DataWarning,
            stacklevel=3,
        )
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def images_under(folder: Path) -> list[Path]:
    """Every image file under ``folder``, in sub-folders too, sorted by relative path (hidden
    files and folders skipped): what ``autocnn predict MODEL FOLDER`` labels."""
    found = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def train_format(classes: list[Path], root: Path) -> tuple[int, tuple[int, int]]:
    """(channels, (width, height)) of a set, from its training images' headers: 1 channel if
    all are grayscale; the most common size."""
    from PIL import Image

    gray, sizes = True, Counter()
    for c in classes:
        for path in image_files(c):
            try:
                with Image.open(path) as image:  # the header only: no pixel data decoded
                    sizes[image.size] += 1
                    is_gray = image.mode in _GRAY_MODES or (
                        image.mode == "P" and _gray_palette(image)
                    )
            except (OSError, ValueError):
                read_image(path)  # raises the DataError that names the file and the cause
                raise
            gray = gray and is_gray
    if not sizes:
        raise DataError(f"{root}: the training class folders hold no images.")
    return (1 if gray else 3), sizes.most_common(1)[0][0]


def _gray_palette(image) -> bool:
    palette = np.asarray(image.getpalette() or [], np.uint8).reshape(-1, 3)
    return bool(len(palette)) and bool((palette == palette[:, :1]).all())


def _resample():
    from PIL import Image

    return Image.Resampling.BILINEAR
