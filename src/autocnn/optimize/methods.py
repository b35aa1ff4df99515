"""Optimizers by method name: BOHB with TPE or KDE models, Hyperband, random search.

All four are :class:`~autocnn.optimize.bohb.BOHB` with settings the name implies; a name and a
setting that contradict it are an error rather than a silent override.
"""

from __future__ import annotations

from typing import Any

from ConfigSpace import ConfigurationSpace

from autocnn.errors import ConfigError
from autocnn.optimize.bohb import BOHB

# method name -> BOHB settings it implies
METHODS: dict[str, dict[str, str]] = {
    "bohb": {"model": "tpe"},
    "bohb-kde": {"model": "kde"},
    "hyperband": {"model": "random"},
    "random": {"model": "random", "schedule": "random"},
}


def make_optimizer(method: str, space: ConfigurationSpace, **kwargs: Any) -> BOHB:
    """An optimizer by method name: "bohb" (TPE model), "bohb-kde" (HpBandSter's KDE model),
    "hyperband" (no model) or "random" (random search at max_budget).

    Example:
        >>> import ConfigSpace as CS
        >>> opt = make_optimizer("hyperband", CS.ConfigurationSpace({"x": (0.0, 1.0)}),
        ...                      min_budget=1, max_budget=9)
        >>> opt.ask().budget
        1.0
    """
    if method not in METHODS:
        raise ConfigError(f"unknown optimization method {method!r}; choose one of {list(METHODS)}")
    implied = METHODS[method]
    clashes = {key: kwargs[key] for key in implied if key in kwargs and kwargs[key] != implied[key]}
    if clashes:
        raise ConfigError(
            f"method {method!r} implies {implied}; it cannot be combined with {clashes}"
        )
    return BOHB(space, **{**kwargs, **implied})
