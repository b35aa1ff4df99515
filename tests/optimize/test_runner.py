"""The runner loop: stopping rules, failures, progress events, pruning, warm start, export.

``MiniHyperband`` and ``QuadraticObjective`` below are small stand-ins (deterministic ask/tell
successive halving and a cheap objective that leaves a marker file per call); the other runner
test files import them from here.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import time
from pathlib import Path

import pytest

from autocnn.errors import RunError
from autocnn.optimize.export import export_hpbandster
from autocnn.optimize.runner import run_optimizer, trial_dir, warm_start
from autocnn.optimize.store import Store
from autocnn.optimize.trial import OK, Result, Trial

N_CONFIGS = [4, 2, 1]
BUDGETS = [1.0, 3.0, 9.0]
PER_ITERATION = sum(N_CONFIGS)


class MiniHyperband:
    """Deterministic successive halving (4 configs @1, 2 @3, 1 @9 per iteration) over x, y, kind.

    An :class:`~autocnn.optimize.protocol.Optimizer`. Its ``settings`` are empty on purpose: a
    differently built one is then caught by the replay, not by the stored settings.
    """

    settings: dict = {}

    def __init__(self, seed: int = 0, n_iterations: int = 2) -> None:
        self.rng = random.Random(seed)
        self.n_iterations = n_iterations
        self.max_budget = BUDGETS[-1]
        self.iteration, self.stage, self.next_id = 0, 0, 0
        self.queue: list[Trial] = []
        self.pending: dict[int, Trial] = {}
        self.losses: dict[int, float] = {}
        self.configs: dict[int, dict] = {}
        self.observed: list[tuple[dict, float, float]] = []
        self._start_iteration()

    def _start_iteration(self) -> None:
        if self.iteration >= self.n_iterations:
            return
        self.stage, self.losses = 0, {}
        for _ in range(N_CONFIGS[0]):
            config = {
                "x": self.rng.random(),
                "y": self.rng.uniform(-1, 1),
                "kind": self.rng.choice(["a", "b"]),
            }
            self.configs[self.next_id] = config
            self.queue.append(
                Trial(self.next_id, config, BUDGETS[0], None, self.iteration, 0, model_based=False)
            )
            self.next_id += 1

    @property
    def finished(self) -> bool:
        return self.iteration >= self.n_iterations

    @property
    def total_evaluations(self) -> int:
        return self.n_iterations * PER_ITERATION  # it promotes failed configs too

    def promotable_config_ids(self) -> set[int]:
        """The current stage's configs (told, running or queued), unless it is the last one; a
        queued promotion's, always (it continues from its checkpoint)."""
        ids = {trial.config_id for trial in self.queue} | set(self.pending)
        if self.stage + 1 < len(N_CONFIGS):
            ids |= set(self.losses)
        return ids

    def ask(self) -> Trial | None:
        if not self.queue:
            return None
        trial = self.queue.pop(0)
        self.pending[trial.config_id] = trial
        return trial

    def tell(self, trial: Trial, result: Result) -> None:
        if self.pending.pop(trial.config_id, None) != trial:
            raise ValueError(f"unknown trial {trial}")
        self.losses[trial.config_id] = result.loss
        if self.pending or self.queue:
            return
        if self.stage + 1 < len(N_CONFIGS):
            ranked = sorted(self.losses, key=lambda cid: (self.losses[cid], cid))
            self.stage += 1
            self.losses = {}
            for cid in sorted(ranked[: N_CONFIGS[self.stage]]):
                self.queue.append(
                    Trial(
                        cid,
                        self.configs[cid],
                        BUDGETS[self.stage],
                        BUDGETS[self.stage - 1],
                        self.iteration,
                        self.stage,
                    )
                )
        else:
            self.iteration += 1
            self._start_iteration()

    def observe(self, config: dict, budget: float, loss: float) -> None:
        self.observed.append((config, budget, loss))


