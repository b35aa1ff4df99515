"""The numbers behind the plots: trajectories, concurrency, rank correlations, top configurations.

Pure functions of a :class:`~autocnn.report.load.RunData`; no drawing here, so each can be tested
on its own. A function that cannot say anything about a run (no finished evaluation, a single
budget) raises :class:`NothingToShow` with a sentence the report prints instead of the plot.

Example::

    run = load_run("runs/kmnist")
    steps = incumbent_trajectory(run)
    print(steps[-1].loss, steps[-1].seconds)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from autocnn.optimize.store import EvaluationRow
from autocnn.report.load import RunData


class NothingToShow(Exception):
    """A plot or table has no data for this run; the message is shown in its place."""


@dataclass(frozen=True)
class TrajectoryStep:
    """The incumbent after an evaluation finished that changed it."""

    seconds: float  # wall time since the run's first submission
    cost: float  # epochs trained by all evaluations finished so far (failures included)
    loss: float
    budget: float
    config_id: int


def incumbent_trajectory(run: RunData) -> list[TrajectoryStep]:
    """HpBandSter's incumbent trajectory: the best loss at the largest budget seen so far.

    An evaluation at a larger budget than the incumbent's replaces it even if its loss is
    higher (a longer-trained result is the more trustworthy one); a lower loss at a smaller
    budget does not. This matches :meth:`Store.incumbent` at the end of the run.
    """
    steps: list[TrajectoryStep] = []
    cost = 0.0
    best: tuple[float, float] | None = None  # (budget, loss)
    for evaluation in run.finished:
        cost += evaluation.cost or 0.0
        if evaluation.status != "ok" or not _finite(evaluation.loss):
            continue
        key = (evaluation.budget, evaluation.loss)
        if best is None or key[0] > best[0] or (key[0] == best[0] and key[1] < best[1]):
            best = key
            steps.append(
                TrajectoryStep(
                    seconds=_elapsed(run, evaluation),
                    cost=cost,
                    loss=float(evaluation.loss),
                    budget=float(evaluation.budget),
                    config_id=evaluation.config_id,
                )
            )
    if not steps:
        raise NothingToShow("no evaluation finished successfully yet, so there is no incumbent")
    return steps


def best_so_far_per_budget(run: RunData) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """For each budget: (wall seconds, best loss so far at that budget), at each improvement."""
    curves: dict[float, tuple[list[float], list[float]]] = {}
    for evaluation in run.ok:
        times, losses = curves.setdefault(evaluation.budget, ([], []))
        if not losses or evaluation.loss < losses[-1]:
            times.append(_elapsed(run, evaluation))
            losses.append(float(evaluation.loss))
    return {b: (np.array(t), np.array(v)) for b, (t, v) in sorted(curves.items())}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _elapsed(run: RunData, evaluation: EvaluationRow) -> float:
    end = evaluation.finished if evaluation.finished is not None else evaluation.submitted
    return max(0.0, end - run.t0)


def concurrency(run: RunData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(times, running, finish_times, finished_count) as step functions since the run's start.

    ``running`` counts evaluations between their start (or submission, if no start was recorded)
    and their end; an evaluation still pending counts as running until the last event.
    """
    if not run.evaluations:
        raise NothingToShow("the run has no evaluations yet")
    horizon = max((e.finished or e.started or e.submitted for e in run.evaluations), default=run.t0)
    changes: list[tuple[float, int]] = []
    for e in run.evaluations:
        start = e.started if e.started is not None else e.submitted
        end = e.finished if e.finished is not None else horizon
        changes += [(start - run.t0, 1), (max(end, start) - run.t0, -1)]
    # Changes closer than 0.2 % of the run's span are merged, so that a worker that finishes one
    # evaluation and starts the next a few ms later does not draw a drop to zero between them.
    span = max((t for t, _ in changes), default=0.0)
    merged: dict[float, int] = {}
    for t, delta in changes:
        key = round(t / (0.002 * span)) * 0.002 * span if span > 0 else 0.0
        merged[key] = merged.get(key, 0) + delta
    times = np.array([0.0, *sorted(merged)])
    running = np.concatenate([[0], np.cumsum([merged[t] for t in sorted(merged)])])
    finish_times = np.array([_elapsed(run, e) for e in run.finished])
    return times, running, finish_times, np.arange(1, len(finish_times) + 1)


@dataclass(frozen=True)
class BudgetCorrelation:
    """Spearman rank correlation of the losses of configs evaluated at both budgets."""

    budget_a: float
    budget_b: float
    rho: float  # NaN with fewer than 3 common configs or constant losses
    n: int


def losses_by_budget(run: RunData) -> dict[float, dict[int, float]]:
    """budget -> {config_id: loss} for ok evaluations (a config's last one at that budget)."""
    table: dict[float, dict[int, float]] = {}
    for evaluation in run.ok:
        table.setdefault(evaluation.budget, {})[evaluation.config_id] = float(evaluation.loss)
    return dict(sorted(table.items()))


def rank_correlations(run: RunData) -> list[BudgetCorrelation]:
    """Spearman's rho between every pair of budgets; is the low fidelity trustworthy?"""
    table = losses_by_budget(run)
    if len(table) < 2:
        raise NothingToShow(
            "all successful evaluations use a single budget, so there is no correlation "
            "across budgets to show"
        )
    pairs = []
    for a, b in itertools.combinations(table, 2):
        common = sorted(set(table[a]) & set(table[b]))
        rho = spearman([table[a][c] for c in common], [table[b][c] for c in common])
        pairs.append(BudgetCorrelation(a, b, rho, len(common)))
    return pairs


def spearman(x: list[float] | np.ndarray, y: list[float] | np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN if undefined.

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 25])
    0.8
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        return math.nan
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):  # ties share their average rank
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


@dataclass(frozen=True)
class RankedConfig:
    """A config's result at the largest budget it reached successfully."""

    rank: int
    config_id: int
    evaluation: EvaluationRow
    config: dict[str, Any]
    model_based: bool


def top_configs(run: RunData, k: int = 5) -> list[RankedConfig]:
    """The ``k`` best configs: largest budget reached, then lowest loss (the incumbent first)."""
    best: dict[int, EvaluationRow] = {}
    for evaluation in run.ok:
        current = best.get(evaluation.config_id)
        if current is None or (evaluation.budget, -evaluation.loss) > (
            current.budget,
            -current.loss,
        ):
            best[evaluation.config_id] = evaluation
    if not best:
        raise NothingToShow("no evaluation finished successfully, so no configuration is ranked")
    ordered = sorted(best.values(), key=lambda e: (-e.budget, e.loss, e.id))[:k]
    ranked = []
    for rank, evaluation in enumerate(ordered, start=1):
        row = run.configs.get(evaluation.config_id)
        ranked.append(
            RankedConfig(
                rank,
                evaluation.config_id,
                evaluation,
                dict(row.config) if row else {},
                bool(row.model_based) if row else False,
            )
        )
    return ranked


def history(evaluation: EvaluationRow) -> list[dict[str, Any]]:
    """The per-epoch records an evaluation stored (empty if it stored none)."""
    records = evaluation.metrics.get("history") if evaluation.metrics else None
    if not isinstance(records, list):
        return []
    return [r for r in records if isinstance(r, dict) and _finite(r.get("epoch"))]


def time_unit(seconds: float) -> tuple[float, str]:
    """(divisor, unit) that keeps a time axis readable: s, min or h.

    >>> time_unit(36000)
    (3600.0, 'h')
    """
    if seconds >= 3 * 3600:
        return 3600.0, "h"
    if seconds >= 600:
        return 60.0, "min"
    return 1.0, "s"
