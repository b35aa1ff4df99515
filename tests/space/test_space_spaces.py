"""The two search spaces: names, defaults, conditions, sampling."""

from __future__ import annotations

import numpy as np
import pytest

from autocnn.errors import ConfigError
from autocnn.space import default_config, get_space, sample_configs, to_plain, validate_config

SPACES = ["seed", "extended"]
TRAINER_KEYS = {"optimizer", "learning_rate", "weight_decay", "batch_size"}


def test_unknown_space_name_lists_known_names():
    with pytest.raises(ConfigError, match="extended") as err:
        get_space("sede")
    assert "sede" in str(err.value) and "seed" in str(err.value)
    with pytest.raises(ConfigError):
        default_config("nope")


@pytest.mark.parametrize("name", SPACES)
def test_space_has_no_forbidden_clauses_and_trainer_names(name):
    space = get_space(name)
    assert list(space.forbidden_clauses) == []  # validity comes from the builder, not rejection
    assert TRAINER_KEYS <= set(space.keys())
    assert space.parent_conditions_of["momentum"][0].parent.name == "optimizer"


def test_seed_space_size_and_choices():
    space = get_space("seed")
    assert len(list(space.keys())) > 30
    assert set(space["optimizer"].choices) == {"adam", "adamw", "sgd", "adadelta"}
    assert set(space["activation"].choices) == {"relu", "sigmoid", "tanh"}
    assert (space["n_conv_layers"].lower, space["n_conv_layers"].upper) == (1, 3)
    assert (space["n_fc_layers"].lower, space["n_fc_layers"].upper) == (0, 2)
    assert space["learning_rate"].log


def test_extended_space_training_keys():
    space = get_space("extended")
    assert set(space["lr_schedule"].choices) == {"constant", "cosine", "onecycle"}
    assert set(space["augment"].choices) == {"none", "affine"}
    for key in ("label_smoothing", "aug_rotate", "aug_translate", "aug_scale", "aug_erasing"):
        assert key in space
    assert space["batch_size"].lower >= 32 and space["batch_size"].upper <= 512


@pytest.mark.parametrize("name", SPACES)
def test_default_is_the_spaces_default_and_validates(name):
    space = get_space(name)
    default = default_config(name)
    assert to_plain(space.get_default_configuration()) == default
    assert validate_config(default, space) == default
    default["batch_size"] = -1  # a copy: changing it leaves the next call untouched
    assert default_config(name)["batch_size"] > 0


def test_seed_default_is_the_seed_studys_default():
    d = default_config("seed")
    assert d["n_conv_layers"] == 1 and d["n_fc_layers"] == 0
    assert (d["conv1_channels"], d["conv1_kernel_size"], d["conv1_padding"]) == (3, 5, "same")
    assert d["conv1_maxpool"] and d["conv1_maxpool_kernel"] == 6 and d["activation"] == "tanh"
    assert (d["optimizer"], d["learning_rate"], d["batch_size"]) == ("adam", 1e-3, 50)
    assert not d["conv1_batchnorm"] and not d["conv1_dropout"]


def test_extended_default_is_the_vgg_reference_net():
    d = default_config("extended")
    assert (d["n_stages"], d["stage1_n_convs"], d["stage2_n_convs"]) == (2, 2, 2)
    assert d["stage1_channels"] * d["stage2_channel_multiplier"] == 64
    assert d["batchnorm"] and not d["residual"]
    assert (d["optimizer"], d["lr_schedule"], d["augment"]) == ("adamw", "onecycle", "affine")


@pytest.mark.parametrize("name", SPACES)
def test_samples_are_plain_valid_and_reproducible(name):
    space = get_space(name, seed=123)
    configs = sample_configs(space, 200, seed=5)
    assert configs == sample_configs(get_space(name), 200, seed=5)
    assert configs != sample_configs(space, 200, seed=6)
    for config in configs:
        for value in config.values():
            assert type(value) in (int, float, str, bool), (value, type(value))
        assert validate_config(config, space) == config
    assert len(sample_configs(space, 1, seed=0)) == 1 and sample_configs(space, 0, seed=0) == []


def test_seed_conditions_follow_layer_counts():
    for config in sample_configs(get_space("seed"), 300, seed=1):
        for i in (1, 2, 3):
            exists = i <= config["n_conv_layers"]
            assert (f"conv{i}_kernel_size" in config) == exists
            assert (f"conv{i}_dropout_rate" in config) == (exists and config[f"conv{i}_dropout"])
            assert (f"conv{i}_maxpool_kernel" in config) == (exists and config[f"conv{i}_maxpool"])
        for j in (1, 2):
            assert (f"fc{j}_units" in config) == (j <= config["n_fc_layers"])
        assert ("momentum" in config) == (config["optimizer"] == "sgd")


def test_extended_conditions_follow_stage_counts():
    for config in sample_configs(get_space("extended"), 300, seed=2):
        for s in (1, 2, 3, 4):
            assert (f"stage{s}_n_convs" in config) == (s <= config["n_stages"])
        assert ("fc_units" in config) == (config["n_fc_layers"] > 0)
        assert ("aug_rotate" in config) == (config["augment"] == "affine")


def test_to_plain_converts_numpy_scalars():
    numpy_values = {"a": np.int64(2), "b": np.float32(0.5), "c": np.bool_(True), "d": np.str_("x")}
    plain = to_plain(numpy_values)
    assert plain == {"a": 2, "b": 0.5, "c": True, "d": "x"}
    assert [type(v) for v in plain.values()] == [int, float, bool, str]
    configuration = get_space("seed").sample_configuration()
    assert all(type(v) in (int, float, str, bool) for v in to_plain(configuration).values())
