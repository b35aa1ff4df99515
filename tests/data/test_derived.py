"""Derived datasets (kmnist10k-source, -dest-longtail, -1k, -x8) and the list of every name."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from autocnn.data import (
    DERIVED,
    clear_cache,
    dataset_list,
    fetch,
    known_names,
    load,
    train_val_split,
)
from autocnn.data.derived import (
    DEST,
    SOURCE,
    _validated,
    augmented_copies,
    class_sizes,
    split_indices,
)
from autocnn.errors import DataError

# sha256 (first 16 hex digits) of the int64 indices split_indices gives on the real kmnist10k
# labels: the study's datasets, and so its results, depend on exactly these images.
INDEX_DIGESTS = {
    ("train", "source"): "30bbae92a0af4568",
    ("train", "dest"): "b45831856fefd2e1",
    ("test", "source"): "920bcfff2737295e",
    ("test", "dest"): "a74b37967da85389",
}


def _rows(images: torch.Tensor) -> list[bytes]:
    return [r.tobytes() for r in images.reshape(len(images), -1).numpy()]


def test_long_tail_sizes():
    assert class_sizes(400, 10) == [400, 310, 240, 186, 144, 111, 86, 67, 52, 40]
    assert sum(class_sizes(400, 10)) == 1636 and sum(class_sizes(100, 10)) == 409


@pytest.mark.parametrize("part,half", [("train", 400), ("test", 100)])
def test_source_and_dest_indices_are_disjoint_and_long_tailed(part, half):
    labels = np.repeat(np.arange(10), 2 * half)
    np.random.default_rng(0).shuffle(labels)
    source = split_indices(labels, part, "source")
    dest = split_indices(labels, part, "dest")
    assert not set(source) & set(dest)
    assert np.bincount(labels[source]).tolist() == [half] * 10
    assert np.bincount(labels[dest]).tolist() == class_sizes(half, 10)
    assert (np.diff(source) > 0).all() and (np.diff(dest) > 0).all()  # file order


def test_study_indices_on_real_kmnist10k_are_unchanged(kmnist_dir):
    for part in ("train", "test"):
        labels = load("kmnist10k", part, data_dir=kmnist_dir).y.numpy()
        for which in ("source", "dest"):
            index = split_indices(labels, part, which).astype(np.int64)
            digest = hashlib.sha256(index.tobytes()).hexdigest()[:16]
            assert digest == INDEX_DIGESTS[(part, which)], (part, which)


@pytest.mark.parametrize("part", ["train", "test"])
def test_source_and_dest_are_kmnist10k_images_and_disjoint(kmnist_dir, part):
    base = load("kmnist10k", part, data_dir=kmnist_dir)
    src = load(SOURCE, part, data_dir=kmnist_dir)
    dst = load(DEST, part, data_dir=kmnist_dir)
    n_src, n_dst = (4000, 1636) if part == "train" else (1000, 409)
    assert (len(src), len(dst)) == (n_src, n_dst)
    assert src.n_classes == dst.n_classes == 10
    assert src.class_counts().tolist() == [n_src // 10] * 10
    assert dst.class_counts().tolist() == class_sizes(n_src // 10, 10)
    for derived, which in ((src, "source"), (dst, "dest")):
        index = split_indices(base.y.numpy(), part, which)
        assert torch.equal(derived.x, base.x[index]) and torch.equal(derived.y, base.y[index])
    assert not set(_rows(src.x)) & set(_rows(dst.x))
    assert src.name == f"{SOURCE}:{part}"


def test_source_and_dest_parts_share_no_image(kmnist_dir):
    images = [set(_rows(load(n, p, data_dir=kmnist_dir).x)) for n in (SOURCE, DEST)
              for p in ("train", "test")]  # fmt: skip
    assert sum(len(s) for s in images) == len(set().union(*images))


def test_1k_is_a_stratified_subset_of_kmnist10k_train(kmnist_dir):
    base = load("kmnist10k", "train", data_dir=kmnist_dir)
    small = load("kmnist10k-1k", "train", data_dir=kmnist_dir)
    assert len(small) == 1000 and small.class_counts().tolist() == [100] * 10
    assert set(_rows(small.x)) <= set(_rows(base.x))
    test = load("kmnist10k-1k", "test", data_dir=kmnist_dir)
    assert torch.equal(test.x, load("kmnist10k", "test", data_dir=kmnist_dir).x)


def test_x8_is_the_originals_plus_seven_fixed_augmented_copies(kmnist_dir):
    base = load("kmnist10k", "train", data_dir=kmnist_dir)
    big = load("kmnist10k-x8", "train", data_dir=kmnist_dir)
    assert len(big) == 64000 and big.class_counts().tolist() == [6400] * 10
    assert torch.equal(big.x[:8000], base.x) and torch.equal(big.y, base.y.repeat(8))
    for k in range(1, 8):
        copy = big.x[k * 8000 : (k + 1) * 8000].float()
        assert (copy - base.x.float()).abs().mean() > 5  # moved, not copied
        assert abs(copy.mean() - base.x.float().mean()) < 3  # the same strokes, warped
    # each original and its copies are one group: a validation split holds no copy of a
    # training image (it did once, and scored memorising nets too well)
    assert torch.equal(big.groups, torch.arange(8000).repeat(8))
    train, val = train_val_split(big, val_fraction=0.2, seed=0)
    assert len(val) == 12800 and not set(train.groups.tolist()) & set(val.groups.tolist())
    assert load("kmnist10k-x8", "train", data_dir=kmnist_dir) is big  # cached
    clear_cache()
    assert torch.equal(load("kmnist10k-x8", "train", data_dir=kmnist_dir).x, big.x)
    test = load("kmnist10k-x8", "test", data_dir=kmnist_dir)
    assert torch.equal(test.x, load("kmnist10k", "test", data_dir=kmnist_dir).x)


def test_augmented_copies_are_deterministic_uint8_warps():
    x = torch.zeros(6, 1, 28, 28, dtype=torch.uint8)
    x[:, :, 8:20, 12:16] = 255
    out = augmented_copies(x, 3, seed=8)
    assert out.dtype == torch.uint8 and out.shape == (24, 1, 28, 28)
    assert torch.equal(out[:6], x) and torch.equal(out, augmented_copies(x, 3, seed=8))
    assert not torch.equal(out[6:12], x) and not torch.equal(out[6:12], out[12:18])
    assert not torch.equal(out, augmented_copies(x, 3, seed=9))


def test_derived_sets_pass_the_label_checks():
    from autocnn.data import ImageSet

    base = ImageSet(torch.zeros(3, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1, 1]), 2, "b")
    with pytest.raises(DataError, match="kmnist10k-x8"):
        _validated("kmnist10k-x8", "train", base, base.x, torch.tensor([0, 1, 2]))
    assert _validated("kmnist10k-x8", "train", base, base.x, base.y).n_classes == 2


def test_derived_set_without_its_base_files_names_them(tmp_path):
    with pytest.raises(DataError, match="kmnist-test-imgs.npz"):
        load("kmnist10k-dest-longtail", "train", data_dir=tmp_path, download=False)


def test_fetch_of_a_derived_set_fetches_its_base(kmnist_dir):
    paths = fetch("kmnist10k-x8", data_dir=kmnist_dir)
    assert sorted(p.name for p in paths) == ["kmnist-test-imgs.npz", "kmnist-test-labels.npz"]


def test_list_names_every_name_load_takes(tmp_path):
    rows = dataset_list(tmp_path)
    assert [r.name for r in rows] == known_names()
    kinds = {r.name: r.kind for r in rows}
    assert kinds["kmnist10k"] == "official" and kinds["npz:PATH"] == "pattern"
    assert {n for n, k in kinds.items() if k == "derived"} == set(DERIVED)
    by_name = {r.name: r for r in rows}
    for name in DERIVED:
        assert by_name[name].status == "needs kmnist-test files"
        assert by_name[name].base == "kmnist10k" and by_name[name].n_classes == 10
    assert by_name["kmnist10k"].status == "2 of 2 files missing"
    assert by_name["k49"].status.startswith("4 of 4 files missing")
    assert (by_name["kmnist10k-x8"].n_train, by_name["kmnist10k-x8"].n_test) == (64000, 2000)
    assert "x_train" in by_name["npz:PATH"].description
    assert "idx" in by_name["idx:DIR"].description and by_name["idx:DIR"].n_train is None
    assert {f.file for f in by_name["kmnist"].files} >= {"kmnist_classmap.csv"}


def test_every_listed_name_with_its_files_loads_with_the_listed_sizes(kmnist_dir):
    rows = [r for r in dataset_list(kmnist_dir) if r.status == "ok"]
    names = {r.name for r in rows}
    assert {"kmnist10k", *DERIVED} <= names
    for row in rows:
        for part, n in (("train", row.n_train), ("test", row.n_test)):
            loaded = load(row.name, part, data_dir=kmnist_dir)
            assert (len(loaded), loaded.n_classes) == (n, row.n_classes), (row.name, part)
