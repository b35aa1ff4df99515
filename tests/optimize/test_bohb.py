"""The ask/tell optimizer: scheduling, promotion, determinism, failures, pending work, methods."""

from __future__ import annotations

import math
import subprocess
import sys

import ConfigSpace as CS
import numpy as np
import pytest

from autocnn.errors import ConfigError
from autocnn.optimize.bohb import BOHB
from autocnn.optimize.methods import make_optimizer
from autocnn.optimize.schedule import make_schedule
from autocnn.optimize.synthetic import SyntheticObjective, conditional_space, simulate
from autocnn.optimize.trial import Result, Trial

PLAIN = (int, float, str, bool)


def quadratic(trial: Trial) -> Result:
    x = trial.config["x"]
    return Result("ok", loss=(x - 0.3) ** 2 + 1.0 / trial.budget)


def small_space() -> CS.ConfigurationSpace:
    return CS.ConfigurationSpace({"x": (0.0, 1.0), "c": ["a", "b", "c"]}, seed=0)


def run_all(opt: BOHB, evaluate=quadratic) -> list[Trial]:
    trials = []
    while (trial := opt.ask()) is not None:
        trials.append(trial)
        opt.tell(trial, evaluate(trial))
    return trials


def test_one_paper_cycle_runs_the_schedule_and_finishes():
    opt = BOHB(small_space(), min_budget=1, max_budget=9, eta=3, n_iterations=3, seed=0)
    trials = run_all(opt)
    assert opt.finished and opt.ask() is None
    assert len(trials) == 22 == opt.n_told
    per_stage = {}
    for t in trials:
        per_stage.setdefault((t.bracket, t.stage), []).append(t.budget)
    expected = {
        (0, 0): [1.0] * 9,
        (0, 1): [3.0] * 3,
        (0, 2): [9.0],
        (1, 0): [3.0] * 5,
        (1, 1): [9.0],
        (2, 0): [9.0] * 3,
    }
    assert per_stage == expected


def test_promotion_keeps_config_id_and_carries_previous_budget():
    opt = BOHB(small_space(), min_budget=1, max_budget=9, eta=3, n_iterations=1, seed=0)
    trials = run_all(opt)
    first = {t.config_id: t for t in trials if t.stage == 0}
    losses = {t.config_id: quadratic(t).loss for t in first.values()}
    promoted = [t for t in trials if t.stage == 1]
    # the 3 best of stage 0 go on (best first), with their ids, configs and previous budget
    assert [t.config_id for t in promoted] == sorted(losses, key=losses.get)[:3]
    for t in promoted:
        assert t.previous_budget == 1.0 and t.budget == 3.0
        assert t.config == first[t.config_id].config
        assert t.model_based == first[t.config_id].model_based
    final = [t for t in trials if t.stage == 2]
    assert len(final) == 1 and final[0].previous_budget == 3.0
    assert all(t.previous_budget is None for t in first.values())
    assert len({t.config_id for t in first.values()}) == 9


def test_same_seed_same_trials_different_seed_different_trials():
    space = conditional_space(seed=0)
    objective = SyntheticObjective(space, max_budget=9, seed=0)

    def history(seed):
        opt = BOHB(space, min_budget=1, max_budget=9, seed=seed, min_points_in_model=5)
        return [t.to_dict() for t, _ in simulate(opt, objective, 60, workers=3)]

    first, again = history(0), history(0)
    assert first == again
    assert any(t["model_based"] for t in first)  # the model took part
    assert history(1) != first


def test_failed_results_rank_last_are_never_promoted_and_the_run_goes_on():
    def flaky(trial):
        if trial.config["c"] == "a":
            return Result("failed", error="boom")
        if trial.config["c"] == "b":
            return Result("diverged", loss=float("nan"))
        return quadratic(trial)

    opt = BOHB(small_space(), min_budget=1, max_budget=9, n_iterations=6, seed=0)
    trials = run_all(opt, flaky)
    assert opt.finished and len(trials) > 0
    promoted = [t for t in trials if t.stage > 0]
    assert promoted and all(t.config["c"] == "c" for t in promoted)
    _, config, budget, loss = opt.incumbent()
    assert config["c"] == "c" and budget == 9.0 and math.isfinite(loss)


