"""A run with a hard time limit starts no evaluation that cannot finish before it
(:mod:`autocnn.optimize.durations`), on a clock that moves only as the evaluations say."""

from __future__ import annotations

from pathlib import Path

from test_runner import FakeTime, MiniHyperband, QuadraticObjective

from autocnn.optimize import runner, store
from autocnn.optimize.backends import SerialBackend
from autocnn.optimize.durations import Durations
from autocnn.optimize.early_stopping import STOPPED_EARLY
from autocnn.optimize.runner import run_optimizer
from autocnn.optimize.store import Store
from autocnn.optimize.trial import Result, Trial

SECONDS_PER_BUDGET = 10.0  # MiniHyperband: 4 x 1 (10 s each), 2 x 1->3 (20 s), 1 x 3->9 (60 s)


class Clock(FakeTime):
    """FakeTime that also stands in for the store's wall clock (``time.time``)."""

    def time(self) -> float:
        return 1e9 + self.now


class Timed:
    """Each evaluation takes SECONDS_PER_BUDGET per unit of budget it trains, on ``clock``."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.inner = clock, QuadraticObjective()

    def __call__(self, trial: Trial, workdir: Path) -> Result:
        self.clock.tick(SECONDS_PER_BUDGET * (trial.budget - (trial.previous_budget or 0.0)))
        return self.inner(trial, workdir)


def _run(tmp_path, monkeypatch, *, time_limit, hard, resume=False, clock=None, events=None):
    clock = clock or Clock()
    monkeypatch.setattr(runner, "time", clock)
    monkeypatch.setattr(store, "time", clock)
    objective = Timed(clock)
    summary = run_optimizer(
        MiniHyperband(n_iterations=2), objective, tmp_path, time_limit=time_limit,
        hard_time_limit=hard, backend=SerialBackend(objective), resume=resume,
        on_event=None if events is None else lambda kind, payload: events.append((kind, payload)),
    )  # fmt: skip
    return summary, clock


def test_an_evaluation_that_cannot_finish_is_not_started(tmp_path, monkeypatch):
    events: list = []
    summary, clock = _run(tmp_path, monkeypatch, time_limit=130.0, hard=True, events=events)
    # at 80 s the budget-9 evaluation (expected: budget 3's 20 s, times 9 / 3) had 50 s left
    assert summary.stopped == "time_limit" and summary.seconds == clock.now == 80.0
    assert summary.n_evaluations == 6
    with Store.open(tmp_path, readonly=True) as runs:
        (pending,) = runs.pending()
    assert pending.budget == 9.0 and pending.started is None  # asked, recorded, never started
    notes = [payload["message"] for kind, payload in events if kind == "note"]
    assert len(notes) == 1 and "~60 s and 50 s are left" in notes[0]


def test_a_soft_limit_still_starts_what_the_time_left_allows(tmp_path, monkeypatch):
    summary, clock = _run(tmp_path, monkeypatch, time_limit=130.0, hard=False)
    assert summary.n_evaluations == 7 and clock.now == 140.0  # started at 80 s, ran past 130 s


def test_what_fits_in_the_time_left_still_starts(tmp_path, monkeypatch):
    summary, clock = _run(tmp_path, monkeypatch, time_limit=140.0, hard=True)
    assert summary.n_evaluations == 7 and clock.now == 140.0  # 60 s expected, 60 s left


def test_a_resumed_run_learns_durations_from_its_store(tmp_path, monkeypatch):
    first, clock = _run(tmp_path, monkeypatch, time_limit=130.0, hard=True)
    # resumed with 59 s: the pending budget-9 evaluation (60 s, learnt from the stored rows'
    # start and end) is not started; with 60 s it is
    again, _ = _run(tmp_path, monkeypatch, time_limit=59.0, hard=True, resume=True, clock=clock)
    assert again.n_this_call == 0 and again.n_evaluations == 6
    last, _ = _run(tmp_path, monkeypatch, time_limit=60.0, hard=True, resume=True, clock=clock)
    assert last.n_resubmitted == 1 and last.n_this_call == 1 and last.n_evaluations == 7


def test_estimates_skip_results_that_ended_early():
    durations = Durations()
    ok, early = Result("ok", loss=0.1), Result("ok", loss=0.9, metrics={STOPPED_EARLY: "why"})
    durations.observe(Trial(0, {}, 9.0), early, seconds=5.0)
    durations.observe(Trial(1, {}, 9.0), Result("diverged"), seconds=1.0)
    assert durations.expected(Trial(2, {}, 9.0)) is None  # nothing trained its budget
    durations.observe(Trial(3, {}, 3.0), ok, seconds=30.0)
    assert durations.expected(Trial(2, {}, 9.0)) == 90.0
    assert durations.expected(Trial(2, {}, 1.0)) == 10.0  # only larger budgets: scaled down
