"""validate_config: strict checks with messages that name the key, the value and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest

from autocnn.errors import ConfigError
from autocnn.space import default_config, get_space, validate_config


@pytest.fixture(scope="module")
def seed_space():
    return get_space("seed")


def _bad(config, space, *fragments):
    with pytest.raises(ConfigError) as err:
        validate_config(config, space)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)


def test_unknown_key(seed_space):
    _bad({**default_config("seed"), "lerning_rate": 0.1}, seed_space, "lerning_rate", "unknown")


def test_out_of_range_value_names_allowed_range(seed_space):
    _bad({**default_config("seed"), "n_conv_layers": 4}, seed_space, "n_conv_layers", "4", "[1, 3]")
    _bad({**default_config("seed"), "learning_rate": 2.0}, seed_space, "learning_rate", "2.0")
    _bad({**default_config("seed"), "learning_rate": float("nan")}, seed_space, "learning_rate")


def test_bad_categorical_lists_choices(seed_space):
    _bad({**default_config("seed"), "optimizer": "rmsprop"}, seed_space, "rmsprop", "adadelta")


def test_types_are_strict(seed_space):
    _bad({**default_config("seed"), "batch_size": 100.5}, seed_space, "batch_size")
    _bad({**default_config("seed"), "batch_size": "100"}, seed_space, "batch_size")
    _bad({**default_config("seed"), "conv1_batchnorm": 0}, seed_space, "conv1_batchnorm")
    _bad({**default_config("seed"), "n_fc_layers": False}, seed_space, "n_fc_layers")


def test_int_for_float_is_accepted_as_float(seed_space):
    config = {**default_config("seed"), "learning_rate": 1}  # JSON writes 1.0 as 1
    assert type(validate_config(config, seed_space)["learning_rate"]) is float


def test_inactive_key_given(seed_space):
    # momentum belongs to sgd only; conv2_* to configs with >= 2 conv layers
    _bad({**default_config("seed"), "momentum": 0.9}, seed_space, "momentum", "inactive")
    _bad({**default_config("seed"), "conv2_stride": 1}, seed_space, "conv2_stride", "inactive")
    _bad({**default_config("seed"), "conv1_dropout_rate": 0.1}, seed_space, "conv1_dropout_rate")


def test_missing_active_key(seed_space):
    config = default_config("seed")
    del config["conv1_kernel_size"]
    _bad(config, seed_space, "conv1_kernel_size", "missing")
    _bad({**default_config("seed"), "optimizer": "sgd"}, seed_space, "momentum", "missing")
    _bad({**default_config("seed"), "n_conv_layers": 2}, seed_space, "missing")


def test_not_a_dict(seed_space):
    _bad([("n_conv_layers", 1)], seed_space, "dict")


def test_valid_conditional_config_and_numpy_input(seed_space):
    config = {
        **default_config("seed"),
        "optimizer": "sgd",
        "momentum": np.float64(0.8),
        "n_fc_layers": np.int64(1),
        "fc1_units": 64,
        "fc1_batchnorm": np.bool_(True),
        "fc1_dropout": True,
        "fc1_dropout_rate": 0.25,
    }
    result = validate_config(config, seed_space)
    assert result["momentum"] == 0.8 and result["n_fc_layers"] == 1 and result["fc1_batchnorm"]
    assert all(type(v) in (int, float, str, bool) for v in result.values())
    assert list(result) == sorted(result)


def test_extended_space_checks_its_own_conditions():
    space = get_space("extended")
    config = {**default_config("extended"), "augment": "none"}
    _bad(config, space, "aug_", "inactive")
    for key in ("aug_rotate", "aug_translate", "aug_scale", "aug_erasing"):
        del config[key]
    assert validate_config(config, space)["augment"] == "none"
    _bad(default_config("seed"), space, "unknown")


def test_accepts_a_configspace_configuration():
    space = get_space("extended", seed=0)
    configuration = space.sample_configuration()
    result = validate_config(configuration, space)
    assert result == {key: configuration[key] for key in configuration}
    assert all(type(v) in (int, float, str, bool) for v in result.values())
