"""Learning-curve early stopping: the rule, the thresholds BOHB gives, the objective, the runner."""

from __future__ import annotations

import math

import ConfigSpace as CS
import pytest

from autocnn.optimize.bohb import BOHB
from autocnn.optimize.early_stopping import (
    CURVE,
    MIN_CURVES,
    SLACK,
    STOPPED_EARLY,
    CurveBank,
    EarlyStopping,
    StopRule,
)
from autocnn.optimize.evaluate import TrainingObjective
from autocnn.optimize.folder import checkpoint_path
from autocnn.optimize.runner import run_optimizer
from autocnn.optimize.settings import RunSettings
from autocnn.optimize.store import Store
from autocnn.optimize.trial import OK, Result, Trial
from autocnn.space import default_config

# ----------------------------------------------------------------------------- the rule


def test_the_bound_uses_the_best_improvement_seen_and_slack():
    bank = CurveBank()
    bank.add(9.0, [[3.0, 0.40], [6.0, 0.30], [9.0, 0.20]])  # 0.5 from epoch 3
    bank.add(9.0, [[3.0, 0.50], [6.0, 0.20], [9.0, 0.10]])  # 0.2 from epoch 3: the best
    assert bank.ratios(9.0) == {}  # fewer than MIN_CURVES curves: no rule
    for _ in range(MIN_CURVES - 2):
        bank.add(9.0, [[3.0, 0.40], [6.0, 0.30], [9.0, 0.30]])
    ratios = bank.ratios(9.0)
    assert ratios == {3.0: round(SLACK * 0.2, 4), 6.0: round(SLACK * 0.5, 4)}
    assert bank.ratios(9.0, after=3.0) == {6.0: round(SLACK * 0.5, 4)}  # continued from 3
    assert bank.ratios(3.0) == {}  # other budgets have their own curves
    rule = StopRule(0.05, ratios)
    assert rule.check(3.0, 0.40) is not None  # 0.40 * 0.16 = 0.064 >= 0.05
    assert rule.check(3.0, 0.30) is None  # 0.048 could still beat it
    assert rule.check(4.0, 9.99) is None  # an epoch without a ratio is never judged
    assert rule.check(3.0, None) is None and rule.check(3.0, math.nan) is None
    assert StopRule.from_dict(rule.to_dict()) == rule


def test_a_curve_without_its_end_teaches_nothing():
    bank = CurveBank()
    bank.add(3.0, [])
    bank.add(3.0, [[1.0, 0.5], [2.0, 0.4], [3.0, math.inf]])
    assert bank.n_curves(3.0) == 0


# ----------------------------------------------------------------------------- BOHB's thresholds


def _bohb(**kwargs) -> BOHB:
    space = CS.ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    return BOHB(space, min_budget=1, max_budget=9, eta=3, model="random", seed=0, **kwargs)


def test_the_threshold_is_what_the_rung_promotes_then_the_best_at_the_last_stage():
    opt = _bohb(n_iterations=1)  # 9 configs @1, 3 @3, 1 @9
    first = [opt.ask() for _ in range(9)]
    assert all(t.budget == 1 for t in first)
    assert opt.stop_threshold(first[-1]) is None  # nothing told yet
    for trial, loss in zip(first[:3], (0.5, 0.3, 0.4), strict=True):
        opt.tell(trial, Result(OK, loss=loss))
    # 3 are promoted from stage 0: the third best told so far
    assert opt.stop_threshold(first[5]) == 0.5
    opt.tell(first[3], Result(OK, loss=0.2))
    assert opt.stop_threshold(first[5]) == 0.4  # stricter as results come in
    opt.tell(first[4], Result("failed"))  # a failure is not a loss to beat
    assert opt.stop_threshold(first[5]) == 0.4
    for trial in first[5:]:
        opt.tell(trial, Result(OK, loss=0.9))
    second = [opt.ask() for _ in range(3)]
    assert [t.budget for t in second] == [3.0] * 3
    assert opt.stop_threshold(second[0]) is None  # 1 is promoted, none told at 3 yet
    opt.tell(second[0], Result(OK, loss=0.25))
    assert opt.stop_threshold(second[1]) == 0.25
    opt.tell(second[1], Result(OK, loss=0.1))
    opt.tell(second[2], Result(OK, loss=0.3))
    last = opt.ask()
    assert last.budget == 9.0 and opt.stop_threshold(last) is None  # no result at 9 yet
    assert opt.stop_threshold(Trial(999, {"x": 0.1}, budget=9.0)) is None  # not pending


