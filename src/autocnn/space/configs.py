"""Configs as plain dicts: conversion, validation against a space, sampling and JSON files."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ConfigSpace import (
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    Constant,
    OrdinalHyperparameter,
)
from ConfigSpace.hyperparameters import FloatHyperparameter, IntegerHyperparameter

from autocnn.errors import ConfigError
from autocnn.space.imbalance import LEGACY_VALUES

# Hyperparameters split off an older one: new key -> the key old configs stored its value under.
# ``sgd_learning_rate`` (extended space) was ``learning_rate`` while one range served every
# optimizer; an old config's value moves to the new key where only the new key is active.
LEGACY_KEYS: dict[str, str] = {"sgd_learning_rate": "learning_rate"}
# Ranges narrowed since runs were recorded, (space, key) -> the old range: an old value outside
# the new range is refused with this named, since ConfigSpace allows no value outside the bounds.
NARROWED: dict[tuple[str, str], tuple[float, float]] = {
    ("extended", "learning_rate"): (1e-4, 0.3),
    ("extended", "sgd_learning_rate"): (1e-4, 0.3),
}


def _active(name: str, values: Mapping[str, Any], space: ConfigurationSpace) -> bool:
    return all(_satisfied(c, values) for c in space.parent_conditions_of[name])


def upgrade_legacy(config: Mapping[str, Any], space: ConfigurationSpace) -> dict[str, Any]:
    """``config`` with values stored under an old key (:data:`LEGACY_KEYS`) moved to the new
    key, where the new key is active and the old one is not (an old SGD config's
    ``learning_rate`` becomes ``sgd_learning_rate``); anything else is left as it is.

    Example:
        >>> from autocnn.space import default_config, get_space
        >>> old = {**default_config("extended"), "optimizer": "sgd", "momentum": 0.9}
        >>> upgrade_legacy(old, get_space("extended"))["sgd_learning_rate"]
        0.003
    """
    config = dict(config)
    for new, old in LEGACY_KEYS.items():
        if new in space and new not in config and old in config and _active(new, config, space):
            if old not in space or not _active(old, config, space):
                config[new] = config.pop(old)
    return config


def _plain(value: Any) -> Any:
    # numpy scalars (np.int64, np.bool_, np.str_) break JSON and SQLite; .item() gives Python's.
    if isinstance(value, np.generic):
        value = value.item()
    return value


def to_plain(config: Mapping[str, Any] | Configuration) -> dict[str, Any]:
    """A ConfigSpace ``Configuration`` or dict as a dict of plain Python scalars, keys sorted.

    Example:
        >>> import numpy as np
        >>> to_plain({"b": np.int64(3), "a": np.float64(0.5)})
        {'a': 0.5, 'b': 3}
    """
    return {str(key): _plain(value) for key, value in sorted(dict(config).items())}


def _allowed(hp: Any) -> str:
    if isinstance(hp, CategoricalHyperparameter):
        return f"one of {list(hp.choices)}"
    if isinstance(hp, OrdinalHyperparameter):
        return f"one of {list(hp.sequence)}"
    if isinstance(hp, Constant):
        return f"{hp.value!r}"
    kind = "an int" if isinstance(hp, IntegerHyperparameter) else "a number"
    return f"{kind} in [{hp.lower}, {hp.upper}]"


def _coerce(hp: Any, value: Any) -> Any:
    """The value as the hyperparameter's Python type, or ConfigError saying what is allowed."""
    value = _plain(value)
    ok = False
    if isinstance(hp, (CategoricalHyperparameter, OrdinalHyperparameter, Constant)):
        if isinstance(hp, CategoricalHyperparameter):
            options = [_plain(option) for option in hp.choices]
        elif isinstance(hp, OrdinalHyperparameter):
            options = [_plain(option) for option in hp.sequence]
        else:
            options = [_plain(hp.value)]
        # type() check too: in Python True == 1, but a bool switch must not accept 1.
        ok = any(type(value) is type(option) and value == option for option in options)
    elif isinstance(hp, IntegerHyperparameter):
        ok = type(value) is int and hp.lower <= value <= hp.upper
    elif isinstance(hp, FloatHyperparameter):
        if type(value) is int:  # JSON writes 1.0 as 1
            value = float(value)
        ok = type(value) is float and math.isfinite(value) and hp.lower <= value <= hp.upper
    if not ok:
        raise ConfigError(f"config key {hp.name!r} has value {value!r}; allowed: {_allowed(hp)}")
    return value


def _satisfied(condition: Any, values: dict[str, Any]) -> bool:
    # A condition on a parent that is itself inactive (absent from values) is not satisfied.
    try:
        return bool(condition.satisfied_by_value(values))
    except KeyError:
        return False


