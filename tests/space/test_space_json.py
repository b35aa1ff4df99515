"""JSON round trips of spaces and configs, and errors on bad files."""

from __future__ import annotations

import json

import pytest

from autocnn.errors import ConfigError
from autocnn.space import (
    default_config,
    get_space,
    load_config,
    sample_configs,
    save_config,
    space_from_json,
    space_to_json,
)


@pytest.mark.parametrize("name", ["seed", "extended"])
def test_space_round_trips_through_configspace_json(tmp_path, name):
    space = get_space(name)
    path = tmp_path / "space.json"
    space_to_json(space, path)
    loaded = space_from_json(path)
    assert loaded == space
    assert sample_configs(loaded, 50, seed=3) == sample_configs(space, 50, seed=3)


def test_space_from_configspace_to_json(tmp_path):
    path = tmp_path / "space.json"
    get_space("seed").to_json(path)  # ConfigSpace's own writer
    assert space_from_json(path) == get_space("seed")


def test_space_from_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        space_from_json(tmp_path / "missing.json")
    path = tmp_path / "bad.json"
    path.write_text('{"hyperparameters": "nope"}')
    with pytest.raises(ConfigError, match="bad.json"):
        space_from_json(path)


@pytest.mark.parametrize("name", ["seed", "extended"])
def test_configs_round_trip_through_json(tmp_path, name):
    space = get_space(name)
    for i, config in enumerate([default_config(name), *sample_configs(space, 20, seed=4)]):
        path = tmp_path / f"config{i}.json"
        save_config(config, path)
        assert load_config(path, space) == config
        assert json.loads(path.read_text()) == config


def test_load_config_errors_name_the_file(tmp_path):
    space = get_space("seed")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.json", space)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json"):
        load_config(broken, space)
    a_list = tmp_path / "list.json"
    a_list.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_config(a_list, space)
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({**default_config("seed"), "n_conv_layers": 9}))
    with pytest.raises(ConfigError, match="invalid.json.*n_conv_layers"):
        load_config(invalid, space)


def test_failed_save_leaves_existing_file_untouched(tmp_path):
    path = tmp_path / "config.json"
    save_config(default_config("seed"), path)
    before = path.read_text()
    with pytest.raises(ConfigError):
        save_config({"learning_rate": object()}, path)
    with pytest.raises(ConfigError):
        save_config({"learning_rate": float("inf")}, path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp files left
