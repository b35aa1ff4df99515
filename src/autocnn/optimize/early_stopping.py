"""Learning-curve early stopping: end an evaluation whose curve cannot reach what its rung needs.

Successive halving judges a config only once it has trained its whole budget, and most configs
are not promoted; many of them are visibly behind after a few epochs. This module stops those
there, with a rule meant to leave the bracket's decisions as they would have been:

- The **threshold** is the optimizer's (``BOHB.stop_threshold``): at a stage that promotes ``k``
  configs, the ``k``-th best loss already told at that stage (a config that cannot beat it is
  not promoted); at a bracket's last stage, the best loss told at that budget (the run's best
  there). It exists once ``k`` results are in and only gets stricter afterwards, so a rule made
  when the evaluation starts stays valid while it runs.
- The **optimistic bound** at epoch ``e``: the loss at ``e`` times the smallest ratio
  ``loss(end) / loss(e)`` among this run's finished curves of the same budget (at least
  ``MIN_CURVES`` of them), times ``SLACK``. The smallest ratio is the best improvement from ``e``
  to the end this run has seen; ``SLACK`` leaves room for a curve that improves more still.
- **Stop** when the bound is at or above the threshold. The evaluation is told as finished at its
  budget with the loss it had when stopped (which is at or above the threshold, so it is not
  promoted, and ranks below the configs that beat it for the model); its metrics say
  ``stopped_early``, its ``cost`` the epochs it really trained.

Why an empirical envelope instead of fitting curves: Domhan et al. (IJCAI 2015) extrapolate each
curve with an MCMC-fitted ensemble of parametric families and stop when it is unlikely to beat
the best; Hyperband's median stopping rule (Golovin et al., KDD 2017) compares with the median
of other curves at the same step. With the tens of curves a CPU search finishes per budget, the
envelope of what this run has seen needs no fitting, has one parameter and only ever stops a
run that would need a better improvement than every finished one (times ``1 / SLACK``).

The policy sits beside the runner: it reads thresholds from the optimizer, learns curves from
results (an objective reports ``metrics["curve"] = [[epoch, loss], ...]``), and hands each
evaluation its :class:`StopRule` as plain data in ``Trial.stop_rule``; the training objective
checks it after every whole epoch. Objectives without curves are never stopped.

Example:
    >>> rule = StopRule(threshold=0.10, ratios={2.0: 0.5})
    >>> rule.check(2.0, 0.30) is not None    # 0.30 * 0.5 = 0.15: cannot get below 0.10
    True
    >>> rule.check(2.0, 0.15) is None        # 0.075 could: go on
    True
    >>> bank = CurveBank()
    >>> for final in (0.10, 0.12, 0.20):
    ...     bank.add(3.0, [[1.0, 0.5], [2.0, 0.3], [3.0, final]])
    >>> bank.ratios(3.0, after=1.0)          # epoch 2 only: 0.10 / 0.3 * SLACK
    {2.0: 0.2667}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from autocnn.optimize.trial import Result, Trial

MIN_CURVES = 3  # finished curves of a budget before its runs may be stopped
SLACK = 0.8  # the bound allows a curve to improve 1 / 0.8 = 1.25x more than any one seen
STOPPED_EARLY = "stopped_early"  # the metrics key of a stopped evaluation
CURVE = "curve"  # the metrics key of an evaluation's learning curve: [[epoch, loss], ...]


def _epoch_key(epoch: float) -> float:
    return round(float(epoch), 4)


@dataclass(frozen=True)
class StopRule:
    """When one evaluation must stop: its loss at a checked epoch times that epoch's ratio (the
    optimistic bound of its final loss) is at or above ``threshold``."""

    threshold: float
    ratios: Mapping[float, float]  # epoch -> optimistic final/at-epoch loss ratio, SLACK included

    def check(self, epoch: float, loss: float | None) -> str | None:
        """Why the evaluation stops at ``epoch`` with validation ``loss`` (None: go on)."""
        ratio = self.ratios.get(_epoch_key(epoch))
        if ratio is None or loss is None or not math.isfinite(loss):
            return None
        bound = loss * ratio
        if bound < self.threshold:
            return None
        return (
            f"stopped early at epoch {epoch:g}: validation loss {loss:.4f} can at best reach "
            f"{bound:.4f} by the end of its budget; its rung needs below {self.threshold:.4f}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (a Trial field; epochs as string keys)."""
        return {
            "threshold": self.threshold,
            "ratios": {f"{e:g}": r for e, r in self.ratios.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StopRule:
        ratios = {_epoch_key(float(e)): float(r) for e, r in data["ratios"].items()}
        return cls(float(data["threshold"]), ratios)


class CurveBank:
    """The finished learning curves of a run, per budget: ``epoch -> loss`` and the final loss."""

    def __init__(self) -> None:
        self._curves: dict[float, list[tuple[dict[float, float], float]]] = {}

    def add(self, budget: float, curve: Sequence[Sequence[float]]) -> None:
        """A curve ``[[epoch, loss], ...]`` that ran its whole ``budget`` (its last point is the
        end). Points with a non-finite or zero loss are left out (no ratio to them)."""
        points = {_epoch_key(e): float(loss) for e, loss in curve}
        if not points:
            return
        final = points.pop(max(points))
        if not math.isfinite(final):
            return
        points = {e: v for e, v in points.items() if math.isfinite(v) and v > 0}
        self._curves.setdefault(float(budget), []).append((points, final))

    def n_curves(self, budget: float) -> int:
        return len(self._curves.get(float(budget), []))

    def ratios(self, budget: float, after: float = 0.0) -> dict[float, float]:
        """``epoch -> SLACK * min(final / loss at epoch)`` over the budget's curves, for the
        epochs after ``after`` that at least MIN_CURVES curves have."""
        seen: dict[float, list[float]] = {}
        for points, final in self._curves.get(float(budget), []):
            for epoch, loss in points.items():
                if epoch > after + 1e-9:
                    seen.setdefault(epoch, []).append(final / loss)
        return {
            e: round(SLACK * min(r), 4) for e, r in sorted(seen.items()) if len(r) >= MIN_CURVES
        }


class EarlyStopping:
    """The runner's side: learn curves from results, give each evaluation its :class:`StopRule`.

    ``optimizer.stop_threshold(trial)`` says what the evaluation must beat (an optimizer without
    that method is never stopped early).
    """

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        self.curves = CurveBank()

    def adopt(self, done: Iterable[tuple[float, Result]]) -> None:
        """Learn the curves of finished evaluations ``(budget, result)`` (a resumed run)."""
        for budget, result in done:
            self.observe_result(budget, result)

    def observe(self, trial: Trial, result: Result) -> None:
        self.observe_result(trial.budget, result)

    def observe_result(self, budget: float, result: Result) -> None:
        curve = result.metrics.get(CURVE)
        if result.ok and curve and STOPPED_EARLY not in result.metrics:
            self.curves.add(budget, curve)

    def prepare(self, trial: Trial) -> Trial:
        """``trial`` with its stop rule (unchanged when nothing can stop it yet)."""
        threshold_of = getattr(self.optimizer, "stop_threshold", None)
        threshold = None if threshold_of is None else threshold_of(trial)
        if threshold is None or not math.isfinite(threshold):
            return replace(trial, stop_rule=None)
        ratios = self.curves.ratios(trial.budget, after=trial.previous_budget or 0.0)
        ratios = {e: r for e, r in ratios.items() if e < trial.budget - 1e-9}
        if not ratios:
            return replace(trial, stop_rule=None)
        return replace(trial, stop_rule=StopRule(float(threshold), ratios).to_dict())