def validate_config(config: Mapping[str, Any], space: ConfigurationSpace) -> dict[str, Any]:
    """Check ``config`` against ``space`` and return it as plain Python scalars.

    Nothing is filled in, with two exceptions, so that an old run's config still loads and means
    what it meant: a hyperparameter added after runs were recorded (``LEGACY_VALUES``, e.g.
    ``imbalance``) takes the value those runs trained with, and one split off an older key
    (``LEGACY_KEYS``: an SGD config's ``learning_rate`` is now ``sgd_learning_rate``) takes the
    old key's value (see :func:`upgrade_legacy`). An old value outside the new, narrower range is
    refused (ConfigSpace has no values outside the bounds), naming the key and both ranges.
    Otherwise every active hyperparameter must be given, no inactive or unknown one may be.
    Raises ConfigError naming the key, the bad value and what is allowed.

    Example:
        >>> from autocnn.space import default_config, get_space
        >>> validate_config(default_config("seed"), get_space("seed"))["n_conv_layers"]
        1
    """
    if isinstance(config, Configuration):
        config = dict(config)
    if not isinstance(config, Mapping):
        raise ConfigError(f"a config must be a JSON object / dict, got {type(config).__name__}")
    upgraded = upgrade_legacy(config, space)
    moved = {new: LEGACY_KEYS[new] for new in upgraded if new not in config}
    config = upgraded
    names = set(space.keys())
    unknown = sorted(str(key) for key in config if key not in names)
    if unknown:
        raise ConfigError(
            f"config has unknown key(s) {unknown} for space {space.name!r}; "
            f"known keys: {sorted(names)}"
        )
    result: dict[str, Any] = {}
    for name, hp in space.items():  # topological order: parents come before children
        conditions = space.parent_conditions_of[name]
        active = all(_satisfied(cond, result) for cond in conditions)
        needs = " and ".join(str(cond) for cond in conditions)
        if active and name not in config and name in LEGACY_VALUES:
            result[name] = LEGACY_VALUES[name]
            continue
        if active and name not in config:
            why = f", active here because {needs}" if conditions else ""
            raise ConfigError(
                f"config is missing key {name!r}{why}; allowed: {_allowed(hp)}. Tip: start from "
                f"a default config (autocnn.space.default_config) and change what you need"
            )
        if not active and name in config:
            raise ConfigError(f"config key {name!r} is inactive here (it needs {needs}); remove it")
        if active:
            try:
                result[name] = _coerce(hp, config[name])
            except ConfigError as err:
                old = NARROWED.get((space.name, name))
                if old is None:
                    raise
                stored = f" (stored as {moved[name]!r})" if name in moved else ""
                raise ConfigError(
                    f"{err}. The range was [{old[0]:g}, {old[1]:g}] for every optimizer before "
                    f"each optimizer got its own; a config from then{stored} with a value outside "
                    f"today's range must be moved into it"
                ) from None
    try:  # ConfigSpace's own check (forbidden clauses, anything missed above)
        Configuration(space, values=result)
    except Exception as err:
        raise ConfigError(f"config does not fit space {space.name!r}: {err}") from None
    return dict(sorted(result.items()))


def sample_configs(space: ConfigurationSpace, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` random configurations of ``space`` as plain dicts, reproducible from ``seed``.

    Example:
        >>> from autocnn.space import get_space
        >>> a = sample_configs(get_space("seed"), 3, seed=1)
        >>> a == sample_configs(get_space("seed"), 3, seed=1)
        True
    """
    if n < 0:
        raise ConfigError(f"cannot sample a negative number of configs ({n})")
    if n == 0:
        return []
    # A copy, so sampling neither depends on nor advances the caller's space RNG.
    local = ConfigurationSpace.from_serialized_dict(space.to_serialized_dict())
    local.seed(seed)
    samples = local.sample_configuration(n) if n > 1 else [local.sample_configuration()]
    return [to_plain(config) for config in samples]


def _write_atomically(path: Path, text: str) -> None:
    # Write a sibling temp file, then rename: an error never leaves a half-written file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_config(config: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write a config as indented JSON (plain scalars, sorted keys).

    Example:
        >>> save_config({"batch_size": 100}, "/tmp/autocnn-doctest-config.json")
    """
    try:
        text = json.dumps(to_plain(config), indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as err:
        raise ConfigError(f"config cannot be written as JSON to {path}: {err}") from None
    _write_atomically(Path(path), text)


def load_config(path: str | os.PathLike, space: ConfigurationSpace) -> dict[str, Any]:
    """Read a JSON config file and validate it against ``space``.

    Example:
        >>> import tempfile
        >>> from autocnn.space import default_config, get_space
        >>> path = Path(tempfile.mkdtemp()) / "config.json"
        >>> save_config(default_config("seed"), path)
        >>> load_config(path, get_space("seed"))["batch_size"]
        50
    """
    path = Path(path)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"config file {path} is not readable JSON: {err}") from None
    if not isinstance(config, dict):
        kind = type(config).__name__
        raise ConfigError(f"config file {path} must hold a JSON object, not a {kind}")
    try:
        return validate_config(config, space)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def space_to_json(space: ConfigurationSpace, path: str | os.PathLike) -> None:
    """Write ``space`` in ConfigSpace's own JSON format (read back by :func:`space_from_json`)."""
    _write_atomically(Path(path), json.dumps(space.to_serialized_dict(), indent=2) + "\n")


def space_from_json(path: str | os.PathLike) -> ConfigurationSpace:
    """Read a space written by :func:`space_to_json` (or ConfigSpace's ``to_json``).

    Example:
        >>> from autocnn.space import get_space
        >>> space_to_json(get_space("seed"), "/tmp/autocnn-doctest-space.json")
        >>> space_from_json("/tmp/autocnn-doctest-space.json") == get_space("seed")
        True
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ConfigurationSpace.from_serialized_dict(data)
    except FileNotFoundError:
        raise ConfigError(f"space file {path} does not exist") from None
    except Exception as err:
        raise ConfigError(
            f"space file {path} is not a ConfigSpace JSON space ({type(err).__name__}: {err})"
        ) from None
