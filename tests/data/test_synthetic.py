from __future__ import annotations

import numpy as np
import torch

from autocnn.data import class_balance_summary, load, synthetic_imageset, write_synthetic
from autocnn.data.synthetic import class_sizes, write_tiny_kmnist


def test_k49_shaped_long_tailed_set_in_official_format(tmp_path):
    paths = write_synthetic(
        tmp_path, prefix="k49", n_classes=49, n_train=2450, n_test=490, imbalance=20.0, seed=0
    )
    assert sorted(p.name for p in paths.values()) == sorted(
        f"k49-{p}-{k}.npz" for p in ("train", "test") for k in ("imgs", "labels")
    )
    raw = np.load(paths["train-imgs"], allow_pickle=False)
    assert raw.files == ["arr_0"] and raw["arr_0"].shape == (2450, 28, 28)
    train, test = load(f"npz:{tmp_path}", "train"), load(f"npz:{tmp_path}", "test")
    assert train.n_classes == test.n_classes == 49 and len(test) == 490
    summary = class_balance_summary(train.class_counts())
    assert summary.n_empty == 0 and 12 <= summary.ratio <= 30
    assert summary.n_under_represented > 5


def test_class_sizes():
    assert class_sizes(100, 4).tolist() == [25, 25, 25, 25]
    sizes = class_sizes(1000, 10, imbalance=10.0)
    assert sizes.sum() == 1000 and all(np.diff(sizes) <= 0)
    assert 8 <= sizes[0] / sizes[-1] <= 12


def test_deterministic_by_seed_and_rgb_shape():
    a, b = synthetic_imageset(50, seed=3), synthetic_imageset(50, seed=3)
    c = synthetic_imageset(50, seed=4)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
    rgb = synthetic_imageset(20, n_classes=4, channels=3, image_size=16)
    assert rgb.input_shape == (3, 16, 16)


def test_images_are_learnable_but_noisy():
    """A nearest-centroid classifier fit on train beats chance by far on test."""
    train = synthetic_imageset(1000, n_classes=10, seed=0)
    test = synthetic_imageset(300, n_classes=10, seed=0, part="test")
    x = train.x.float().flatten(1)
    centroids = torch.stack([x[train.y == c].mean(0) for c in range(10)])
    pred = torch.cdist(test.x.float().flatten(1), centroids).argmin(1)
    accuracy = (pred == test.y).float().mean().item()
    assert accuracy > 0.5
    assert not torch.equal(train.x[0], train.x[train.y == train.y[0]][1])  # no two alike


def test_tiny_kmnist(tmp_path):
    write_tiny_kmnist(tmp_path)
    data = load(f"npz:{tmp_path / 'kmnist'}", "train")
    assert len(data) == 1000 and data.class_counts().tolist() == [100] * 10


def test_class_sizes_with_a_head_at_the_largest_size():
    assert class_sizes(100, 4, imbalance=4.0, head=1).tolist() == class_sizes(100, 4, 4.0).tolist()
    sizes = class_sizes(1000, 10, imbalance=10.0, head=4)
    assert sizes.sum() == 1000 and np.ptp(sizes[:4]) <= 1 and all(np.diff(sizes) <= 0)
    assert 9 <= sizes[0] / sizes[-1] <= 11 and sizes[4] < sizes[3]


def test_k49_like_full_scale_shape_matches_the_official_totals():
    from autocnn.data.synthetic import LIKE

    k49 = LIKE["k49"]
    train = class_sizes(k49.n_train, k49.n_classes, k49.imbalance, k49.head)
    test = class_sizes(k49.n_test, k49.n_classes, k49.imbalance, k49.head)
    assert train.sum() == 232_365 and test.sum() == 38_547  # the official release's totals
    assert 5_900 <= train.max() <= 6_100 and 380 <= train.min() <= 420  # K49: ~6,000 -> ~400
    assert test.max() <= 1_000 and (train >= train.max() - 1).sum() == 34  # most at the cap


def test_write_like_k49_scaled_down_in_the_official_file_names(tmp_path):
    from autocnn.data import write_like

    paths = write_like(tmp_path, "k49", scale=0.01)
    assert sorted(p.name for p in paths.values()) == sorted(
        f"k49-{p}-{k}.npz" for p in ("train", "test") for k in ("imgs", "labels")
    )
    train, test = load(f"npz:{tmp_path}", "train"), load(f"npz:{tmp_path}", "test")
    assert (len(train), len(test)) == (2324, 385) and train.input_shape == (1, 28, 28)
    counts = train.class_counts()
    assert counts.min() >= 1 and test.class_counts().min() >= 1 and train.n_classes == 49
    assert counts.max() == 60 and counts.min() == 5  # 6,000 -> 400 per class, scaled
    assert 10 <= class_balance_summary(counts).ratio <= 15


def test_make_synthetic_command_and_its_refusal_to_overwrite(tmp_path, capsys):
    from autocnn.cli import main

    out = tmp_path / "k49"
    assert main(["make-synthetic", "--like", "k49", "--scale", "0.005", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "49 classes" in said and f"npz:{out}" in said and "30 -> 3" in said
    assert load(f"npz:{out}", "train").n_classes == 49
    assert main(["make-synthetic", "--out", str(out)]) == 2
    assert "already holds" in capsys.readouterr().err
