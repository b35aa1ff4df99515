"""The trainer reads the learning rate from the optimizer's own key, and old configs still train."""

from __future__ import annotations

import pytest

from autocnn.errors import ConfigError
from autocnn.space import default_config, get_space, validate_config
from autocnn.train import train
from autocnn.train.settings import TrainSettings, learning_rate_key


def test_sgd_reads_its_own_key_and_falls_back_to_the_old_one():
    sgd = {"optimizer": "sgd", "momentum": 0.9}
    assert TrainSettings.from_config({**sgd, "sgd_learning_rate": 0.05}).learning_rate == 0.05
    assert TrainSettings.from_config({**sgd, "learning_rate": 0.07}).learning_rate == 0.07
    both = {**sgd, "learning_rate": 0.07, "sgd_learning_rate": 0.05}
    assert TrainSettings.from_config(both).learning_rate == 0.05
    # Adam ignores a stray SGD key; no key at all: the default
    adam = {"optimizer": "adam", "learning_rate": 0.002, "sgd_learning_rate": 0.05}
    assert TrainSettings.from_config(adam).learning_rate == 0.002
    assert TrainSettings.from_config({"optimizer": "sgd"}).learning_rate == 1e-3


def test_learning_rate_key():
    assert learning_rate_key({"optimizer": "sgd", "sgd_learning_rate": 0.1}) == "sgd_learning_rate"
    assert learning_rate_key({"optimizer": "sgd", "learning_rate": 0.1}) == "learning_rate"
    assert learning_rate_key({"optimizer": "adamw", "learning_rate": 0.1}) == "learning_rate"
    assert learning_rate_key({"optimizer": ["not", "hashable"]}) == "learning_rate"
    assert learning_rate_key({}) == "learning_rate"


@pytest.mark.parametrize("value", [-1.0, 0.0, float("nan"), "0.1", True])
def test_bad_sgd_learning_rate_names_the_key(value):
    with pytest.raises(ConfigError, match="'sgd_learning_rate'"):
        TrainSettings.from_config({"optimizer": "sgd", "sgd_learning_rate": value})


def test_old_extended_sgd_config_trains_as_before(tiny_sets):
    """An SGD config stored before the split (rate under learning_rate) validates to the new
    key and trains exactly as the raw old dict does (which the trainer still reads)."""
    old = {
        **default_config("extended"),
        "n_stages": 1,
        "stage1_n_convs": 1,
        "stage1_channels": 8,
        "n_fc_layers": 0,
        "augment": "none",
        "batch_size": 32,
        "lr_schedule": "cosine",
        "optimizer": "sgd",
        "momentum": 0.9,
        "learning_rate": 0.01,
    }
    for key in ("stage2_n_convs", "stage2_channel_multiplier", "fc_units") + tuple(
        k for k in old if k.startswith("aug_")
    ):
        old.pop(key)
    new = validate_config(old, get_space("extended"))
    assert new["sgd_learning_rate"] == 0.01 and "learning_rate" not in new
    a = train(new, *tiny_sets, epochs=2, seed=0, device="cpu")
    b = train(old, *tiny_sets, epochs=2, seed=0, device="cpu")
    assert a.status == b.status == "ok"
    assert a.history[-1].lr == b.history[-1].lr and a.val_loss == b.val_loss
    assert a.val_acc > 0.4  # 4 classes: it learns
