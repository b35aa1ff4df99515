"""Named datasets derived in memory from a registered one: no files of their own.

Each is built from the same part of its base set (``kmnist10k`` for all of these) when it is
loaded, by selecting images in file order or, for ``kmnist10k-x8``, by adding fixed augmented
copies; :func:`autocnn.data.load` caches the result like any other set, and passes it through
the same image and label checks. Same base files, same images, on every machine.

- ``kmnist10k-source`` / ``kmnist10k-dest-longtail``: local stand-ins for the study's
  KMNIST -> Kuzushiji-49 transfer, with DISJOINT images (per class, in file order, within
  kmnist10k's parts). The source takes the first 400 of each class's 800 ``train`` images and the
  first 100 of its 200 ``test`` images (4,000 / 1,000, balanced). The destination takes from the
  other 400 / 100 of each class the first ``round(n * imbalance ** (-c / 9))`` for class ``c``
  (``imbalance`` = 10): 400 / 100 for class 0 down to 40 / 10 for class 9 (1,636 / 409). Like
  K49's, its test part has the same long tail, so balanced accuracy is the metric that matters.
- ``kmnist10k-1k``: a stratified 1,000-image subset of kmnist10k's train part (100 per class,
  :func:`autocnn.data.stratified_subset` with seed 0); the test part is kmnist10k's.
- ``kmnist10k-x8``: kmnist10k's 8,000 train images followed by 7 augmented copies of them
  (64,000 images; copy ``k`` is a random affine warp of every image: rotation up to 10 degrees,
  shift up to 2 pixels, zoom 0.9-1.1, from a fixed seed); the test part is kmnist10k's. For
  planning and timing at 60k scale, not a new source of information. Each original and its
  copies form a group (``ImageSet.groups``) that a train/validation split keeps on one side:
  before, validation held copies of training images and scored memorising nets too well (a
  20-minute fit chose a small net at 0.18 % validation error that tested 98.95 %).

Example::

    >>> from autocnn import data
    >>> len(data.load("kmnist10k-dest-longtail", "train", data_dir="../shared/data/kmnist"))
    1636
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from autocnn.data.augment import AugmentSettings, augment_batch
from autocnn.data.imageset import ImageSet
from autocnn.data.readers import to_imageset
from autocnn.data.splits import stratified_subset

SOURCE, DEST = "kmnist10k-source", "kmnist10k-dest-longtail"
IMBALANCE = 10.0
_HALF = {"train": 400, "test": 100}  # per class, of kmnist10k's 800 / 200

SUBSET_1K_SEED = 0
X8_COPIES = 7  # augmented copies added to the originals: 8x the training images
X8_SEED = 8
X8_AUGMENT = AugmentSettings(mode="affine", rotate=10.0, translate=2 / 28, scale=0.1)


def class_sizes(n: int, n_classes: int, imbalance: float = IMBALANCE) -> list[int]:
    """Long-tail sizes ``round(n * imbalance ** (-c / (n_classes - 1)))`` for class c."""
    steps = np.arange(n_classes) / max(n_classes - 1, 1)
    return [max(1, int(round(n * imbalance ** (-s)))) for s in steps]


def split_indices(labels: np.ndarray, part: str, which: str) -> np.ndarray:
    """Indices (file order) of ``which`` ("source" / "dest") in a kmnist10k part's labels."""
    half = _HALF[part]
    n_classes = int(labels.max()) + 1
    sizes = class_sizes(half, n_classes)
    chosen = []
    for c in range(n_classes):
        of_class = np.flatnonzero(labels == c)
        if which == "source":
            chosen.append(of_class[:half])
        else:
            chosen.append(of_class[half : half + sizes[c]])
    return np.sort(np.concatenate(chosen))


def augmented_copies(x: torch.Tensor, copies: int, seed: int) -> torch.Tensor:
    """``x`` (uint8, N C H W) followed by ``copies`` affine-warped copies of it, as uint8.

    One generator seeded with ``seed`` draws copy 1's warps, then copy 2's, ...; the result
    depends only on ``x``, ``copies`` and ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)
    images = x.float().div_(255.0)
    out = [x]
    for _ in range(copies):
        warped = augment_batch(images, X8_AUGMENT, generator)
        out.append(warped.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


# ------------------------------------------------------------------ builders: (base part) -> part
def _validated(name: str, part: str, base: ImageSet, x: torch.Tensor, y: torch.Tensor) -> ImageSet:
    """Through the loaders' image and label checks, as any file's arrays go."""
    where = f"{name} (derived from {base.name or 'its base'})"
    return to_imageset(x.numpy(), y.numpy(), where, base.n_classes, f"{name}:{part}")


def _study_split(which: str) -> Callable[[str, ImageSet, str], ImageSet]:
    def build(name: str, base: ImageSet, part: str) -> ImageSet:
        index = torch.from_numpy(split_indices(base.y.numpy(), part, which))
        return _validated(name, part, base, base.x[index], base.y[index])

    return build


def _subset_1k(name: str, base: ImageSet, part: str) -> ImageSet:
    if part == "train":
        base = stratified_subset(base, 1000 / len(base), seed=SUBSET_1K_SEED)
    return _validated(name, part, base, base.x, base.y)


def _x8(name: str, base: ImageSet, part: str) -> ImageSet:
    if part != "train":
        return _validated(name, part, base, base.x, base.y)
    x = augmented_copies(base.x, X8_COPIES, X8_SEED)
    made = _validated(name, part, base, x, base.y.repeat(X8_COPIES + 1))
    originals = torch.arange(len(base)).repeat(X8_COPIES + 1)  # copy k of image i: group i
    return dataclasses.replace(made, groups=originals)


@dataclass(frozen=True)
class DerivedSpec:
    """A named set made from the same part of registered set ``base`` by ``build``.

    ``build(name, base_part, part)`` returns the derived part; ``sizes`` says how many images
    each part has (documentation; tests hold the builders to it)."""

    name: str
    base: str
    n_classes: int
    sizes: dict[str, int]
    description: str
    build: Callable[[str, ImageSet, str], ImageSet]


DERIVED: dict[str, DerivedSpec] = {
    spec.name: spec
    for spec in (
        DerivedSpec(
            SOURCE, "kmnist10k", 10, {"train": 4000, "test": 1000},
            "study source stand-in: per class the first 400 of kmnist10k's train and first 100 "
            "of its test images; balanced, disjoint from kmnist10k-dest-longtail",
            _study_split("source"),
        ),
        DerivedSpec(
            DEST, "kmnist10k", 10, {"train": 1636, "test": 409},
            "study destination stand-in: from the other half of each kmnist10k class, a long "
            "tail of 400 (class 0) down to 40 (class 9) train and 100 down to 10 test images",
            _study_split("dest"),
        ),
        DerivedSpec(
            "kmnist10k-1k", "kmnist10k", 10, {"train": 1000, "test": 2000},
            "a stratified 1,000-image subset of kmnist10k's train part (100 per class, seed 0); "
            "kmnist10k's test part",
            _subset_1k,
        ),
        DerivedSpec(
            "kmnist10k-x8", "kmnist10k", 10, {"train": 64000, "test": 2000},
            "kmnist10k's 8,000 train images + 7 fixed affine-augmented copies (rotation <= 10 "
            "deg, shift <= 2 px, zoom 0.9-1.1, seed 8); kmnist10k's test part. For planning and "
            "timing at 60k scale, not a new source of information",
            _x8,
        ),
    )
}  # fmt: skip