def test_all_failed_bracket_ends_without_promotions():
    opt = BOHB(small_space(), min_budget=1, max_budget=9, n_iterations=1, seed=0)
    trials = run_all(opt, lambda trial: Result("crashed", error="killed"))
    assert len(trials) == 9 and opt.finished
    assert opt.incumbent() is None


def test_outstanding_asks_open_the_next_bracket_without_duplicates():
    opt = BOHB(small_space(), min_budget=1, max_budget=9, n_iterations=3, seed=0)
    trials = [opt.ask() for _ in range(12)]
    assert [t.bracket for t in trials] == [0] * 9 + [1] * 3
    assert len({t.config_id for t in trials}) == 12
    assert opt.n_pending == 12 and opt.pending() == trials
    # all 3 brackets started and waiting: nothing more to hand out until results come in
    more = [opt.ask() for _ in range(5)]
    assert [t.bracket for t in more[:3]] == [1, 1, 2]
    opt2 = BOHB(small_space(), min_budget=1, max_budget=9, n_iterations=1, seed=0)
    for _ in range(9):
        opt2.ask()
    assert opt2.ask() is None and not opt2.finished


def test_four_parallel_asks_from_the_model_are_all_different():
    # a single categorical: the model alone would pick the best choice for every worker
    space = CS.ConfigurationSpace({"c": [f"v{i}" for i in range(8)]}, seed=0)
    opt = BOHB(
        space, min_budget=1, max_budget=1, random_fraction=0.0, min_points_in_model=4, seed=0
    )
    for _ in range(3):  # brackets of 2 configs at budget 1
        for trial in [opt.ask(), opt.ask()]:
            opt.tell(trial, Result("ok", loss=float(trial.config["c"][1])))
    for i in range(8):
        opt.observe({"c": f"v{i}"}, 1.0, float(i))
    trials = [opt.ask() for _ in range(4)]
    assert len({t.config["c"] for t in trials}) == 4
    assert trials[0].model_based and trials[0].config["c"] == "v0"


def test_tell_of_an_unknown_or_already_told_trial_is_a_value_error():
    opt = BOHB(small_space(), min_budget=1, max_budget=9, seed=0)
    trial = opt.ask()
    with pytest.raises(ValueError, match="no pending evaluation"):
        opt.tell(Trial(config_id=99, config={}, budget=1.0), Result("ok", loss=1.0))
    with pytest.raises(ValueError):
        opt.tell(Trial(config_id=trial.config_id, config={}, budget=9.0), Result("ok", loss=1.0))
    opt.tell(trial, Result("ok", loss=1.0))
    with pytest.raises(ValueError):
        opt.tell(trial, Result("ok", loss=1.0))


def test_no_numpy_scalars_leave_the_optimizer():
    space = conditional_space(seed=0)
    space.add(CS.OrdinalHyperparameter("depth", [2, 4, 8]))
    objective = SyntheticObjective(space, max_budget=9, seed=0)
    opt = BOHB(space, min_budget=1, max_budget=9, seed=0, min_points_in_model=5)
    history = simulate(opt, objective, 50)
    assert any(t.model_based for t, _ in history)
    for trial, _ in history:
        assert all(type(v) in PLAIN for v in trial.config.values())
        assert all(type(k) is str for k in trial.config)
        assert type(trial.budget) is float and type(trial.config_id) is int
        assert type(trial.bracket) is int and type(trial.stage) is int
        assert trial.previous_budget is None or type(trial.previous_budget) is float
        CS.Configuration(space, values=trial.config)
    config_id, config, budget, loss = opt.incumbent()
    assert type(config_id) is int and type(budget) is float and type(loss) is float
    assert all(type(v) in PLAIN for v in config.values())


def test_without_n_iterations_the_optimizer_never_finishes():
    opt = BOHB(small_space(), min_budget=1, max_budget=9, seed=0, model="random")
    for _ in range(100):
        trial = opt.ask()
        assert trial is not None
        opt.tell(trial, quadratic(trial))
    assert not opt.finished