class QuadraticObjective:
    """loss = (x-0.3)^2 + (y+0.1)^2 + 1/budget; leaves a call marker and ``budget-*.pt``.

    ``fail_on`` configs raise, ``crash_on`` configs kill their process (``os._exit``), and
    ``sigkill_on`` configs SIGKILL themselves.
    """

    def __init__(self, sleep: float = 0.0, fail_on=(), crash_on=(), sigkill_on=()) -> None:
        self.sleep, self.fail_on = sleep, set(fail_on)
        self.crash_on, self.sigkill_on = set(crash_on), set(sigkill_on)

    def __call__(self, trial: Trial, workdir: Path) -> Result:
        workdir.mkdir(parents=True, exist_ok=True)
        # call markers live outside trials/ so that pruning checkpoints keeps them
        markers = workdir.parent.parent / "calls"
        markers.mkdir(exist_ok=True)
        (markers / f"{trial.config_id}-b{trial.budget:g}-{os.getpid()}-{time.time_ns()}").touch()
        if trial.config_id in self.crash_on:
            os._exit(3)
        if trial.config_id in self.sigkill_on:
            os.kill(os.getpid(), signal.SIGKILL)
        if trial.config_id in self.fail_on:
            raise ValueError(f"config {trial.config_id} is broken")
        time.sleep(self.sleep)
        config = trial.config
        loss = (config["x"] - 0.3) ** 2 + (config["y"] + 0.1) ** 2 + 1.0 / trial.budget
        (workdir / f"budget-{trial.budget:g}.pt").write_text("checkpoint")
        history = [{"epoch": epoch, "loss": loss + 1.0 / epoch} for epoch in range(1, 3)]
        return Result(
            OK,
            loss=loss,
            metrics={"history": history, "kind": config["kind"]},
            seconds=self.sleep,
            cost=trial.budget - (trial.previous_budget or 0.0),
        )


class Marked:
    """Wraps any objective: leaves a call marker and a checkpoint like QuadraticObjective, and
    notes in the metrics whether the checkpoint a promoted trial continues from was still there."""

    def __init__(self, inner, sleep: float = 0.0) -> None:
        self.inner, self.sleep = inner, sleep

    def __call__(self, trial: Trial, workdir: Path) -> Result:
        workdir.mkdir(parents=True, exist_ok=True)
        markers = workdir.parent.parent / "calls"
        markers.mkdir(exist_ok=True)
        (markers / f"{trial.config_id}-b{trial.budget:g}-{os.getpid()}-{time.time_ns()}").touch()
        time.sleep(self.sleep)
        result = self.inner(trial, workdir)
        if trial.previous_budget is not None:
            previous = workdir / f"budget-{trial.previous_budget:g}.pt"
            result.metrics["had_checkpoint"] = previous.exists()
        (workdir / f"budget-{trial.budget:g}.pt").write_text("checkpoint")
        return result


def calls(run_dir: Path, config_id: int, budget: float) -> int:
    """How often the objective was called for (config, budget) in ``run_dir``."""
    return len(list((run_dir / "calls").glob(f"{config_id}-b{budget:g}-*")))


def outcome(run_dir: Path) -> list[tuple[int, float, str, float]]:
    with Store.open(run_dir, readonly=True) as store:
        return [(e.config_id, e.budget, e.status, e.loss) for e in store.evaluations()]


def test_full_run_records_every_evaluation_and_promotion(tmp_path):
    summary = run_optimizer(
        MiniHyperband(n_iterations=2),
        QuadraticObjective(),
        tmp_path,
        settings={"method": "mini", "seed": 0},
        prune_checkpoints=False,
    )
    assert summary.stopped == "finished"
    assert summary.n_evaluations == summary.n_this_call == 2 * PER_ITERATION
    with Store.open(tmp_path, readonly=True) as store:
        rows = store.evaluations()
        assert store.settings == {"method": "mini", "seed": 0}
        assert [e.status for e in rows] == [OK] * 2 * PER_ITERATION
        promoted = [e for e in rows if e.stage > 0]
        assert all(e.previous_budget == BUDGETS[e.stage - 1] for e in promoted)
        events = store.events()
        # every evaluation is asked before it is told, and told exactly once
        told = [e.evaluation_id for e in events if e.kind == "tell"]
        assert sorted(told) == [e.id for e in rows]
        first_ask = {e.evaluation_id: e.seq for e in events if e.kind == "ask" and e.evaluation_id}
        assert all(first_ask[e.evaluation_id] < e.seq for e in events if e.kind == "tell")
        history = rows[0].metrics["history"]
        assert history[0]["epoch"] == 1 and len(history) == 2
    at_max = [(loss, cid) for cid, budget, _, loss in outcome(tmp_path) if budget == 9.0]
    assert len(at_max) == 2
    # the incumbent is the best at the largest budget, not the lowest loss anywhere
    assert (summary.incumbent.loss, summary.incumbent.config_id) == min(at_max)


