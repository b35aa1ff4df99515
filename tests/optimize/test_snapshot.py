"""Optimizer snapshots: a resume from the newest snapshot continues exactly like the run that was
never stopped and like a full replay of its log; runs without (usable) snapshots still resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import ConfigSpace as CS
import numpy as np
import pytest

from autocnn.optimize import replay as replay_module
from autocnn.optimize.methods import METHODS, make_optimizer
from autocnn.optimize.replay import SnapshotWriter, replay
from autocnn.optimize.runner import run_optimizer
from autocnn.optimize.snapshot import SnapshotError, decode, encode
from autocnn.optimize.store import Store
from autocnn.optimize.synthetic import SyntheticObjective, conditional_space
from autocnn.space.configs import to_plain

sys.path.insert(0, str(Path(__file__).parent))
from test_runner import Marked, calls  # noqa: E402

SPACE = conditional_space(seed=0)
OBJECTIVE = SyntheticObjective(SPACE, max_budget=9, fail_fraction=0.1)
# two known configs first, after the default, as ``--portfolio`` does
PORTFOLIO = [to_plain(dict(c)) for c in SPACE.sample_configuration(2)]


def build(method: str, **options):
    options = {"n_iterations": None, "seed": 5, **options}
    return make_optimizer(
        method, SPACE, min_budget=1, max_budget=9, start_with_default=True,
        initial_configs=PORTFOLIO, **options,
    )  # fmt: skip


def key(trial):
    return trial.config_id, trial.budget, json.dumps(to_plain(trial.config), sort_keys=True)


def drive(optimizer, running, n_asks, pending=4):
    """Ask until ``n_asks`` trials were asked, keeping ``pending`` running (first in, first out);
    returns the asked trials' keys."""
    asked = []
    while len(asked) < n_asks:
        while len(running) < pending and len(asked) < n_asks:
            trial = optimizer.ask()
            assert trial is not None
            running.append(trial)
            asked.append(key(trial))
        if len(asked) < n_asks:
            trial = running.pop(0)
            optimizer.tell(trial, OBJECTIVE.result(trial))
    return asked


def record(run_dir: Path, optimizer, n_results: int, pending: int, every: int) -> list:
    """Run ``optimizer`` as the runner does (ask -> record, record -> tell, snapshots every
    ``every`` events) until ``n_results`` results are in and ``pending`` trials run; returns the
    running trials."""
    store = Store.open(run_dir / "run.db", create=True)
    writer = SnapshotWriter(store, optimizer, every=every)
    running: list = []  # (evaluation id, trial)
    told = 0
    while True:
        while len(running) < pending:
            trial = optimizer.ask()
            running.append((store.record_ask(trial), trial))
            writer.count()
        if told == n_results:
            break
        evaluation_id, trial = running.pop(0)
        result = OBJECTIVE.result(trial)
        store.record_tell(evaluation_id, result)
        optimizer.tell(trial, result)
        told += 1
        writer.count()
        writer.maybe_write()
    store.close()
    return [trial for _, trial in running]


def without_snapshots(run_dir: Path, copy: Path) -> Path:
    copy.mkdir()
    for path in run_dir.glob("run.db*"):  # with the WAL of a killed run
        shutil.copy(path, copy / path.name)
    with sqlite3.connect(copy / "run.db") as db:
        db.execute("DELETE FROM snapshots")
    return copy


class Counting:
    """Counts the asks a replay makes."""

    def __init__(self, optimizer) -> None:
        self.optimizer, self.n_asks = optimizer, 0

    def __getattr__(self, name):
        return getattr(self.optimizer, name)

    def ask(self):
        self.n_asks += 1
        return self.optimizer.ask()


VARIANTS = [(method, "random") for method in METHODS] + [("bohb", "prior"), ("hyperband", "prior")]