def test_incumbent_is_the_best_at_the_largest_budget():
    opt = BOHB(small_space(), min_budget=1, max_budget=9, n_iterations=1, seed=0)
    assert opt.incumbent() is None
    # low-budget losses are tiny, the final one large: the final one still wins
    trials = run_all(opt, lambda t: Result("ok", loss=0.01 if t.budget < 9 else 0.5))
    config_id, config, budget, loss = opt.incumbent()
    final = [t for t in trials if t.budget == 9.0][0]
    assert (config_id, config, budget, loss) == (final.config_id, final.config, 9.0, 0.5)


def test_warm_start_observations_feed_the_model_only():
    space = small_space()
    opt = BOHB(space, min_budget=1, max_budget=9, random_fraction=0.0, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(12):
        x = float(rng.random())
        opt.observe({"x": x, "c": "b"}, 9.0, (x - 0.3) ** 2)
    trial = opt.ask()
    assert trial.model_based and opt.stats == {"model_based": 1, "random": 0}
    assert opt.n_told == 0 and opt.incumbent() is None
    with pytest.raises(ConfigError):
        opt.observe({"x": 2.0, "c": "b"}, 9.0, 0.1)


def test_methods_hyperband_and_random_search():
    space = small_space()
    hyperband = make_optimizer("hyperband", space, min_budget=1, max_budget=9, n_iterations=3)
    trials = run_all(hyperband)
    assert len(trials) == 22 and not any(t.model_based for t in trials)
    search = make_optimizer("random", space, min_budget=1, max_budget=9, n_iterations=4)
    trials = run_all(search)
    assert len(trials) == 12 and {t.budget for t in trials} == {9.0}
    assert all(t.previous_budget is None for t in trials)
    kde = make_optimizer("bohb-kde", space, min_budget=1, max_budget=9, schedule="hpbandster")
    assert kde.settings["model"] == "kde" and kde.settings["schedule"] == "hpbandster"
    with pytest.raises(ConfigError, match="unknown optimization method"):
        make_optimizer("smac", space, min_budget=1, max_budget=9)
    with pytest.raises(ConfigError, match="implies"):
        make_optimizer("hyperband", space, min_budget=1, max_budget=9, model="tpe")


def test_bad_settings_are_config_errors_and_warnings_come_from_the_schedule():
    space = small_space()
    with pytest.raises(ConfigError):
        BOHB(space, min_budget=1, max_budget=9, random_fraction=1.5)
    with pytest.raises(ConfigError):
        BOHB(space, min_budget=1, max_budget=9, n_iterations=-1)
    opt = BOHB(space, min_budget=3, max_budget=10, eta=2, schedule="hpbandster")
    assert opt.warnings == make_schedule("hpbandster", 3, 10, eta=2).warnings != []


def test_the_optimizer_does_not_import_torch():
    code = (
        "import sys, autocnn.optimize.bohb, autocnn.optimize.synthetic;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def final_loss(method: str, seed: int, cost: float) -> float:
    space = conditional_space(seed=0)
    objective = SyntheticObjective(space, max_budget=9, seed=seed)
    opt = make_optimizer(method, space, min_budget=1, max_budget=9, eta=3, seed=seed)
    simulate(opt, objective, 10**6, max_cost=cost)
    return objective.loss(opt.incumbent()[1], 9, noise=False)


def test_bohb_beats_random_search_on_the_synthetic_30d_conditional_objective():
    # Same total budget (epochs) for each; the noise-free final error of each incumbent.
    seeds = range(5)
    bohb = [final_loss("bohb", seed, cost=400) for seed in seeds]
    random_search = [final_loss("random", seed, cost=400) for seed in seeds]
    assert np.median(bohb) < np.median(random_search) - 0.03
    assert sum(b < r for b, r in zip(bohb, random_search, strict=True)) >= 4


def test_start_with_default_evaluates_the_space_default_first_then_samples():
    space = CS.ConfigurationSpace(seed=0)
    x = CS.Float("x", (1e-4, 0.3), log=True, default=3e-3)  # a log scale rounds on decode
    space.add([x, CS.Categorical("c", ["a", "b", "c"])])
    opt = BOHB(space, min_budget=1, max_budget=9, n_iterations=1, seed=0, start_with_default=True)
    trials = run_all(opt)
    first = trials[0]
    assert first.config == {"x": 3e-3, "c": "a"} and first.budget == 1.0
    assert all(type(v) in PLAIN for v in first.config.values())
    new_configs = [t.config for t in trials if t.previous_budget is None]
    assert new_configs.count({"x": 3e-3, "c": "a"}) == 1  # only once, then sampling as usual
    assert opt.settings["start_with_default"] is True
    plain = BOHB(space, min_budget=1, max_budget=9, n_iterations=1, seed=0)
    assert plain.ask().config != first.config


def test_runs_recorded_before_start_with_default_existed_resume_without_it():
    from autocnn.optimize.run import optimizer_from_settings
    from autocnn.optimize.settings import RunSettings

    settings = RunSettings("kmnist10k", min_budget=1, max_budget=9)
    assert optimizer_from_settings(settings, small_space()).start_with_default is True
    stored = settings.to_dict()
    del stored["start_with_default"]  # what an older run.db holds
    old = RunSettings.from_dict(stored)
    assert optimizer_from_settings(old, small_space()).start_with_default is False


def failing_quadratic(trial: Trial, above: float = 0.7) -> Result:
    """quadratic, except that configs with x > ``above`` fail."""
    return Result("failed") if trial.config["x"] > above else quadratic(trial)


@pytest.mark.parametrize("method", ["bohb", "hyperband", "random"])
def test_total_evaluations_starts_at_the_plan_and_ends_at_what_ran(method):
    from autocnn.optimize.protocol import Optimizer

    opt = make_optimizer(method, small_space(), min_budget=1, max_budget=9, n_iterations=4)
    assert isinstance(opt, Optimizer)
    planned = sum(sum(opt.schedule.brackets(i).n_configs) for i in range(4))
    totals = [opt.total_evaluations]
    running: list[Trial] = []
    while not opt.finished:  # four at a time: brackets overlap
        while len(running) < 4 and (trial := opt.ask()) is not None:
            running.append(trial)
            totals.append(opt.total_evaluations)
        trial = running.pop(0)
        opt.tell(trial, failing_quadratic(trial, above=0.2))  # most fail
        totals.append(opt.total_evaluations)
        assert opt.n_asked <= totals[-1]
    assert totals[0] == planned
    assert totals == sorted(totals, reverse=True)  # failed configs are not promoted: it shrinks
    assert totals[-1] == opt.n_asked
    if method != "random":  # random search promotes nothing
        assert totals[-1] < planned
    unlimited = make_optimizer(method, small_space(), min_budget=1, max_budget=9)
    assert unlimited.total_evaluations is None


def test_promotable_configs_are_the_current_stage_without_its_failures():
    opt = BOHB(small_space(), min_budget=1, max_budget=9, model="random", n_iterations=1)
    first = [opt.ask() for _ in range(9)]  # bracket 0: 9 configs @1, 3 @3, 1 @9
    assert opt.promotable_config_ids() == {t.config_id for t in first}  # running: all may be
    failed = {t.config_id for t in first if failing_quadratic(t).status == "failed"}
    assert 0 < len(failed) <= 6
    for trial in first[:-1]:
        opt.tell(trial, failing_quadratic(trial))
    # told with a finite loss, or still running: may be promoted; failed: never
    assert opt.promotable_config_ids() == {t.config_id for t in first} - failed
    opt.tell(first[-1], failing_quadratic(first[-1]))
    # stage 0 complete: only the three promoted ones (their checkpoints will be continued)
    second = opt.promotable_config_ids()
    assert len(second) == 3 and not second & failed
    promoted = [opt.ask() for _ in range(3)]
    assert {t.config_id for t in promoted} == second and opt.ask() is None
    for trial in promoted:
        opt.tell(trial, quadratic(trial))
    last = opt.ask()
    assert opt.promotable_config_ids() == {last.config_id}  # continues from budget 3
    opt.tell(last, quadratic(last))
    assert opt.finished and opt.promotable_config_ids() == set()
