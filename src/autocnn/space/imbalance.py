"""The class-imbalance hyperparameters both spaces share (applied by the trainer).

``imbalance`` picks the method (see :mod:`autocnn.train.imbalance`); ``imbalance_beta`` (the
exponent of the inverse-frequency class weights ``n_c ** -beta``) is active only with
``weighted_loss``, ``imbalance_tau`` (the logit-adjustment strength of Menon et al., ICLR 2021)
only with ``logit_adjustment``. On a balanced dataset every method equals ``none`` up to the
sampling noise of class-balanced draws.
"""

from __future__ import annotations

from typing import Any

from ConfigSpace import Categorical, EqualsCondition, Float

IMBALANCE_METHODS = ("none", "weighted_loss", "balanced_sampling", "logit_adjustment")
IMBALANCE_KEYS = ("imbalance", "imbalance_beta", "imbalance_tau")

# Hyperparameters added after runs were recorded, with the value that reproduces how those runs
# trained: a config without the key (an old run's) loads with this value filled in.
LEGACY_VALUES: dict[str, Any] = {"imbalance": "none"}


def imbalance_hyperparameters(default: str = "none") -> tuple[list, list]:
    """``(hyperparameters, conditions)`` of the imbalance handling, defaulting to ``default``."""
    method = Categorical("imbalance", list(IMBALANCE_METHODS), default=default)
    beta = Float("imbalance_beta", (0.1, 1.0), default=1.0)  # 1: inverse frequency
    tau = Float("imbalance_tau", (0.1, 2.0), default=1.0)  # 1: the paper's choice
    conditions = [
        EqualsCondition(beta, method, "weighted_loss"),
        EqualsCondition(tau, method, "logit_adjustment"),
    ]
    return [method, beta, tau], conditions
