"""The fit's plan: a pure function of the budget, the data size and measured speeds."""

from __future__ import annotations

import math

import pytest

from autocnn.errors import ConfigError
from autocnn.fit import Speeds, make_plan, parse_duration
from autocnn.fit.plan import (
    AT_THE_TOP,
    FINAL_EPOCH_MARGIN,
    FitPlan,
    configs_at_the_top,
    final_epochs,
    search_share,
)

SPEED = Speeds(worker_img_s=400.0, cpus=2)


def test_budget_is_split_without_loss_or_overlap():
    plan = make_plan(1800, n_train=6400, n_val=1600, speeds=SPEED, spent=12.0)
    parts = plan.spent_before_plan + plan.search_seconds + plan.final_seconds
    assert parts + plan.reserve_seconds == pytest.approx(1800)
    assert plan.search_seconds == pytest.approx(0.4 * (1800 - 12 - plan.reserve_seconds))


@pytest.mark.parametrize("n_train", [800, 6400, 48000, 240000])
def test_smallest_evaluation_is_a_small_share_of_the_search(n_train):
    plan = make_plan(1800, n_train=n_train, n_val=n_train // 4, speeds=SPEED)
    worker_seconds = plan.search_seconds * plan.workers
    assert plan.largest_evaluation_seconds <= worker_seconds / 6 + 1e-6
    assert plan.min_budget <= 0.02 * worker_seconds  # its training; validation comes on top
    assert plan.max_budget / plan.min_budget == pytest.approx(9)
    validation = plan.n_val / (3 * SPEED.worker_img_s)
    assert plan.smallest_evaluation_seconds > plan.min_budget + validation


def test_budgets_are_seconds_of_training_and_adapt_to_dataset_size():
    small = make_plan(1800, n_train=800, n_val=200, speeds=SPEED)
    mid = make_plan(1800, n_train=6400, n_val=1600, speeds=SPEED)
    large = make_plan(1800, n_train=48000, n_val=12000, speeds=SPEED)
    assert small.fidelity == mid.fidelity == large.fidelity == "time"
    # the same search time; a larger validation pass leaves less of an evaluation for training
    assert small.max_budget > mid.max_budget > large.max_budget
    fixed = large.smallest_evaluation_seconds - large.min_budget  # start + validation pass
    assert math.isclose(large.largest_evaluation_seconds, large.max_budget + fixed)
    # the default trains many epochs at tiny data's largest budget, part of one on large data
    assert small.max_budget * SPEED.worker_img_s > 50 * small.n_train
    assert large.min_budget * SPEED.worker_img_s < large.n_train
    assert "s of training each" in large.describe()[1]


@pytest.mark.parametrize("cpus", [2, 4, 8])
@pytest.mark.parametrize("n_train", [800, 6400, 48000])
def test_several_configs_reach_the_largest_budget(cpus, n_train):
    plan = make_plan(1800, n_train=n_train, n_val=n_train // 4, speeds=Speeds(400.0, cpus))
    fixed = plan.smallest_evaluation_seconds - plan.min_budget
    # BOHB's brackets on a virtual clock, durations as planned and 20 % longer
    at_the_top = configs_at_the_top(plan.max_budget, plan.search_seconds, plan.workers, fixed)
    assert at_the_top >= AT_THE_TOP
    # a fixed share of the worker-seconds let one config reach it with 2 workers, none with 8
    # (its largest evaluation was as long as the whole search)
    sixth = plan.search_seconds * plan.workers / 6 - fixed
    assert configs_at_the_top(sixth, plan.search_seconds, plan.workers, fixed) < AT_THE_TOP
    assert plan.largest_evaluation_seconds < plan.search_seconds / 1.5  # three rungs in a row


def test_a_schedule_on_the_virtual_clock_starts_only_what_can_finish():
    from autocnn.optimize.bohb import BOHB
    from autocnn.optimize.synthetic import SyntheticObjective, conditional_space, simulate_parallel

    space = conditional_space(seed=0)
    history = simulate_parallel(BOHB(space, min_budget=26, max_budget=234, seed=0),
                                SyntheticObjective(space, 234), 2, fixed_seconds=1.5,
                                finish_by=706)  # fmt: skip
    assert max(e.end for e in history) <= 706
    # as every 30-minute fit on kmnist10k with a sixth: one config at 234 s, the end at 80 %
    assert sum(e.trial.budget == 234 for e in history) == 1
    assert max(e.end for e in history) < 0.85 * 706


def test_more_cpus_mean_more_workers_and_a_cluster_sets_its_own():
    assert make_plan(1800, n_train=6400, n_val=1600, speeds=Speeds(400.0, cpus=8)).workers == 8
    cluster = make_plan(1800, n_train=6400, n_val=1600, speeds=Speeds(400.0, cpus=8, workers=4))
    assert (cluster.workers, cluster.threads_per_worker) == (4, 2)


def test_no_search_when_its_largest_evaluation_is_too_short_to_rank_nets():
    short = make_plan(300, n_train=6400, n_val=1600, speeds=SPEED)
    assert short.search_seconds == 0 and short.final_seconds > 250
    assert "search: none" in short.describe()[1]
    # the same data with more time, or the same time with a faster machine, does search
    assert make_plan(1800, n_train=6400, n_val=1600, speeds=SPEED).search_seconds > 0
    assert make_plan(300, n_train=6400, n_val=1600, speeds=Speeds(4000.0, 2)).search_seconds > 0


def test_a_long_final_training_becomes_an_ensemble_of_two_nets():
    long = make_plan(1800, n_train=6400, n_val=1600, speeds=SPEED)
    # each net's half of the final time is at least twice the search's largest evaluation
    assert long.members == 2 and long.final_seconds / 2 >= 2 * long.max_budget
    assert "2 nets of" in long.describe()[0]
    # eight workers make the search's largest evaluation longer than a half of the final
    many = make_plan(1800, n_train=6400, n_val=1600, speeds=Speeds(400.0, cpus=8))
    assert many.search_seconds > 0 and many.members == 1
    assert make_plan(300, n_train=6400, n_val=1600, speeds=SPEED).members == 1  # no search
    # a plan stored before ensembles trained one net
    stored = long.to_dict()
    del stored["members"]
    assert FitPlan.from_dict(stored).members == 1


def test_short_budgets_search_less():
    assert search_share(300) < search_share(900) < search_share(1800) == search_share(7200)


def test_a_budget_too_small_to_plan_is_a_clear_error():
    with pytest.raises(ConfigError, match="give at least"):
        make_plan(20, n_train=6400, n_val=1600, speeds=SPEED, spent=10)


def test_final_epochs_bound_well_above_the_time_left():
    """The bound is FINAL_EPOCH_MARGIN times what the measured speed predicts: the deadline,
    not the bound, ends a final training unless it runs that much faster than measured."""
    predicted = 600 * 650 / 8000  # 48.75 epochs
    epochs = final_epochs(600, n_images=8000, img_per_s=650)
    assert FINAL_EPOCH_MARGIN >= 8 and epochs == math.floor(FINAL_EPOCH_MARGIN * predicted)
    assert final_epochs(1, n_images=8000, img_per_s=650, margin=1) == 0.25


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("90s", 90), ("1.5h", 5400), ("1h30m", 5400), ("45", 45)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "-3m", "0", "m5"])
def test_bad_durations_are_clear_errors(text):
    with pytest.raises(ConfigError, match="--time"):
        parse_duration(text)
