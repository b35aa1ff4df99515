"""Hyperparameter importance from a random-forest surrogate (scikit-learn), CAVE-style.

CAVE ran fANOVA: fit a random forest to (config, loss) and split the variance of its prediction
into the parts each hyperparameter explains. We do the same on scikit-learn's
``RandomForestRegressor`` with two measures:

- **main effect** (fANOVA's first-order term, estimated as in Greenwell et al. 2018): for each
  hyperparameter, the variance of its partial dependence (the forest's mean prediction with that
  hyperparameter set to each observed value, the others as observed), as a share of the variance
  of the forest's predictions. Shares of a purely additive response sum to about 1; what is left
  is interactions.
- **permutation importance** (Breiman's, as ``sklearn.inspection.permutation_importance``
  computes it with MSE scoring): how much the forest's squared error grows when a column is
  shuffled; it also credits interactions.

Configs are encoded column by column from their dicts: numbers as they are (the forest does not
care about monotone rescaling such as a log scale), booleans as 0/1, strings as category codes,
and an inactive (conditional) hyperparameter as a sentinel below the column's range, the usual
imputation of fANOVA/CAVE. The data come from the largest budget with at least ``min_points``
successful evaluations, like CAVE's per-budget analysis; if no budget has that many, all budgets
are pooled with the budget as an extra column (the report says so).

Example::

    result = hyperparameter_importance(load_run("runs/kmnist"))
    for name, share in result.ranked()[:5]:
        print(name, share)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from autocnn.report.analysis import NothingToShow
from autocnn.report.load import RunData

BUDGET_COLUMN = "(budget)"


@dataclass
class Importance:
    """Per-hyperparameter importance on one budget (or on all budgets pooled)."""

    names: list[str]
    main_effect: np.ndarray  # share of the surrogate's prediction variance, per name
    permutation: np.ndarray  # mean increase of the surrogate's MSE when the column is shuffled
    permutation_std: np.ndarray
    n_points: int
    budget: float | None  # None: all budgets pooled (budget is one of the columns)
    fit_r2: float | None  # out-of-bag R^2 of the forest: how far the numbers can be trusted

    def ranked(self) -> list[tuple[str, float]]:
        """(name, main-effect share), most important first."""
        order = np.argsort(-self.main_effect, kind="mergesort")
        return [(self.names[i], float(self.main_effect[i])) for i in order]

    def describe(self) -> str:
        where = (
            f"the {self.n_points} successful evaluations at budget {self.budget:g}"
            if self.budget is not None
            else f"all {self.n_points} successful evaluations, budgets pooled "
            f"(no budget has enough on its own; {BUDGET_COLUMN} is a column)"
        )
        fit = (
            "out-of-bag R\u00b2 not available"
            if self.fit_r2 is None
            else f"out-of-bag R\u00b2 of the forest {self.fit_r2:.2f}"
        )
        caution = (
            " \u2014 few points: read it as a hint, not a finding" if self.n_points < 30 else ""
        )
        return f"Random forest fitted on {where}; {fit}{caution}."


def encode_configs(configs: list[dict[str, Any]]) -> tuple[np.ndarray, list[str]]:
    """Configs (dicts) -> matrix (n, d) and column names; constant columns are dropped.

    >>> X, names = encode_configs([{"lr": 0.1, "opt": "sgd"}, {"lr": 0.01, "opt": "adam"}])
    >>> names, X.tolist()
    (['lr', 'opt'], [[0.1, 1.0], [0.01, 0.0]])
    """
    names = sorted({key for config in configs for key in config})
    columns, kept = [], []
    for name in names:
        values = [config.get(name) for config in configs]
        present = [v for v in values if v is not None]
        if not present:
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, str) for v in present):
            numeric = [float(v) for v in present]
            column = [float(v) if v is not None else math.nan for v in values]
        else:
            codes = {v: i for i, v in enumerate(sorted({str(v) for v in present}))}
            numeric = list(codes.values())
            column = [float(codes[str(v)]) if v is not None else math.nan for v in values]
        low, high = min(numeric), max(numeric)
        sentinel = low - max(1.0, high - low)  # inactive sorts below every active value
        column = np.nan_to_num(np.array(column), nan=sentinel)
        if np.all(column == column[0]):
            continue  # a hyperparameter that never varied explains nothing
        columns.append(column)
        kept.append(name)
    if not columns:
        return np.empty((len(configs), 0)), []
    return np.column_stack(columns), kept


def _choose_points(run: RunData, min_points: int) -> tuple[list[Any], float | None]:
    by_budget: dict[float, list[Any]] = {}
    for evaluation in run.ok:
        by_budget.setdefault(evaluation.budget, []).append(evaluation)
    for budget in sorted(by_budget, reverse=True):
        if len(by_budget[budget]) >= min_points:
            return by_budget[budget], budget
    return run.ok, None


def hyperparameter_importance(
    run: RunData, *, min_points: int = 12, max_points: int = 3000, seed: int = 0
) -> Importance:
    """Importance of each hyperparameter for the validation loss (see the module docstring).

    Raises :class:`NothingToShow` with fewer than 6 successful evaluations in total or when no
    hyperparameter varied. At most ``max_points`` evaluations are used (a seeded sample), so a
    store of 100k rows stays quick.
    """
    from sklearn.ensemble import RandomForestRegressor

    points, budget = _choose_points(run, min_points)
    if len(points) < 6:
        raise NothingToShow(
            f"only {len(points)} successful evaluations: at least 6 are needed to fit a "
            "surrogate model for hyperparameter importance"
        )
    rng = np.random.default_rng(seed)
    if len(points) > max_points:
        points = [points[i] for i in sorted(rng.choice(len(points), max_points, replace=False))]
    configs = [dict(run.configs[e.config_id].config) for e in points if e.config_id in run.configs]
    points = [e for e in points if e.config_id in run.configs]
    if budget is None:
        for config, evaluation in zip(configs, points, strict=True):
            config[BUDGET_COLUMN] = float(evaluation.budget)
    X, names = encode_configs(configs)
    y = np.array([float(e.loss) for e in points])
    if not names:
        raise NothingToShow("no hyperparameter varied between the evaluations")
    if np.all(y == y[0]):
        raise NothingToShow("every evaluation has the same loss, so nothing explains it")
    forest = RandomForestRegressor(
        n_estimators=100,
        min_samples_leaf=2 if len(y) >= 20 else 1,
        max_features=0.5,
        oob_score=len(y) >= 10,
        random_state=seed,
        n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # OOB warnings on tiny data: the R^2 says enough
        forest.fit(X, y)
    fit_r2 = getattr(forest, "oob_score_", None)
    fit_r2 = float(fit_r2) if fit_r2 is not None and math.isfinite(fit_r2) else None
    main = _main_effects(forest, X)
    sample = _background(np.column_stack([X, y]), 300)  # permutations on <= 300 rows
    permutation, permutation_std = _permutation(forest, sample[:, :-1], sample[:, -1], 10, seed)
    return Importance(
        names=names,
        main_effect=main,
        permutation=permutation,
        permutation_std=permutation_std,
        n_points=len(y),
        budget=budget,
        fit_r2=fit_r2,
    )


def _background(X: np.ndarray, size: int = 400) -> np.ndarray:
    """At most ``size`` rows of ``X`` (a seeded sample): what the estimates average over."""
    if len(X) <= size:
        return X
    return X[np.random.default_rng(0).choice(len(X), size, replace=False)]


def _main_effects(forest: Any, X: np.ndarray, max_grid: int = 20) -> np.ndarray:
    """Variance of each column's partial dependence, as a share of the prediction variance.

    All columns' grids go through the forest in one ``predict`` call: a forest's per-call
    overhead, not its per-row cost, dominates on the small data of a run.
    """
    total = float(np.var(forest.predict(X)))
    if total <= 0:
        return np.zeros(X.shape[1])
    background = _background(X)
    blocks, grids = [], []
    for j in range(X.shape[1]):
        grid = np.unique(X[:, j])
        if len(grid) > max_grid:  # a continuous column: its quantiles, equally weighted
            grid = np.unique(np.quantile(X[:, j], np.linspace(0, 1, max_grid)))
            weights = np.ones(len(grid))
        else:  # weight each value by how often it was observed: the integral runs over the data
            weights = np.array([np.sum(X[:, j] == v) for v in grid], dtype=float)
        stacked = np.repeat(background[None, :, :], len(grid), axis=0)
        stacked[:, :, j] = grid[:, None]
        blocks.append(stacked.reshape(-1, X.shape[1]))
        grids.append((len(grid), weights))
    predictions = forest.predict(np.concatenate(blocks))
    shares, offset = np.zeros(X.shape[1]), 0
    for j, (size, weights) in enumerate(grids):
        chunk = predictions[offset : offset + size * len(background)]
        offset += size * len(background)
        marginal = chunk.reshape(size, len(background)).mean(axis=1)
        mean = np.average(marginal, weights=weights)
        shares[j] = np.average((marginal - mean) ** 2, weights=weights) / total
    return shares


def _permutation(
    forest: Any, X: np.ndarray, y: np.ndarray, repeats: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Breiman's permutation importance: growth of the MSE when one column is shuffled.

    The same measure as ``sklearn.inspection.permutation_importance`` with MSE scoring, with
    every shuffled copy predicted in one call (see :func:`_main_effects`).
    """
    rng = np.random.default_rng(seed)
    base = float(np.mean((forest.predict(X) - y) ** 2))
    n, d = X.shape
    copies = np.repeat(X[None, None, :, :], repeats, axis=0).repeat(d, axis=1)  # (r, d, n, d)
    for r in range(repeats):
        for j in range(d):
            copies[r, j, :, j] = X[rng.permutation(n), j]
    predictions = forest.predict(copies.reshape(-1, d)).reshape(repeats, d, n)
    growth = np.mean((predictions - y[None, None, :]) ** 2, axis=2) - base  # (r, d)
    return growth.mean(axis=0), growth.std(axis=0)