def test_at_the_last_stage_the_threshold_is_the_best_loss_at_that_budget():
    opt = BOHB(
        CS.ConfigurationSpace({"x": (0.0, 1.0)}, seed=0),
        min_budget=9, max_budget=9, schedule="random", model="random", n_iterations=3,
    )  # fmt: skip
    trials = [opt.ask() for _ in range(3)]
    opt.tell(trials[0], Result(OK, loss=0.3))
    assert opt.stop_threshold(trials[1]) == 0.3
    opt.tell(trials[1], Result(OK, loss=0.2))
    assert opt.stop_threshold(trials[2]) == 0.2


def test_a_trial_gets_a_rule_only_with_a_threshold_and_enough_curves():
    opt = _bohb(n_iterations=1)
    stopping = EarlyStopping(opt)
    trials = [opt.ask() for _ in range(9)]
    for trial in trials[:3]:
        result = Result(OK, loss=0.5, metrics={CURVE: [[1.0, 0.5]]})
        opt.tell(trial, result)
        stopping.observe(trial, result)
    assert opt.stop_threshold(trials[3]) == 0.5
    assert stopping.prepare(trials[3]).stop_rule is None  # budget-1 curves have one point
    stopping.adopt([(1.0, Result(OK, loss=0.4, metrics={CURVE: [[0.5, 0.8], [1.0, 0.4]]}))])
    stopping.adopt([(1.0, Result(OK, loss=0.3, metrics={CURVE: [[0.5, 0.9], [1.0, 0.3]]}))])
    stopped = {CURVE: [[0.5, 0.2], [1.0, 0.1]], STOPPED_EARLY: "stopped early at epoch 0.5"}
    stopping.adopt([(1.0, Result(OK, loss=0.1, metrics=stopped))])  # not a whole curve
    assert stopping.prepare(trials[3]).stop_rule is None  # 2 whole curves
    stopping.adopt([(1.0, Result(OK, loss=0.5, metrics={CURVE: [[0.5, 0.6], [1.0, 0.5]]}))])
    rule = StopRule.from_dict(stopping.prepare(trials[3]).stop_rule)
    assert rule == StopRule(0.5, {0.5: round(SLACK * 0.3 / 0.9, 4)})


# ----------------------------------------------------------------------------- the real objective


def test_the_objective_stops_where_its_rule_says_and_reports_that_epoch(dataset, tmp_path):
    objective = TrainingObjective(RunSettings(dataset, max_budget=4))
    config = {**default_config("seed"), "conv1_maxpool_kernel": 2, "batch_size": 32}
    first = objective(Trial(0, config, budget=1), tmp_path / "a")
    hopeless = StopRule(threshold=0.0, ratios={2.0: 1.0, 3.0: 1.0}).to_dict()  # any loss >= 0
    stopped = objective(
        Trial(0, config, budget=4, previous_budget=1, stop_rule=hopeless), tmp_path / "a"
    )
    assert stopped.status == OK and stopped.metrics[STOPPED_EARLY].startswith("stopped early")
    assert stopped.cost == pytest.approx(1)  # epoch 2 only: continued from 1, stopped at 2
    # the loss is epoch 2's, the same as a run to 2 epochs on the same schedule
    direct = objective(Trial(0, config, budget=2), tmp_path / "b")
    assert stopped.loss == direct.loss
    assert [e for e, _ in stopped.metrics[CURVE]] == [1.0, 2.0]
    assert stopped.metrics[CURVE][-1][1] == pytest.approx(stopped.loss)
    # no checkpoint claims budget 4; the one it continued from stays
    assert not checkpoint_path(tmp_path / "a", 4).exists()
    assert checkpoint_path(tmp_path / "a", 1).exists() and first.status == OK