@pytest.mark.parametrize(("method", "sampler"), VARIANTS)
@pytest.mark.parametrize("n_results", [0, 7, 45, 150])
def test_snapshot_resume_continues_exactly(tmp_path, method, sampler, n_results):
    live = build(method, sampler=sampler)
    running = record(tmp_path / "run", live, n_results, pending=4, every=10)
    expected = drive(live, list(running), 40)  # the run that was never stopped

    warnings: list[str] = []
    with Store.open(tmp_path / "run", readonly=True) as store:
        events, snapshot_seq = store.last_seq(), store.snapshot_seq()
        fresh = Counting(build(method, sampler=sampler))
        pending = replay(store, fresh, warn=warnings.append)
    assert warnings == []
    if n_results >= 10:  # a snapshot was used: only the events after it were replayed
        assert snapshot_seq > 0 and fresh.n_asks <= events - snapshot_seq < 10
    assert [key(t) for _, t in pending] == [key(t) for t in running]
    assert drive(fresh.optimizer, [t for _, t in pending], 40) == expected

    copy = without_snapshots(tmp_path / "run", tmp_path / "full")
    with Store.open(copy, readonly=True) as store:
        full = Counting(build(method, sampler=sampler))
        pending_full = replay(store, full)
    assert full.n_asks == n_results + 4  # every ask replayed
    assert [(i, key(t)) for i, t in pending_full] == [(i, key(t)) for i, t in pending]
    assert drive(full.optimizer, [t for _, t in pending_full], 40) == expected


def test_the_comparison_would_see_a_wrong_state(tmp_path):
    # the same check fails for a state taken elsewhere or one that misses a random generator
    live = build("bohb")
    drive(live, [], 60)
    state = json.loads(json.dumps(live.state()))
    expected = drive(live, [], 30)
    other = build("bohb")
    other.load_state(state)
    other._prior_random_state = np.random.RandomState(1)
    assert drive(other, [], 30) != expected
    again = build("bohb")
    again.load_state(state)
    assert drive(again, [], 30) == expected


@pytest.mark.parametrize("method", ["bohb", "bohb-kde"])
def test_a_state_does_not_fit_another_optimizer(method):
    live = build(method)
    drive(live, [], 20)
    state = json.loads(json.dumps(live.state()))
    for bad in (
        {**state, "version": 0},
        {**state, "settings": "0" * 16},
        {key: value for key, value in state.items() if key != "_rng"},
        {**state, "brackets": [{"index": 0}]},
        {**state, "model": {**state["model"], "data": {"array": ["<f8", [1], "!!"]}}},
    ):
        fresh = build(method)
        before = json.dumps(fresh.state())
        with pytest.raises(SnapshotError):
            fresh.load_state(bad)
        assert json.dumps(fresh.state()) == before  # untouched
    with pytest.raises(SnapshotError, match="another settings"):
        build(method, seed=6).load_state(state)
    # the same names and types, another range
    other_space = CS.ConfigurationSpace()
    other_space.add([
        CS.UniformFloatHyperparameter("learning_rate", 1e-5, 0.5, default_value=1e-3, log=True)
        if hp.name == "learning_rate" else hp
        for hp in SPACE.values()
    ])  # fmt: skip
    other_space.add(list(SPACE.conditions))
    assert list(other_space) == list(SPACE)
    with pytest.raises(SnapshotError, match="another space"):
        make_optimizer(
            method,
            other_space,
            min_budget=1,
            max_budget=9,
            start_with_default=True,
            initial_configs=PORTFOLIO,
            n_iterations=None,
            seed=5,
        ).load_state(state)