def test_failing_trials_are_recorded_and_the_run_goes_on(tmp_path):
    summary = run_optimizer(
        MiniHyperband(n_iterations=1), QuadraticObjective(fail_on={1}), tmp_path
    )
    assert summary.stopped == "finished"
    assert summary.n_evaluations == PER_ITERATION
    with Store.open(tmp_path, readonly=True) as store:
        failed = store.evaluations(status="failed")
        assert [e.config_id for e in failed] == [1]
        assert "ValueError: config 1 is broken" in failed[0].error
        assert math.isinf(failed[0].loss)
        # a failed config is ranked last and never promoted
        assert all(e.config_id != 1 for e in store.evaluations() if e.stage > 0)
        assert store.summary().counts == {
            "pending": 0,
            "ok": PER_ITERATION - 1,
            "diverged": 0,
            "failed": 1,
            "crashed": 0,
        }


def test_max_evaluations_stops_without_leaving_pending_work(tmp_path):
    summary = run_optimizer(
        MiniHyperband(n_iterations=3), QuadraticObjective(), tmp_path, max_evaluations=5
    )
    assert summary.stopped == "max_evaluations"
    assert summary.n_evaluations == 5
    with Store.open(tmp_path, readonly=True) as store:
        assert store.pending() == []


class FakeTime:
    """The runner's ``time`` module with a clock that moves only when told to (``tick``)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str):
        return getattr(time, name)


class Ticking:
    """Wraps an objective: each call takes ``seconds`` on a :class:`FakeTime` clock."""

    def __init__(self, inner, clock: FakeTime, seconds: float) -> None:
        self.inner, self.clock, self.seconds = inner, clock, seconds

    def __call__(self, trial: Trial, workdir: Path) -> Result:
        self.clock.tick(self.seconds)
        return self.inner(trial, workdir)


def test_time_limit_stops_submitting_and_waits_for_running(tmp_path, monkeypatch):
    from autocnn.optimize import runner

    clock = FakeTime()
    monkeypatch.setattr(runner, "time", clock)
    objective = Ticking(QuadraticObjective(), clock, seconds=0.125)
    summary = run_optimizer(MiniHyperband(n_iterations=50), objective, tmp_path, time_limit=0.3)
    assert summary.stopped == "time_limit"
    # started at 0, 0.125 and 0.25 s; the third ran past the limit and was waited for
    assert summary.n_evaluations == 3 and summary.seconds == 0.375
    with Store.open(tmp_path, readonly=True) as store:
        assert store.pending() == []  # the last running evaluation was recorded
        assert [row.status for row in store.evaluations()] == [OK] * 3


def test_hard_time_limit_stops_running_evaluations_and_resume_reruns_them(tmp_path):
    from autocnn.optimize.bohb import BOHB
    from autocnn.optimize.synthetic import SyntheticObjective, conditional_space

    space = conditional_space(seed=0)
    slow = SyntheticObjective(space, max_budget=9, sleep_per_budget=30.0)  # 30-270 s each
    optimizer = BOHB(space, min_budget=1, max_budget=9, n_iterations=1, seed=0)
    summary = run_optimizer(
        optimizer, slow, tmp_path, workers=2, time_limit=3.0, hard_time_limit=True
    )
    # nothing finished: neither 30 s evaluation was waited for (no wall-clock bound needed)
    assert summary.stopped == "time_limit" and summary.n_evaluations == 0
    with Store.open(tmp_path, readonly=True) as store:
        stopped = [row.config_id for row in store.pending()]
    assert len(stopped) == 2  # both workers were busy; nothing was recorded for them
    fast = SyntheticObjective(space, max_budget=9)
    again = BOHB(space, min_budget=1, max_budget=9, n_iterations=1, seed=0)
    resumed = run_optimizer(again, fast, tmp_path, resume=True, max_evaluations=4)
    assert resumed.n_resubmitted == 2 and resumed.n_evaluations >= 2
    with Store.open(tmp_path, readonly=True) as store:
        assert {r.config_id for r in store.evaluations() if r.done} >= set(stopped)


def test_progress_events(tmp_path):
    events = []
    run_optimizer(
        MiniHyperband(n_iterations=1),
        QuadraticObjective(),
        tmp_path,
        max_evaluations=6,
        on_event=lambda kind, payload: events.append((kind, payload)),
    )
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "stop"
    assert kinds.count("submit") == kinds.count("result") == 6
    results = [payload for kind, payload in events if kind == "result"]
    assert [p["done"] for p in results] == [1, 2, 3, 4, 5, 6]
    assert all(p["total"] == 6 for p in results)
    bests = [p["best"] for p in results]
    assert bests == sorted(bests, reverse=True)  # best so far never gets worse
    assert results[-1]["eta"] == 0


def test_the_progress_line_knows_its_total_when_the_iterations_are_finite(tmp_path):
    import io

    from rich.console import Console

    from autocnn.optimize.methods import make_optimizer
    from autocnn.optimize.synthetic import SyntheticObjective, conditional_space
    from autocnn.progress import RunProgress

    space = conditional_space(seed=0)
    optimizer = make_optimizer("hyperband", space, min_budget=1, max_budget=9, n_iterations=1)
    objective = SyntheticObjective(space, 9, seed=0, fail_fraction=0.5)
    events, screen = [], io.StringIO()
    with RunProgress(console=Console(file=screen, width=150)) as progress:

        def on_event(kind, payload):
            events.append((kind, payload))
            progress.on_event(kind, payload)

        summary = run_optimizer(optimizer, objective, tmp_path, on_event=on_event)
    totals = [payload["total"] for kind, payload in events if kind in ("start", "result")]
    assert totals[0] == 9 + 3 + 1  # the bracket's plan
    assert totals == sorted(totals, reverse=True)  # failed configs are not promoted
    assert totals[-1] == summary.n_evaluations < 13
    assert f"{summary.n_evaluations}/{summary.n_evaluations}" in screen.getvalue()
    # without an iteration limit the total is open (or max_evaluations)
    open_ended = make_optimizer("hyperband", space, min_budget=1, max_budget=9)
    events.clear()
    run_optimizer(
        open_ended, objective, tmp_path / "open", max_evaluations=4,
        on_event=lambda kind, payload: events.append((kind, payload)),
    )  # fmt: skip
    assert {payload["total"] for kind, payload in events if kind == "result"} == {4}


def test_pruning_keeps_only_configs_that_can_still_matter(tmp_path):
    summary = run_optimizer(MiniHyperband(n_iterations=1), QuadraticObjective(), tmp_path)
    with Store.open(tmp_path, readonly=True) as store:
        promoted = {e.config_id for e in store.evaluations() if e.stage == 1}
    eliminated = set(range(N_CONFIGS[0])) - promoted
    assert len(eliminated) == 2
    remaining = {int(p.name) for p in (tmp_path / "trials").iterdir()}
    assert remaining == {summary.incumbent.config_id}
    assert (trial_dir(tmp_path, summary.incumbent.config_id) / "budget-9.pt").exists()


def test_pruning_never_deletes_checkpoints_a_promotion_needs(tmp_path):
    seen_missing = []

    class CheckingObjective(QuadraticObjective):
        def __call__(self, trial, workdir):
            if trial.previous_budget is not None:
                if not (workdir / f"budget-{trial.previous_budget:g}.pt").exists():
                    seen_missing.append(trial)
            return super().__call__(trial, workdir)

    run_optimizer(MiniHyperband(n_iterations=2), CheckingObjective(), tmp_path)
    assert seen_missing == []


def test_existing_run_needs_resume(tmp_path):
    run_optimizer(MiniHyperband(n_iterations=1), QuadraticObjective(), tmp_path, max_evaluations=2)
    before = (tmp_path / "run.db").read_bytes()
    with pytest.raises(RunError, match="already holds a run"):
        run_optimizer(MiniHyperband(n_iterations=1), QuadraticObjective(), tmp_path)
    assert (tmp_path / "run.db").read_bytes() == before


def test_warm_start_feeds_ok_results_of_another_run(tmp_path):
    first = tmp_path / "first"
    run_optimizer(MiniHyperband(n_iterations=1), QuadraticObjective(fail_on={0}), first)
    fresh = MiniHyperband(seed=1)
    n = warm_start(fresh, first)
    assert n == PER_ITERATION - 1 == len(fresh.observed)
    with Store.open(first, readonly=True) as store:
        expected = sorted(
            (store.config(e.config_id)["x"], e.budget, e.loss)
            for e in store.evaluations(status="ok")
        )
    assert sorted((c["x"], b, loss) for c, b, loss in fresh.observed) == expected


def test_export_hpbandster_layout(tmp_path):
    run_dir = tmp_path / "run"
    run_optimizer(MiniHyperband(n_iterations=2), QuadraticObjective(fail_on={5}), run_dir)
    configs_path, results_path = export_hpbandster(run_dir, tmp_path / "hpb")
    configs = [json.loads(line) for line in configs_path.read_text().splitlines()]
    results = [json.loads(line) for line in results_path.read_text().splitlines()]
    assert len(configs) == 2 * N_CONFIGS[0]
    assert len(results) == 2 * PER_ITERATION
    ids = [tuple(c[0]) for c in configs]
    assert ids == [(i, 0, k) for i in range(2) for k in range(N_CONFIGS[0])]
    for _, config, info in configs:
        assert set(config) == {"x", "y", "kind"} and info == {"model_based_pick": False}
    for config_id, budget, timestamps, result, exception in results:
        assert tuple(config_id) in ids and budget in BUDGETS
        assert set(timestamps) == {"submitted", "started", "finished"}
        assert timestamps["submitted"] <= timestamps["started"] <= timestamps["finished"]
        if result is None:
            assert tuple(config_id) == (1, 0, 1) and "config 5 is broken" in exception
        else:
            assert exception is None and set(result) == {"loss", "info"}
            assert isinstance(result["loss"], float) and "history" in result["info"]


def test_pruning_with_bohb_keeps_what_promotions_need(tmp_path):
    from collections import Counter

    from autocnn.optimize.methods import make_optimizer
    from autocnn.optimize.synthetic import SyntheticObjective, conditional_space

    space = conditional_space(seed=0)
    optimizer = make_optimizer("hyperband", space, min_budget=1, max_budget=9, n_iterations=3)
    objective = Marked(SyntheticObjective(space, max_budget=9, fail_fraction=0.7))
    summary = run_optimizer(optimizer, objective, tmp_path)
    assert summary.stopped == "finished"
    with Store.open(tmp_path, readonly=True) as store:
        rows = store.evaluations()
    promoted = [e for e in rows if e.previous_budget is not None]
    assert promoted and all(e.metrics["had_checkpoint"] for e in promoted)
    # so many failures that some stage got fewer configs than its bracket plans for
    per_stage = Counter((e.bracket, e.stage) for e in rows)
    planned = {(b, s): optimizer.schedule.brackets(b).n_configs[s] for b, s in per_stage}
    assert any(per_stage[key] < planned[key] for key in per_stage)
    # every bracket is over: only the incumbent keeps its folder
    remaining = {int(p.name) for p in (tmp_path / "trials").iterdir()}
    assert remaining == {summary.incumbent.config_id}
