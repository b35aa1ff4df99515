"""The numbers behind the plots: trajectory semantics, correlations, concurrency, ranking."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from autocnn.optimize.store import Store
from autocnn.optimize.trial import Result, Trial
from autocnn.report.analysis import (
    NothingToShow,
    concurrency,
    incumbent_trajectory,
    rank_correlations,
    spearman,
    time_unit,
    top_configs,
)
from autocnn.report.load import load_run


def test_trajectory_follows_hpbandster_semantics(make_run):
    run = load_run(
        make_run(
            [
                {"config": {"x": 0.1}, "budget": 1, "loss": 0.5, "cost": 1},
                {"config": {"x": 0.2}, "budget": 1, "loss": 0.3, "cost": 1},  # better: step
                {"config": {"x": 0.3}, "budget": 1, "loss": 0.4, "cost": 1},  # worse: no step
                {"config": {"x": 0.2}, "budget": 3, "loss": 0.35, "cost": 2},  # larger budget
                {"config": {"x": 0.1}, "budget": 1, "loss": 0.1, "cost": 1},  # small budget
                {"config": {"x": 0.4}, "budget": 3, "status": "failed", "cost": 3},
                {"config": {"x": 0.1}, "budget": 3, "loss": 0.2, "cost": 2},
            ]
        )
    )
    steps = incumbent_trajectory(run)
    assert [(s.budget, s.loss) for s in steps] == [(1, 0.5), (1, 0.3), (3, 0.35), (3, 0.2)]
    # cumulative compute counts every finished evaluation, the failed one included
    assert [s.cost for s in steps] == [1, 2, 5, 11]
    assert steps[-1].config_id == run.incumbent.config_id
    assert all(b.seconds >= a.seconds for a, b in zip(steps, steps[1:], strict=False))


def test_trajectory_without_success_says_why(make_run):
    run = load_run(make_run([{"config": {"x": 0.1}, "status": "diverged"}]))
    with pytest.raises(NothingToShow, match="no evaluation finished successfully"):
        incumbent_trajectory(run)


def test_spearman_matches_definition_with_ties():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 30).astype(float)  # many ties
    y = x + rng.normal(0, 2, 30)
    assert spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2], [1, 2]))  # too few
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))  # constant


def test_rank_correlations_pair_common_configs(make_run):
    specs = []
    for i in range(5):
        specs.append({"config": {"x": i / 10}, "budget": 1, "loss": 0.1 * i})
    for i in range(4):  # same order at budget 3: rho = 1 over the 4 shared configs
        specs.append({"config": {"x": i / 10}, "budget": 3, "loss": 0.05 * i})
    (pair,) = rank_correlations(load_run(make_run(specs)))
    assert (pair.budget_a, pair.budget_b, pair.n) == (1, 3, 4)
    assert pair.rho == pytest.approx(1.0)


def test_single_budget_has_no_correlation(make_run):
    run = load_run(make_run([{"config": {"x": i}, "loss": i / 10} for i in range(4)]))
    with pytest.raises(NothingToShow, match="single budget"):
        rank_correlations(run)


def test_concurrency_counts_overlapping_evaluations(tmp_path):
    # Two workers: evaluations 0 and 1 run together, then 2 alone; 3 is still pending.
    with Store.open(tmp_path / "run", create=True, settings={"run": {}}) as store:
        ids = [store.record_ask(Trial(i, {"x": i / 10}, 1.0)) for i in range(4)]
        for step in (
            lambda: store.mark_started(ids[0]),
            lambda: store.mark_started(ids[1]),
            lambda: store.record_tell(ids[0], Result("ok", loss=0.3)),
            lambda: store.record_tell(ids[1], Result("ok", loss=0.2)),
            lambda: store.mark_started(ids[2]),
            lambda: store.record_tell(ids[2], Result("failed")),
            lambda: store.mark_started(ids[3]),
        ):
            step()
            time.sleep(0.02)
    run = load_run(tmp_path / "run")
    times, running, finish_times, finished = concurrency(run)
    assert running.max() == 2  # 0 and 1 overlap, nothing else does
    assert running[0] == 0 and running.min() >= 0
    assert list(finished) == [1, 2, 3] and len(finish_times) == 3
    assert np.all(np.diff(times) >= 0)


def test_top_configs_rank_by_budget_then_loss(make_run):
    run = load_run(
        make_run(
            [
                {"config": {"x": 0.1}, "budget": 1, "loss": 0.05},
                {"config": {"x": 0.2}, "budget": 3, "loss": 0.4},
                {"config": {"x": 0.3}, "budget": 3, "loss": 0.3},
                {"config": {"x": 0.4}, "budget": 1, "status": "failed"},
            ]
        )
    )
    ranked = top_configs(run, k=5)
    assert [(r.config["x"], r.evaluation.budget) for r in ranked] == [
        (0.3, 3),
        (0.2, 3),
        (0.1, 1),
    ]
    assert ranked[0].config_id == run.incumbent.config_id


def test_time_unit_keeps_axes_readable():
    assert time_unit(59) == (1.0, "s")
    assert time_unit(1200) == (60.0, "min")
    assert time_unit(5 * 3600) == (3600.0, "h")
