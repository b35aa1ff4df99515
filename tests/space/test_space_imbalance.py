"""The imbalance hyperparameters of both spaces, and old configs without them."""

from __future__ import annotations

import json

import pytest

from autocnn.errors import ConfigError
from autocnn.space import default_config, get_space, load_config, sample_configs, validate_config
from autocnn.space.imbalance import default_method
from autocnn.train import TrainSettings

SPACES = ["seed", "extended"]


@pytest.mark.parametrize("name", SPACES)
def test_methods_and_conditional_parameters(name):
    space = get_space(name)
    assert list(space["imbalance"].choices) == [
        "none",
        "weighted_loss",
        "balanced_sampling",
        "logit_adjustment",
    ]
    assert default_config(name)["imbalance"] == "none"  # the defaults train as before
    (beta_condition,) = space.parent_conditions_of["imbalance_beta"]
    (tau_condition,) = space.parent_conditions_of["imbalance_tau"]
    assert (beta_condition.parent.name, beta_condition.value) == ("imbalance", "weighted_loss")
    assert (tau_condition.parent.name, tau_condition.value) == ("imbalance", "logit_adjustment")
    weighted = {**default_config(name), "imbalance": "weighted_loss", "imbalance_beta": 0.5}
    assert TrainSettings.from_config(validate_config(weighted, space)).imbalance.beta == 0.5
    with pytest.raises(ConfigError, match="imbalance_tau"):  # inactive with weighted_loss
        validate_config({**weighted, "imbalance_tau": 1.0}, space)
    with pytest.raises(ConfigError, match="imbalance_beta"):  # active, so required
        validate_config({**default_config(name), "imbalance": "weighted_loss"}, space)


@pytest.mark.parametrize("name", SPACES)
def test_random_configs_try_every_method(name):
    methods = {c["imbalance"] for c in sample_configs(get_space(name), 60, seed=0)}
    assert len(methods) == 4


@pytest.mark.parametrize("name", SPACES)
def test_an_old_runs_config_still_loads_and_means_none(name, tmp_path):
    old = {k: v for k, v in default_config(name).items() if not k.startswith("imbalance")}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    loaded = load_config(path, get_space(name))
    assert loaded == {**old, "imbalance": "none"}
    assert TrainSettings.from_config(loaded).imbalance.method == "none"
    # Only the hyperparameters added later are filled in; any other missing key still fails.
    del old["batch_size"]
    with pytest.raises(ConfigError, match="batch_size"):
        validate_config(old, get_space(name))


@pytest.mark.parametrize("name", SPACES)
def test_a_space_without_imbalance_search_holds_none_and_its_configs_are_full_configs(name):
    space = get_space(name, imbalance=False)
    assert space["imbalance"].value == "none"
    assert "imbalance_beta" not in space and "imbalance_tau" not in space
    configs = sample_configs(space, 20, seed=0)
    assert {c["imbalance"] for c in configs} == {"none"}
    full = get_space(name)
    assert all(validate_config(c, full) == c for c in configs)  # the pipeline reads them
    assert validate_config(default_config(name), space) == default_config(name)
    with pytest.raises(ConfigError, match="imbalance"):
        validate_config({**default_config(name), "imbalance": "balanced_sampling"}, space)


@pytest.mark.parametrize("name", SPACES)
def test_an_imbalanced_datasets_space_defaults_to_balanced_sampling(name):
    space = get_space(name, imbalance_default=default_method([400, 100, 40]))
    default = dict(space.get_default_configuration())
    assert default == {**default_config(name), "imbalance": "balanced_sampling"}
    assert default_method([50, 50, 49]) == "none"