# ----------------------------------------------------------------------------- the runner


class CurveObjective:
    """Every config's loss curve has the same shape, ``c(x) * (1 + 2 / epoch)``: the envelope of
    the finished curves holds exactly, so stopping must not change any decision of the run."""

    def __call__(self, trial: Trial, workdir) -> Result:
        scale = 0.05 + trial.config["x"]
        rule = None if trial.stop_rule is None else StopRule.from_dict(trial.stop_rule)
        start = int(trial.previous_budget or 0)
        curve = []
        for epoch in range(1, int(trial.budget) + 1):
            loss = scale * (1 + 2 / epoch)
            curve.append([float(epoch), loss])
            why = None if rule is None or epoch <= start else rule.check(epoch, loss)
            if why is not None and epoch < trial.budget:
                metrics = {CURVE: curve, STOPPED_EARLY: why}
                return Result(OK, loss=loss, metrics=metrics, cost=epoch - start)
        return Result(OK, loss=curve[-1][1], metrics={CURVE: curve}, cost=trial.budget - start)


def _run(tmp_path, name, early_stopping, **kwargs):
    summary = run_optimizer(
        _bohb(n_iterations=6), CurveObjective(), tmp_path / name,
        early_stopping=early_stopping, prune_checkpoints=False, **kwargs,
    )  # fmt: skip
    return summary


def _rows(tmp_path, name):
    with Store.open(tmp_path / name / "run.db", readonly=True) as store:
        return store.evaluations()


def test_stopping_saves_epochs_and_changes_no_decision_when_the_envelope_holds(tmp_path):
    plain = _run(tmp_path, "plain", False)
    early = _run(tmp_path, "early", True)
    plain_rows, early_rows = _rows(tmp_path, "plain"), _rows(tmp_path, "early")
    # the same evaluations in the same order: every promotion was the same
    assert [(r.config_id, r.budget) for r in early_rows] == [
        (r.config_id, r.budget) for r in plain_rows
    ]
    assert early.incumbent.config_id == plain.incumbent.config_id
    assert early.incumbent.loss == plain.incumbent.loss
    stopped = [r for r in early_rows if STOPPED_EARLY in r.metrics]
    assert len(stopped) >= 5
    with Store.open(tmp_path / "early" / "run.db", readonly=True) as store:
        assert store.n_stopped_early() == len(stopped)
    assert sum(r.cost for r in early_rows) < 0.8 * sum(r.cost for r in plain_rows)
    by_slot = {(r.config_id, r.budget): r for r in plain_rows}
    for row in stopped:  # each would have lost anyway, and is told a loss no better
        assert row.loss >= by_slot[(row.config_id, row.budget)].loss


def test_a_resumed_run_relearns_the_curves_and_continues_as_the_straight_one(tmp_path):
    _run(tmp_path, "straight", True)
    _run(tmp_path, "resumed", True, max_evaluations=40)
    run_optimizer(
        _bohb(n_iterations=6), CurveObjective(), tmp_path / "resumed", resume=True,
        early_stopping=True, prune_checkpoints=False,
    )  # fmt: skip
    straight, resumed = _rows(tmp_path, "straight"), _rows(tmp_path, "resumed")
    assert len(resumed) == len(straight) > 40
    for a, b in zip(straight, resumed, strict=True):
        assert (a.config_id, a.budget, a.loss, a.cost) == (b.config_id, b.budget, b.loss, b.cost)
        assert (STOPPED_EARLY in a.metrics) == (STOPPED_EARLY in b.metrics)


def test_the_setting_is_on_by_default_stored_and_old_runs_read_as_without_it():
    from autocnn.cli import build_parser

    settings = RunSettings("kmnist10k")
    assert settings.early_stopping is True
    assert RunSettings.from_dict(settings.to_dict()).early_stopping is True
    old = {k: v for k, v in settings.to_dict().items() if k != "early_stopping"}
    assert RunSettings.from_dict(old).early_stopping is False
    args = build_parser().parse_args(["optimize", "--dataset", "kmnist10k", "--out", "r",
                                      "--no-early-stopping"])  # fmt: skip
    assert args.early_stopping is False