def test_encode_decode_round_trips_bit_for_bit():
    rng = np.random.default_rng(1)
    rng.random(3)
    value = {
        1.0: (float("inf"), -0.0, 1e-300),
        "x": [np.arange(6.0).reshape(2, 3), np.array([np.nan, 0.1]), {3, 1}],
        "rng": rng,
        "legacy": np.random.RandomState(2),
    }
    copy = decode(json.loads(json.dumps(encode(value), allow_nan=False)))
    assert copy[1.0] == (float("inf"), -0.0, 1e-300)
    assert copy["x"][0].tolist() == value["x"][0].tolist() and copy["x"][2] == {1, 3}
    assert np.isnan(copy["x"][1][0]) and copy["x"][1][1] == 0.1
    assert copy["rng"].random() == rng.random()
    assert copy["legacy"].random_sample() == value["legacy"].random_sample()
    copy["x"][0][0, 0] = 5  # writable
    for bad in ({"pickle": "..."}, {"array": ["|O", [1], ""]}, {"float": "1"}, {"a": 1, "b": 2}):
        with pytest.raises(SnapshotError):
            decode(bad)
    with pytest.raises(TypeError):
        encode(object())


def outcome(run_dir: Path) -> list:
    with Store.open(run_dir, readonly=True) as store:
        return [(e.config_id, e.budget, e.status, e.loss) for e in store.evaluations()]


def folders(run_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in (run_dir / "trials").iterdir())


def test_runner_resumes_from_snapshots_and_without(tmp_path, monkeypatch):
    monkeypatch.setattr(replay_module, "SNAPSHOT_EVERY", 10)
    objective = Marked(OBJECTIVE)  # writes checkpoints, which the pruner deletes
    reference = run_optimizer(build("bohb", n_iterations=4), objective, tmp_path / "reference")
    run_dir = tmp_path / "run"
    run_optimizer(build("bohb", n_iterations=4), objective, run_dir, max_evaluations=20)
    with Store.open(run_dir, readonly=True) as store:  # the end of a call is a snapshot
        assert store.snapshot_seq() == store.last_seq()
        assert len(store.snapshots()) == 2  # older ones are dropped
    shutil.copytree(run_dir, tmp_path / "copy")
    events = []
    counted = Counting(build("bohb", n_iterations=4))
    summary = run_optimizer(
        counted, objective, run_dir, resume=True, on_event=lambda k, p: events.append((k, p))
    )
    assert summary.stopped == "finished" and summary.n_this_call == reference.n_evaluations - 20
    assert not [p for k, p in events if k == "warning"]
    assert outcome(run_dir) == outcome(tmp_path / "reference")
    # the checkpoints of configs asked before the snapshot were pruned too: only the incumbent's
    assert folders(run_dir) == folders(tmp_path / "reference") == [summary.incumbent.config_id]

    # a store from before snapshots (no table) resumes by full replay, and gets snapshots
    older = tmp_path / "copy"
    with sqlite3.connect(older / "run.db") as db:
        db.execute("DROP TABLE snapshots")
    run_optimizer(build("bohb", n_iterations=4), OBJECTIVE, older, resume=True)
    assert outcome(older) == outcome(tmp_path / "reference")


@pytest.mark.parametrize("damage", ["version", "corrupt"])
def test_an_unusable_snapshot_falls_back_with_a_warning(tmp_path, monkeypatch, damage):
    monkeypatch.setattr(replay_module, "SNAPSHOT_EVERY", 10)
    reference = tmp_path / "reference"
    run_optimizer(build("bohb-kde", n_iterations=4), OBJECTIVE, reference)
    run_dir = tmp_path / "run"
    run_optimizer(build("bohb-kde", n_iterations=4), OBJECTIVE, run_dir, max_evaluations=25)
    with sqlite3.connect(run_dir / "run.db") as db:
        if damage == "version":  # every snapshot: a full replay
            rows = db.execute("SELECT seq, state FROM snapshots").fetchall()
            for seq, state in rows:
                old = {**json.loads(state), "version": 0}
                db.execute("UPDATE snapshots SET state = ? WHERE seq = ?", (json.dumps(old), seq))
        else:  # the newest only: the older one is used
            db.execute("UPDATE snapshots SET state = '{\"kind\"' WHERE seq = (SELECT MAX(seq) "
                       "FROM snapshots)")  # fmt: skip
    events = []
    counted = Counting(build("bohb-kde", n_iterations=4))
    run_optimizer(
        counted, OBJECTIVE, run_dir, resume=True, on_event=lambda k, p: events.append((k, p))
    )
    warnings = [p["message"] for k, p in events if k == "warning"]
    assert len(warnings) == (2 if damage == "version" else 1)
    assert all("cannot be used" in message for message in warnings)
    assert outcome(run_dir) == outcome(reference)


