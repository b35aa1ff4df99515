"""Sanity check on real KMNIST images (the kmnist10k split), kept to ~1 s."""

from __future__ import annotations

from autocnn import data
from autocnn.train import train


def test_tiny_net_learns_real_kmnist(kmnist_dir, tiny_config):
    full = data.load("kmnist10k", "train", data_dir=kmnist_dir)
    small = data.stratified_subset(full, 0.25, seed=0)  # 2,000 images, 200 per class
    train_set, val_set = data.train_val_split(small, 0.2, seed=0)
    result = train({**tiny_config, "learning_rate": 0.003}, train_set, val_set, epochs=2)
    assert result.status == "ok"
    assert result.val_balanced_acc > 0.35  # 10 classes: chance is 0.1
    assert len(result.per_class_acc) == 10 and None not in result.per_class_acc
