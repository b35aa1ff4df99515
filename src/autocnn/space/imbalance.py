"""The class-imbalance hyperparameters both spaces share (applied by the trainer).

``imbalance`` picks the method (see :mod:`autocnn.train.imbalance`); ``imbalance_beta`` (the
exponent of the inverse-frequency class weights ``n_c ** -beta``) is active only with
``weighted_loss``, ``imbalance_tau`` (the logit-adjustment strength of Menon et al., ICLR 2021)
only with ``logit_adjustment``. On a balanced dataset every method equals ``none`` up to the
sampling noise of class-balanced draws.

A space built with ``searched=False`` (``--no-imbalance``) holds ``imbalance`` as the constant
``"none"``: its configs are still valid configs of the full space (plain cross-entropy), so
final evaluation, transfer and reports read them as any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ConfigSpace import Categorical, Constant, EqualsCondition, Float

from autocnn.errors import ConfigError

IMBALANCE_METHODS = ("none", "weighted_loss", "balanced_sampling", "logit_adjustment")
IMBALANCE_KEYS = ("imbalance", "imbalance_beta", "imbalance_tau")
# What a user may ask of a step that trains a given config without searching (weight transfer):
# "auto" = by the destination's class counts, "source" = the config's own, or a method.
IMBALANCE_CHOICES = ("auto", "source", *IMBALANCE_METHODS)

# Hyperparameters added after runs were recorded, with the value that reproduces how those runs
# trained: a config without the key (an old run's) loads with this value filled in.
LEGACY_VALUES: dict[str, Any] = {"imbalance": "none"}


# Where a search starts on an imbalanced dataset (the default config's method, and so the prior's
# centre): class-balanced sampling had the best balanced and worst-class accuracy of the four
# methods on kmnist10k-dest-longtail (BENCHMARKS §10), and searches starting there beat searches
# without the handling by 2-3 points. Fine-tuning a transferred net differs (weight_transfer.py).
IMBALANCED_DEFAULT = "balanced_sampling"


def default_method(class_counts: Sequence[int] | None) -> str:
    """The imbalance handling a dataset with these training counts starts from: ``"none"`` when
    it is balanced (or the counts are unknown), else :data:`IMBALANCED_DEFAULT`.

    Example:
        >>> default_method([400, 200, 40]), default_method([100, 100, 99]), default_method(None)
        ('balanced_sampling', 'none', 'none')
    """
    from autocnn.data.splits import class_balance_summary  # data sits upstream of the space

    if class_counts is None or class_balance_summary(list(class_counts)).is_balanced:
        return "none"
    return IMBALANCED_DEFAULT


# The methods' parameters where a config sets a method without searching them: beta 1 = inverse
# class frequency, tau 1 = the paper's choice.
PARAMETER_DEFAULTS = {"imbalance_beta": 1.0, "imbalance_tau": 1.0}
_PARAMETER_OF = {"weighted_loss": "imbalance_beta", "logit_adjustment": "imbalance_tau"}


def with_imbalance(config: dict[str, Any], method: str) -> dict[str, Any]:
    """``config`` with its imbalance handling replaced by ``method`` (its parameter default).

    Example:
        >>> with_imbalance({"imbalance": "logit_adjustment", "imbalance_tau": 0.3}, "weighted_loss")
        {'imbalance': 'weighted_loss', 'imbalance_beta': 1.0}
    """
    if method not in IMBALANCE_METHODS:
        raise ConfigError(
            f"imbalance {method!r} is not known; choose one of {', '.join(IMBALANCE_METHODS)}"
        )
    kept = {k: v for k, v in config.items() if k not in IMBALANCE_KEYS}
    kept["imbalance"] = method
    if method in _PARAMETER_OF:
        kept[_PARAMETER_OF[method]] = PARAMETER_DEFAULTS[_PARAMETER_OF[method]]
    return kept


def imbalance_hyperparameters(default: str = "none", searched: bool = True) -> tuple[list, list]:
    """``(hyperparameters, conditions)`` of the imbalance handling, defaulting to ``default``;
    with ``searched=False`` only the constant ``imbalance = "none"``.

    Example:
        >>> [hp.name for hp in imbalance_hyperparameters(searched=False)[0]]
        ['imbalance']
    """
    if not searched:
        return [Constant("imbalance", "none")], []
    method = Categorical("imbalance", list(IMBALANCE_METHODS), default=default)
    beta = Float("imbalance_beta", (0.1, 1.0), default=PARAMETER_DEFAULTS["imbalance_beta"])
    tau = Float("imbalance_tau", (0.1, 2.0), default=PARAMETER_DEFAULTS["imbalance_tau"])
    conditions = [
        EqualsCondition(beta, method, "weighted_loss"),
        EqualsCondition(tau, method, "logit_adjustment"),
    ]
    return [method, beta, tau], conditions
