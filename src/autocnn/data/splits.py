"""Stratified, seeded splits and subsets, and a summary of class imbalance.

``stratified_subset`` is used as a fidelity (train on a fraction of the data), so its subsets are
*nested*: each class is shuffled once per seed and a fraction takes a prefix of that order, so
the images seen at a small fraction are all still there at a larger one. Indices are returned in
file order so a split does not depend on how the classes interleave.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from autocnn.data.imageset import ImageSet
from autocnn.errors import DataError


def _class_orders(data: ImageSet, seed: int, labels: np.ndarray | None = None) -> list[np.ndarray]:
    """Per class, its indices (of ``labels``, default ``data.y``) in a random order fixed by
    (seed, class) alone."""
    labels = data.y.numpy() if labels is None else labels
    orders = []
    for c in range(data.n_classes):
        of_class = np.flatnonzero(labels == c)
        rng = np.random.default_rng([seed, c])  # independent of the other classes and sizes
        orders.append(of_class[rng.permutation(len(of_class))])
    return orders


def _count(n: int, fraction: float) -> int:
    return math.floor(n * fraction + 0.5)  # round half up: monotone in fraction


SMALL_CLASS = 5  # fewer images: a class's validation recall rests on one or two images


def train_val_split(
    data: ImageSet, val_fraction: float = 0.2, seed: int = 0
) -> tuple[ImageSet, ImageSet]:
    """Split ``data`` into (train, validation), stratified by class and fixed by ``seed``.

    Every class with at least 2 images has at least one in each part, however small
    ``val_fraction`` is, so balanced accuracy on the validation part covers the long tail. A class
    with 2-4 images gets exactly one validation image (its recall there is 0 or 1); a class with a
    single image keeps it for training (a class never seen cannot be learned) and is missing from
    validation, where balanced accuracy averages over the other classes. Both cases warn
    (UserWarning), naming the classes. A set with ``groups`` (augmented copies of one original)
    is split by group, stratified by the groups' classes: no validation image is a copy of a
    training image.

    Example::

        >>> train, val = train_val_split(load("kmnist10k"), val_fraction=0.2, seed=0)
        >>> len(train), len(val)
        (6400, 1600)
    """
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}.")
    units, labels = _split_units(data)
    train_idx, val_idx = [], []
    for order in _class_orders(data, seed, labels):
        n = len(order)
        n_val = min(max(_count(n, val_fraction), 1), n - 1) if n >= 2 else 0
        val_idx.append(order[:n_val])
        train_idx.append(order[n_val:])
    _warn_small_classes([len(order) for order in val_idx], [len(o) for o in train_idx])
    in_val = np.isin(units, np.concatenate(val_idx))
    return data.subset(np.flatnonzero(~in_val)), data.subset(np.flatnonzero(in_val))


def _split_units(data: ImageSet) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the unit a split assigns (the image itself, or its group's rank among the
    sorted group ids), and each unit's class."""
    labels = data.y.numpy()
    if data.groups is None:
        return np.arange(len(labels)), labels
    _, first, units = np.unique(data.groups.numpy(), return_index=True, return_inverse=True)
    units = units.reshape(-1)
    if not np.array_equal(labels, labels[first][units]):
        raise DataError(f"{data.name or 'a dataset'}: a group holds images of different classes")
    return units, labels[first]


def _warn_small_classes(n_val: list[int], n_train: list[int]) -> None:
    small = [
        c for c, (v, t) in enumerate(zip(n_val, n_train, strict=True)) if 0 < v + t < SMALL_CLASS
    ]
    if not small:
        return
    unseen = [c for c in small if n_val[c] == 0]
    text = f"classes {small} have fewer than {SMALL_CLASS} images: one validation image each"
    if unseen:
        text += f", except {unseen} (a single image, kept for training; not validated)"
    warnings.warn(text + "; their validation recall is noisy", UserWarning, stacklevel=3)


def stratified_subset(data: ImageSet, fraction: float, seed: int = 0) -> ImageSet:
    """A stratified ``fraction`` of ``data`` (at least one image per present class), nested in it.

    For one seed, the subset at ``fraction`` is contained in the subset at any larger fraction.

    Example::

        >>> small, large = (stratified_subset(train, f, seed=1) for f in (0.1, 0.5))
        >>> set(small_indices) <= set(large_indices)  # nested
        True
    """
    if not 0.0 < fraction <= 1.0:
        raise DataError(f"fraction must be in (0, 1], got {fraction}.")
    if fraction == 1.0:
        return data
    chosen = [order[: max(_count(len(order), fraction), 1)] for order in _class_orders(data, seed)]
    return data.subset(np.sort(np.concatenate(chosen)))


@dataclass(frozen=True)
class BalanceSummary:
    """How unequal the class sizes are.

    ``ratio`` is largest / smallest class (``inf`` with an empty class); a class is
    under-represented when it has fewer than half the mean number of images.
    """

    n_classes: int
    total: int
    min_count: int
    max_count: int
    mean_count: float
    ratio: float
    n_under_represented: int
    n_empty: int

    @property
    def is_balanced(self) -> bool:
        return self.ratio <= 1.5


def class_balance_summary(counts: np.ndarray | list[int]) -> BalanceSummary:
    """Summarise class counts, e.g. from :meth:`ImageSet.class_counts`.

    Example::

        >>> class_balance_summary([100, 100, 10]).n_under_represented
        1
    """
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)
    if counts.size == 0:
        raise DataError("class_balance_summary: no classes.")
    lo, hi, mean = int(counts.min()), int(counts.max()), float(counts.mean())
    return BalanceSummary(
        n_classes=int(counts.size),
        total=int(counts.sum()),
        min_count=lo,
        max_count=hi,
        mean_count=mean,
        ratio=hi / lo if lo > 0 else math.inf,
        n_under_represented=int((counts < 0.5 * mean).sum()),
        n_empty=int((counts == 0).sum()),
    )
