"""Resume: after ``kill -9`` nothing finished is lost or re-run; the run ends as if never killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_runner import Marked, MiniHyperband, QuadraticObjective, calls, outcome

from autocnn.errors import RunError
from autocnn.optimize.runner import run_optimizer
from autocnn.optimize.store import Store

SETTINGS = {"method": "mini", "seed": 0, "n_iterations": 2}
SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_resume import SETTINGS, build
from autocnn.optimize.runner import run_optimizer
optimizer, objective = build({kind!r}, sleep=0.1)
run_optimizer(optimizer, objective, Path({run_dir!r}), workers={workers}, settings=SETTINGS)
"""


def build(kind: str, sleep: float = 0.0):
    """A fresh (optimizer, objective) pair: the stand-in, or the real BOHB on a 30-D space."""
    if kind == "mini":
        return MiniHyperband(n_iterations=2), QuadraticObjective(sleep=sleep)
    from autocnn.optimize.methods import make_optimizer
    from autocnn.optimize.synthetic import SyntheticObjective, conditional_space

    space = conditional_space(seed=0)
    # 4 brackets (35 evaluations): the later ones sample from the TPE model
    optimizer = make_optimizer("bohb", space, min_budget=1, max_budget=9, n_iterations=4, seed=3)
    return optimizer, Marked(SyntheticObjective(space, max_budget=9), sleep=sleep)


def run_and_kill(
    run_dir: Path, kind: str, workers: int, kill_after: int
) -> list[tuple[int, float]]:
    """Start a run in a subprocess, SIGKILL it once ``kill_after`` evaluations are finished.

    Returns the (config_id, budget) of the evaluations finished at the kill, read from the store
    by this process while the other one writes it.
    """
    script = SCRIPT.format(
        tests=str(Path(__file__).parent), run_dir=str(run_dir), workers=workers, kind=kind
    )
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the run ended (exit {process.returncode}) before it was killed")
            if (run_dir / "run.db").exists():
                try:
                    with Store.open(run_dir, readonly=True) as store:
                        if store.count(done_only=True) >= kill_after:
                            break
                except RunError:
                    pass  # the writer is still creating the file
            time.sleep(0.02)
        else:
            pytest.fail("the run did not get going within 60 s")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    with Store.open(run_dir, readonly=True) as store:
        return [(e.config_id, e.budget) for e in store.evaluations() if e.done]


@pytest.mark.parametrize("kind, workers", [("mini", 1), ("mini", 2), ("bohb", 1)])
def test_resume_after_kill_loses_nothing_and_reruns_nothing(tmp_path, kind, workers):
    reference = tmp_path / "reference"
    reference_summary = run_optimizer(*build(kind), reference, settings=SETTINGS)
    total = reference_summary.n_evaluations
    killed = tmp_path / "killed"
    finished_before = run_and_kill(killed, kind, workers, kill_after=5)
    assert 5 <= len(finished_before) < total

    summary = run_optimizer(*build(kind), killed, workers=workers, resume=True, settings=SETTINGS)
    assert summary.stopped == "finished"
    assert summary.n_evaluations == total
    assert summary.n_this_call == total - len(finished_before)
    # what was running at the kill runs again (none if the kill fell between a tell and an ask)
    assert summary.n_resubmitted <= workers
    # every evaluation finished before the kill ran exactly once
    assert all(calls(killed, cid, budget) == 1 for cid, budget in finished_before)
    if workers == 1:  # the very same sequence of evaluations as a run that was never killed
        assert outcome(killed) == outcome(reference)
    else:
        assert sorted(outcome(killed)) == sorted(outcome(reference))
    assert summary.incumbent.config_id == reference_summary.incumbent.config_id
    with Store.open(killed, readonly=True) as store:
        assert store.pending() == []
        if kind == "bohb":  # the replay went through model-based proposals too
            assert any(c.model_based for c in store.configs())


def test_resume_after_a_limit_continues_the_same_run(tmp_path):
    reference = tmp_path / "reference"
    run_optimizer(MiniHyperband(n_iterations=2), QuadraticObjective(), reference)
    run_dir = tmp_path / "run"
    first = run_optimizer(
        MiniHyperband(n_iterations=2), QuadraticObjective(), run_dir, max_evaluations=6
    )
    assert first.n_evaluations == 6
    second = run_optimizer(
        MiniHyperband(n_iterations=2),
        QuadraticObjective(),
        run_dir,
        resume=True,
        max_evaluations=10,
    )
    assert (second.n_evaluations, second.n_this_call) == (10, 4)
    third = run_optimizer(MiniHyperband(n_iterations=2), QuadraticObjective(), run_dir, resume=True)
    assert third.stopped == "finished"
    assert outcome(run_dir) == outcome(reference)
    assert all(calls(run_dir, cid, budget) == 1 for cid, budget, *_ in outcome(run_dir))


def test_resume_with_other_settings_is_refused(tmp_path):
    run_optimizer(
        MiniHyperband(n_iterations=1),
        QuadraticObjective(),
        tmp_path,
        settings=SETTINGS,
        max_evaluations=3,
    )
    before = (tmp_path / "run.db").read_bytes()
    with pytest.raises(RunError, match="seed: run has 0, given 1"):
        run_optimizer(
            MiniHyperband(seed=1),
            QuadraticObjective(),
            tmp_path,
            resume=True,
            settings=dict(SETTINGS, seed=1),
        )
    # an optimizer built differently from the run is caught while replaying its log
    with pytest.raises(RunError, match="the run's settings changed"):
        run_optimizer(
            MiniHyperband(seed=1, n_iterations=1), QuadraticObjective(), tmp_path, resume=True
        )
    assert (tmp_path / "run.db").read_bytes() == before
    with pytest.raises(RunError, match="no run store"):
        run_optimizer(MiniHyperband(), QuadraticObjective(), tmp_path / "missing", resume=True)


def test_resume_with_a_differently_built_bohb_is_refused(tmp_path):
    from autocnn.optimize.methods import make_optimizer
    from autocnn.optimize.synthetic import SyntheticObjective, conditional_space

    space = conditional_space(seed=0)
    objective = SyntheticObjective(space, max_budget=9)
    options = dict(min_budget=1, max_budget=9, n_iterations=1)
    run_optimizer(make_optimizer("bohb", space, **options), objective, tmp_path, max_evaluations=4)
    with pytest.raises(RunError, match="optimizer.eta: run has 3, given 2"):
        run_optimizer(
            make_optimizer("bohb", space, eta=2, **options), objective, tmp_path, resume=True
        )
    summary = run_optimizer(
        make_optimizer("bohb", space, **options), objective, tmp_path, resume=True
    )
    assert summary.stopped == "finished" and summary.n_evaluations == 13
