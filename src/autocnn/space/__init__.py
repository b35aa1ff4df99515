"""Search spaces ("seed", "extended") and configs as plain, validated dicts.

>>> from autocnn.space import default_config, get_space, validate_config
>>> space = get_space("extended", seed=0)
>>> validate_config(default_config("extended"), space)["n_stages"]
2
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ConfigSpace import ConfigurationSpace

from autocnn.errors import ConfigError
from autocnn.space.configs import (
    load_config,
    sample_configs,
    save_config,
    space_from_json,
    space_to_json,
    to_plain,
    validate_config,
)
from autocnn.space.extended import EXTENDED_DEFAULT, extended_space
from autocnn.space.seed import SEED_DEFAULT, seed_space

__all__ = [
    "SPACES",
    "default_config",
    "get_space",
    "load_config",
    "resolve_config",
    "sample_configs",
    "save_config",
    "space_from_json",
    "space_to_json",
    "to_plain",
    "validate_config",
]

SPACES = {"seed": seed_space, "extended": extended_space}
_DEFAULTS = {"seed": SEED_DEFAULT, "extended": EXTENDED_DEFAULT}


def _check_name(name: str) -> None:
    if name not in SPACES:
        raise ConfigError(f"unknown search space {name!r}; known spaces: {sorted(SPACES)}")


def get_space(
    name: str = "seed",
    seed: int | None = None,
    *,
    imbalance: bool = True,
    imbalance_default: str | None = None,
) -> ConfigurationSpace:
    """A fresh ConfigurationSpace by name; ``seed`` seeds its sampler; ``imbalance=False``
    fixes the class-imbalance handling to ``"none"`` instead of searching it;
    ``imbalance_default`` makes another method the default's (an imbalanced dataset's search).

    Example:
        >>> len(list(get_space("seed").keys())) > 30
        True
    """
    _check_name(name)
    return SPACES[name](seed=seed, imbalance=imbalance, imbalance_default=imbalance_default)


def default_config(name: str = "seed") -> dict[str, Any]:
    """The space's default configuration as a new plain dict (its ConfigSpace default too).

    Example:
        >>> default_config("extended")["optimizer"]
        'adamw'
    """
    _check_name(name)
    return dict(sorted(_DEFAULTS[name].items()))


def resolve_config(
    config: str | Path | Mapping[str, Any], space_name: str = "seed"
) -> dict[str, Any]:
    """``"default"`` -> the space's default; a dict or a JSON file -> validated against the space.

    Example:
        >>> resolve_config("default", "seed")["n_conv_layers"]
        1
    """
    config_space = get_space(space_name)
    if isinstance(config, Mapping):
        return validate_config(config, config_space)
    if str(config) == "default":
        return default_config(space_name)
    return load_config(Path(config), config_space)
