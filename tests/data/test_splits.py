from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from autocnn.data import (
    ImageSet,
    class_balance_summary,
    stratified_subset,
    synthetic_imageset,
    train_val_split,
)
from autocnn.errors import DataError


def indexed_set(counts):
    """An ImageSet whose image i carries its own index, so subsets can be traced back."""
    y = np.repeat(np.arange(len(counts)), counts)
    y = y[np.random.default_rng(1).permutation(len(y))]
    x = torch.arange(len(y), dtype=torch.int64)
    pixels = torch.stack([x % 256, x // 256], 1).to(torch.uint8).reshape(-1, 1, 1, 2)
    return ImageSet(pixels, torch.from_numpy(y), len(counts))


def ids(data):
    x = data.x.reshape(-1, 2).to(torch.int64)
    return (x[:, 0] + 256 * x[:, 1]).tolist()


COUNTS = [300, 120, 40, 7, 2, 1]


def test_train_val_split_is_stratified_disjoint_and_complete():
    data = indexed_set(COUNTS)
    train, val = train_val_split(data, val_fraction=0.25, seed=3)
    assert not set(ids(train)) & set(ids(val))
    assert sorted(ids(train) + ids(val)) == list(range(len(data)))
    assert val.class_counts().tolist() == [75, 30, 10, 2, 1, 0]
    assert train.class_counts().tolist() == [225, 90, 30, 5, 1, 1]
    assert ids(train) == sorted(ids(train))  # file order kept


def test_a_grouped_set_is_split_by_group_and_stratified_by_the_groups_classes():
    """Augmented copies of one original (a group) never sit on both sides of the split."""
    originals = indexed_set([40, 20, 4])
    copies = 3
    grouped = ImageSet(
        originals.x.repeat(copies, 1, 1, 1),
        originals.y.repeat(copies),
        originals.n_classes,
        groups=torch.arange(len(originals)).repeat(copies) * 7 + 5,  # any int64 ids
    )
    train, val = train_val_split(grouped, val_fraction=0.25, seed=3)
    assert not set(train.groups.tolist()) & set(val.groups.tolist())
    assert len(train) + len(val) == len(grouped)
    assert val.class_counts().tolist() == [30, 15, 3]  # 10 / 5 / 1 originals, 3 copies each
    # every copy of a validation original is in validation, with its own label
    for group in set(val.groups.tolist()):
        assert (val.groups == group).sum() == copies
    assert torch.equal(val.y, grouped.y[torch.isin(grouped.groups, val.groups)])
    # the same originals go to validation as an ungrouped split of the originals would pick
    _, plain = train_val_split(originals, val_fraction=0.25, seed=3)
    assert set(ids(val)) == set(ids(plain))
    # subsets carry the groups; a group of two classes is refused
    assert torch.equal(grouped.subset([4, 0]).groups, grouped.groups[[4, 0]])
    mixed = ImageSet(grouped.x[:2], torch.tensor([0, 1]), 2, groups=torch.tensor([9, 9]))
    with pytest.raises(DataError, match="different classes"):
        train_val_split(mixed)


def test_train_val_split_is_seeded():
    data = indexed_set(COUNTS)
    a, b, c = (ids(train_val_split(data, 0.2, seed=s)[1]) for s in (0, 0, 1))
    assert a == b and a != c


def test_train_val_split_bad_fraction():
    with pytest.raises(DataError, match="val_fraction"):
        train_val_split(indexed_set(COUNTS), val_fraction=1.0)


def test_stratified_subset_is_nested_and_keeps_every_class():
    data = indexed_set(COUNTS)
    fractions = [0.01, 0.1, 0.3, 0.5, 0.9]
    subsets = [set(ids(stratified_subset(data, f, seed=7))) for f in fractions]
    for small, large in itertools.pairwise(subsets):
        assert small < large
    tiny = stratified_subset(data, 0.01, seed=7)
    assert tiny.class_counts().tolist() == [3, 1, 1, 1, 1, 1]
    half = stratified_subset(data, 0.5, seed=7)
    assert half.class_counts().tolist() == [150, 60, 20, 4, 1, 1]
    assert stratified_subset(data, 1.0, seed=7) is data


def test_stratified_subset_is_seeded():
    data = indexed_set(COUNTS)
    a, b, c = (ids(stratified_subset(data, 0.3, seed=s)) for s in (4, 4, 5))
    assert a == b and a != c


def test_subset_keeps_images_with_their_labels():
    data = synthetic_imageset(100, n_classes=5, seed=0)
    index = [5, 0, 99, 5]
    sub = data.subset(index)
    assert torch.equal(sub.x, data.x[index]) and torch.equal(sub.y, data.y[index])
    assert sub.n_classes == 5 and sub.x.is_contiguous()


def test_class_balance_summary():
    s = class_balance_summary([1000, 900, 100, 30])
    assert (s.min_count, s.max_count, s.total, s.n_classes) == (30, 1000, 2030, 4)
    assert s.ratio == pytest.approx(1000 / 30)
    assert s.n_under_represented == 2 and s.n_empty == 0 and not s.is_balanced
    balanced = class_balance_summary([800] * 10)
    assert balanced.ratio == 1.0 and balanced.is_balanced
    assert math.isinf(class_balance_summary([5, 0]).ratio)


def test_every_class_with_two_images_is_validated_and_small_ones_warn():
    data = indexed_set([50, 4, 2, 1])
    with pytest.warns(UserWarning, match=r"classes \[1, 2, 3\].*except \[3\]"):
        train, val = train_val_split(data, val_fraction=0.05, seed=0)  # 5 %: 2.5 -> 3 of class 0
    assert val.class_counts().tolist() == [3, 1, 1, 0]  # tiny classes keep one each
    assert train.class_counts().tolist() == [47, 3, 1, 1]  # the single image trains


def test_a_k49_shaped_long_tail_keeps_every_class_in_validation(tmp_path):
    from autocnn.data import load, write_like

    write_like(tmp_path, "k49", scale=0.005, image_size=12)  # smallest classes: 3 images
    full = load(f"npz:{tmp_path}", "train")
    with pytest.warns(UserWarning, match="fewer than 5 images: one validation image each"):
        train, val = train_val_split(full, val_fraction=0.2, seed=0)
    assert val.class_counts().min() >= 1 and train.class_counts().min() >= 2  # all 49 classes
    small = full.class_counts() < 5
    assert small.any() and (val.class_counts()[small] == 1).all()
