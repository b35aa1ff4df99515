"""Per-optimizer learning rates in the extended space: own ranges, old configs still load."""

from __future__ import annotations

import json

import pytest

from autocnn.errors import ConfigError
from autocnn.space import default_config, get_space, load_config, sample_configs, validate_config
from autocnn.space.configs import upgrade_legacy
from autocnn.space.extended import ADAM_LR_RANGE, SGD_LR_RANGE
from autocnn.space.portfolio import portfolio


@pytest.fixture(scope="module")
def space():
    return get_space("extended")


def _old_sgd(lr: float) -> dict:
    """An extended-space SGD config as stored before the split: its rate under learning_rate."""
    return {**default_config("extended"), "optimizer": "sgd", "momentum": 0.9, "learning_rate": lr}


def test_each_optimizer_samples_from_its_own_range(space):
    configs = sample_configs(space, 300, seed=3)
    by_optimizer = {
        name: [c for c in configs if c["optimizer"] == name] for name in space["optimizer"].choices
    }
    assert all(len(group) > 50 for group in by_optimizer.values())
    for config in by_optimizer["sgd"]:
        assert "learning_rate" not in config
        assert SGD_LR_RANGE[0] <= config["sgd_learning_rate"] <= SGD_LR_RANGE[1]
    for config in by_optimizer["adam"] + by_optimizer["adamw"]:
        assert "sgd_learning_rate" not in config
        assert ADAM_LR_RANGE[0] <= config["learning_rate"] <= ADAM_LR_RANGE[1]
    # the ranges are really used: SGD draws rates Adam never gets, and below SGD's floor
    assert max(c["sgd_learning_rate"] for c in by_optimizer["sgd"]) > 0.1
    assert min(c["learning_rate"] for c in by_optimizer["adam"]) < SGD_LR_RANGE[0]
    for config in configs:
        assert validate_config(config, space) == config
    assert space["learning_rate"].log and space["sgd_learning_rate"].log


def test_old_sgd_config_loads_with_its_rate_under_the_new_key(space, tmp_path):
    upgraded = validate_config(_old_sgd(0.048), space)
    assert upgraded["sgd_learning_rate"] == 0.048 and "learning_rate" not in upgraded
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_old_sgd(0.2)))
    assert load_config(path, space)["sgd_learning_rate"] == 0.2
    # a new config, and an old Adam one, are left as they are
    new = {**_old_sgd(0.05)}
    new["sgd_learning_rate"] = new.pop("learning_rate")
    assert validate_config(new, space) == upgraded | {"sgd_learning_rate": 0.05}
    assert validate_config(default_config("extended"), space)["learning_rate"] == 3e-3


def test_upgrade_moves_only_where_the_old_key_is_inactive(space):
    assert upgrade_legacy(default_config("extended"), space) == default_config("extended")
    both = {**_old_sgd(0.05), "sgd_learning_rate": 0.1}
    assert upgrade_legacy(both, space) == both  # nothing is overwritten ...
    with pytest.raises(ConfigError, match="'learning_rate' is inactive"):
        validate_config(both, space)  # ... and the stray key is reported
    seed_sgd = {**default_config("seed"), "optimizer": "sgd", "momentum": 0.9}
    assert upgrade_legacy(seed_sgd, get_space("seed")) == seed_sgd  # the seed space: one key


def test_old_values_outside_the_new_ranges_are_refused_naming_both_ranges(space):
    with pytest.raises(ConfigError) as err:
        validate_config(_old_sgd(5e-4), space)
    text = str(err.value)
    assert "sgd_learning_rate" in text and "[0.003, 0.3]" in text and "[0.0001, 0.3]" in text
    assert "stored as 'learning_rate'" in text
    with pytest.raises(ConfigError, match=r"learning_rate.*\[0.0003, 0.01\].*\[0.0001, 0.3\]"):
        validate_config({**default_config("extended"), "learning_rate": 0.05}, space)
    # the seed space kept the study's single range: Adadelta's 1.0 and SGD's 1e-5 still fit
    seed = get_space("seed")
    assert validate_config({**default_config("seed"), "learning_rate": 1e-5}, seed)
    with pytest.raises(ConfigError, match=r"\[1e-05, 1.0\]") as err:
        validate_config({**default_config("seed"), "learning_rate": 2.0}, seed)
    assert "every optimizer" not in str(err.value)


def test_portfolio_sgd_entry_uses_the_sgd_key():
    entries = dict(portfolio("extended"))
    sgd = entries["residual-sgd"]
    assert sgd["optimizer"] == "sgd" and sgd["sgd_learning_rate"] == 0.048
    assert "learning_rate" not in sgd
    assert all("sgd_learning_rate" not in c for n, c in entries.items() if n != "residual-sgd")


def test_random_draws_mostly_use_batchnorm_but_can_leave_it_out(space):
    share = sum(c["batchnorm"] for c in sample_configs(space, 400, seed=0)) / 400
    assert 0.83 < share < 0.97  # weights 1:9
    off = {**default_config("extended"), "batchnorm": False}
    assert validate_config(off, space)["batchnorm"] is False
