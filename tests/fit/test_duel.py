"""The duel between the default and the search's choice (autocnn.fit.duel), on a tiny run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from autocnn import data, space
from autocnn.fit.duel import REFERENCE_ID, duel, settle
from autocnn.optimize.folder import RunFolder
from autocnn.optimize.incumbent import Scored, keep_reference_unless_beaten
from autocnn.optimize.run import optimize
from autocnn.optimize.settings import Execution, RunSettings

BUDGET = 0.6  # seconds of training


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A one-evaluation search in the seed space: what a duel reads its settings from."""
    root = tmp_path_factory.mktemp("dueldata")
    data.write_synthetic(root, "kmnist", n_classes=4, n_train=200, n_test=40, image_size=12)
    settings = RunSettings(f"npz:{root}", space="seed", fidelity="time", min_budget=BUDGET / 3,
                           max_budget=BUDGET, eta=3, seed=0, start_with_default=True)  # fmt: skip
    out = tmp_path_factory.mktemp("duelrun") / "search"
    optimize(out=out, settings=settings, execution=Execution(workers=1, max_evaluations=1))
    return RunFolder(out)


def _configs(challenger: dict) -> dict[int, dict]:
    return {REFERENCE_ID: space.default_config("seed"), 1: challenger}


def test_both_train_again_with_a_fresh_seed_and_the_noise_rule_decides(run):
    other = {**space.default_config("seed"), "conv1_channels": 8, "learning_rate": 0.01}
    verdict = duel(run, _configs(other), challenger=1, budget=BUDGET, n_val=40, workers=2,
                   threads=1, timeout=300)  # fmt: skip
    assert verdict is not None and verdict.budget == BUDGET
    assert all(0.0 <= loss <= 1.0 for loss in verdict.losses.values())
    rows = [Scored(c, BUDGET, loss) for c, loss in verdict.losses.items()]
    rule = keep_reference_unless_beaten(rows, rows[0] if rows[0].config_id == 1 else rows[1],
                                        reference_id=REFERENCE_ID, n_val=40)  # fmt: skip
    assert verdict.winner == rule.config_id
    assert (run.path / "duel" / "00001").is_dir()  # beside the search's trials, not among them


def test_a_challenger_that_fails_loses_and_settle_keeps_the_default(run):
    broken = {**space.default_config("seed"), "activation": "no-such-activation"}
    rows = [Scored(0, BUDGET / 3, 0.5), Scored(1, BUDGET / 3, 0.2), Scored(1, BUDGET, 0.1)]
    plan = SimpleNamespace(threads_per_worker=1, largest_evaluation_seconds=BUDGET + 1.0,
                           max_budget=BUDGET, n_val=40)  # fmt: skip
    lines: list[str] = []
    kept, record = settle(run, rows, rows[2], _configs(broken), plan=plan, seconds_left=600,
                          log=lines.append)  # fmt: skip
    assert kept.config_id == REFERENCE_ID and kept.budget == BUDGET
    assert record["winner"] == REFERENCE_ID and record["losses"]["1"] is None
    assert any("the default stays" in line for line in lines)


def test_no_duel_when_the_default_trained_as_long_or_there_is_no_time(run):
    rows = [Scored(0, BUDGET, 0.5), Scored(1, BUDGET, 0.1)]
    plan = SimpleNamespace(threads_per_worker=1, largest_evaluation_seconds=BUDGET + 1.0,
                           max_budget=BUDGET, n_val=40)  # fmt: skip
    kept, record = settle(run, rows, rows[1], {}, plan=plan, seconds_left=600, log=print)
    assert kept is rows[1] and record is None  # compared at the same budget already
    shorter = [Scored(0, BUDGET / 3, 0.5), Scored(1, BUDGET, 0.1)]
    lines: list[str] = []
    kept, record = settle(run, shorter, shorter[1], {}, plan=plan, seconds_left=10,
                          log=lines.append)  # fmt: skip
    assert kept is shorter[1] and "skipped" in record and "without a duel" in lines[0]


def test_a_slow_starting_default_trains_the_whole_duel_budget(run):
    """The not-learning stop (a net at chance after its first epoch) is for a search's random
    configs; a duel compares two nets at the choice's budget, and a default that is still at
    chance after one epoch of several (it was, on small objects in large images) is scored at
    that budget, not failed after its first epoch."""
    slow = {**space.default_config("seed"), "learning_rate": 1e-5}  # at chance for a long time
    configs = {REFERENCE_ID: slow, 1: space.default_config("seed")}
    verdict = duel(run, configs, challenger=1, budget=4 * BUDGET, n_val=40, workers=2, threads=1,
                   timeout=300)  # fmt: skip
    assert verdict is not None and verdict.losses[REFERENCE_ID] is not None
    assert verdict.losses[REFERENCE_ID] > 0.5  # at chance (4 classes): it lost by its score