KILLED = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_snapshot import OBJECTIVE, build
from test_runner import Marked
from autocnn.optimize import replay
from autocnn.optimize.runner import run_optimizer
replay.SNAPSHOT_EVERY = 6
run_optimizer(build("bohb", n_iterations=4), Marked(OBJECTIVE, sleep=0.05), Path({run!r}),
              workers=2)
"""


def test_kill_9_resume_from_a_snapshot_with_two_workers(tmp_path, wait_for, monkeypatch):
    monkeypatch.setattr(replay_module, "SNAPSHOT_EVERY", 6)
    reference = tmp_path / "reference"
    run_optimizer(build("bohb", n_iterations=4), OBJECTIVE, reference)
    run_dir = tmp_path / "run"
    script = KILLED.format(tests=str(Path(__file__).parent), run=str(run_dir))
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])

    def far_enough() -> bool:
        assert process.poll() is None, "the run ended before it was killed"
        try:
            with Store.open(run_dir, readonly=True) as store:
                return store.snapshot_seq() > 0 and store.count(done_only=True) >= 15
        except Exception:
            return False  # not created yet

    try:
        wait_for(far_enough, "the run to write snapshots")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    with Store.open(run_dir, readonly=True) as store:
        finished = [(e.config_id, e.budget) for e in store.evaluations() if e.done]
        events, snapshot_seq = store.last_seq(), store.snapshot_seq()
        assert snapshot_seq > 0
        from_snapshot = Counting(build("bohb", n_iterations=4))
        pending = replay(store, from_snapshot)
    full = build("bohb", n_iterations=4)
    with Store.open(without_snapshots(run_dir, tmp_path / "full"), readonly=True) as store:
        pending_full = replay(store, full)
    # the killed run's state, from the snapshot as from the whole log: the same pending trials
    # and the same asks after them
    assert from_snapshot.n_asks <= events - snapshot_seq
    assert [(i, key(t)) for i, t in pending] == [(i, key(t)) for i, t in pending_full]
    n = min(8, full.total_evaluations - full.n_asked)
    assert drive(from_snapshot.optimizer, [t for _, t in pending], n, pending=2) == drive(
        full, [t for _, t in pending_full], n, pending=2
    )

    summary = run_optimizer(build("bohb", n_iterations=4), Marked(OBJECTIVE), run_dir, workers=2,
                            resume=True)  # fmt: skip
    assert summary.stopped == "finished" and summary.n_resubmitted == len(pending)
    assert all(calls(run_dir, cid, budget) == 1 for cid, budget in finished)
    with Store.open(run_dir, readonly=True) as store:
        assert store.pending() == []


class Unsaveable(Counting):
    def state(self):
        return {"x": object()}  # not JSON


def test_a_state_that_cannot_be_saved_only_costs_the_fast_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(replay_module, "SNAPSHOT_EVERY", 5)
    events = []
    summary = run_optimizer(
        Unsaveable(build("bohb", n_iterations=2)), OBJECTIVE, tmp_path, max_evaluations=12,
        on_event=lambda k, p: events.append((k, p)),
    )  # fmt: skip
    assert summary.n_evaluations == 12
    warnings = [p["message"] for k, p in events if k == "warning"]
    assert len(warnings) == 1 and "cannot be saved" in warnings[0]
    with Store.open(tmp_path, readonly=True) as store:
        assert store.snapshots() == []
    summary = run_optimizer(build("bohb", n_iterations=2), OBJECTIVE, tmp_path, resume=True)
    assert summary.stopped == "finished"
