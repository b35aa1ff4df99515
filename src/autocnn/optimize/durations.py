"""How long the next evaluation will take, learnt from the ones that finished, so that a run with
a hard time limit does not start an evaluation that cannot end before the limit.

Under ``hard_time_limit`` an evaluation still running at the limit is stopped and its work is
lost. Every one of ``fit``'s 30-minute searches on kmnist10k (11 searches, BENCHMARKS §9) ended
the same way: its last result came 130-210 s before the limit, and the two 234-s evaluations
started after it were killed at the limit, a quarter of the search's worker-seconds bought
nothing (the 64k set's 20-minute search: 90 s of 403). Not starting them ends the search when
nothing more can finish, and ``fit`` gives the time to its final training.

The estimate for a trial is the longest wall time (submission to result) of an earlier
evaluation of the same budget. With none of that budget, the nearest smaller budget's longest,
scaled by the ratio of budgets: the fixed part of an evaluation (its start, its validation pass)
is then scaled too, which errs long. With only larger budgets, the nearest one scaled down
(errs short); with no finished evaluation, no estimate and the trial starts. By budget, not by
what the trial adds to a checkpoint (``budget - previous_budget``): with budgets in seconds
every evaluation trains its whole budget from scratch, so a promoted config takes as long as a
new one (a 36-s evaluation continuing "from 12 s" took 36.5 s); with epochs and checkpoints a
promoted config takes less than a new one, and the estimate errs long. The longest rather than
the median: with budgets in seconds durations are nearly constant (26-28 s for a 26-s budget),
and with epochs a big net takes longer than a small one. Erring long ends a run a little early,
which costs an evaluation that might have fitted; erring short costs the whole evaluation that
is then killed. Evaluations that ended early (diverged, not learning, stopped by learning-curve
early stopping) do not count: they say nothing about how long one that trains its budget takes.

Example:
    >>> durations = Durations()
    >>> durations.expected(Trial(0, {}, 9.0)) is None
    True
    >>> durations.observe(Trial(0, {}, 3.0), Result("ok", loss=0.2), seconds=40.0)
    >>> durations.observe(Trial(1, {}, 3.0), Result("ok", loss=0.3), seconds=44.0)
    >>> durations.expected(Trial(2, {}, 3.0)), durations.expected(Trial(0, {}, 9.0, 3.0))
    (44.0, 132.0)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from autocnn.optimize.early_stopping import STOPPED_EARLY
from autocnn.optimize.records import EvaluationRow
from autocnn.optimize.trial import Result, Trial


def trained_its_budget(result: Result) -> bool:
    """Whether a result took as long as its budget asks (not a failure or an early stop)."""
    return result.ok and STOPPED_EARLY not in result.metrics


class Durations:
    """Wall times of finished evaluations by budget; ``clock`` is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._longest: dict[float, float] = {}  # budget -> longest wall time seen
        self._started: dict[int, float] = {}  # config id -> when its evaluation was submitted

    def start(self, trial: Trial) -> None:
        self._started[trial.config_id] = self.clock()

    def finish(self, trial: Trial, result: Result) -> None:
        started = self._started.pop(trial.config_id, None)
        if started is not None:
            self.observe(trial, result, self.clock() - started)

    def observe(self, trial: Trial, result: Result, seconds: float) -> None:
        if trained_its_budget(result) and seconds > 0:
            key = float(trial.budget)
            self._longest[key] = max(seconds, self._longest.get(key, 0.0))

    def adopt(self, rows: Iterable[EvaluationRow]) -> None:
        """Learn from a resumed run's finished evaluations (their stored start and end)."""
        for row in rows:
            if row.done and row.started is not None and row.finished is not None:
                trial = Trial(row.config_id, {}, row.budget, row.previous_budget)
                self.observe(trial, row.result(), row.finished - row.started)

    def expected(self, trial: Trial) -> float | None:
        """Seconds the trial's evaluation is expected to take at most (None: no evidence)."""
        if not self._longest:
            return None
        wanted = float(trial.budget)
        if wanted in self._longest:
            return self._longest[wanted]
        smaller = [b for b in self._longest if b < wanted]
        nearest = max(smaller) if smaller else min(self._longest)
        return self._longest[nearest] * wanted / nearest
