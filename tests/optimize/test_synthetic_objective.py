"""The synthetic objective: deterministic, budget-dependent, conditional, with a known optimum."""

from __future__ import annotations

import pickle

import ConfigSpace as CS
import numpy as np
import pytest

from autocnn.optimize.bohb import BOHB
from autocnn.optimize.models.encoding import SpaceEncoding
from autocnn.optimize.synthetic import (
    SyntheticObjective,
    conditional_space,
    simulate,
    synthetic_loss,
)
from autocnn.optimize.trial import Trial


@pytest.fixture(scope="module")
def space():
    return conditional_space(seed=0)


@pytest.fixture(scope="module")
def configs(space):
    enc = SpaceEncoding(space)
    return [enc.decode(v) for v in enc.sample_prior(200, np.random.RandomState(0))]


def spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def test_conditional_space_has_30_hyperparameters_with_conditions(space):
    assert len(space) == 30
    assert len(space.conditions) >= 10
    kinds = {type(hp).__name__ for hp in space.values()}
    assert {"UniformFloatHyperparameter", "UniformIntegerHyperparameter"} <= kinds
    assert {"CategoricalHyperparameter", "OrdinalHyperparameter"} <= kinds


def test_loss_is_deterministic_and_depends_on_the_seed(space, configs):
    a = SyntheticObjective(space, max_budget=9, seed=0)
    b = SyntheticObjective(space, max_budget=9, seed=0)
    c = SyntheticObjective(space, max_budget=9, seed=1)
    losses_a = [a.loss(cfg, 3) for cfg in configs[:20]]
    assert losses_a == [b.loss(cfg, 3) for cfg in configs[:20]]
    assert losses_a != [c.loss(cfg, 3) for cfg in configs[:20]]
    assert synthetic_loss(configs[0], 3, 9, space, seed=0) == losses_a[0]
    # a pickled copy (as sent to worker processes) computes the same numbers
    copy = pickle.loads(pickle.dumps(a))
    assert [copy.loss(cfg, 3) for cfg in configs[:20]] == losses_a


def test_loss_falls_with_budget_and_low_budgets_rank_imperfectly(space, configs):
    objective = SyntheticObjective(space, max_budget=9, seed=0)
    clean = {b: np.array([objective.loss(c, b, noise=False) for c in configs]) for b in (1, 3, 9)}
    assert np.all(clean[1] >= clean[3]) and np.all(clean[3] >= clean[9])
    noisy = {b: np.array([objective.loss(c, b) for c in configs]) for b in (1, 9)}
    assert noisy[1].mean() > noisy[9].mean() + 0.05
    rho = spearman(noisy[1], noisy[9])
    assert 0.5 < rho < 0.995
    assert np.all((noisy[1] >= 0) & (noisy[1] <= 1))


def test_known_optimum_is_reached_only_at_the_optimum_config(space, configs):
    objective = SyntheticObjective(space, max_budget=9, seed=3)
    best = objective.optimum_config()
    CS.Configuration(space, values=best)
    assert objective.loss(best, 9, noise=False) == pytest.approx(objective.floor)
    assert min(objective.loss(c, 9, noise=False) for c in configs) > objective.floor + 0.01


def test_conditional_children_matter_only_when_active(space):
    objective = SyntheticObjective(space, max_budget=9, seed=0)
    config = dict(objective.optimum_config())
    config.update(optimizer="sgd", momentum=0.5)
    with_low = objective.loss(config, 9, noise=False)
    config["momentum"] = 0.95
    assert objective.loss(config, 9, noise=False) != with_low
    # momentum's penalty goes away with the branch: with adam only adam's own penalty counts
    config.pop("momentum")
    config["optimizer"] = objective.optimum_config()["optimizer"]
    assert objective.loss(config, 9, noise=False) < with_low


def test_objective_call_returns_results_like_training(space, configs):
    objective = SyntheticObjective(space, max_budget=9, seed=0)
    trial = Trial(config_id=0, config=configs[0], budget=9.0, previous_budget=3.0)
    result = objective(trial)
    assert result.ok and result.cost == 6.0
    assert result.loss == objective.loss(configs[0], 9.0) == result.metrics["val_error"]
    failing = SyntheticObjective(space, max_budget=9, seed=0, fail_fraction=1.0)
    assert failing(trial).status == "failed"
    some = SyntheticObjective(space, max_budget=9, seed=0, fail_fraction=0.5)
    statuses = [some(Trial(i, c, 1.0)).status for i, c in enumerate(configs[:40])]
    assert 5 < statuses.count("failed") < 35
    sleepy = SyntheticObjective(space, max_budget=9, seed=0, sleep_per_budget=0.01)
    assert sleepy(Trial(0, configs[0], 3.0, previous_budget=1.0)).seconds >= 0.02


def test_works_over_the_seed_space():
    from autocnn.space import get_space

    space = get_space("seed", seed=0)
    objective = SyntheticObjective(space, max_budget=9, seed=0)
    config = dict(space.get_default_configuration())
    assert 0.0 <= objective.loss(config, 1) <= 1.0
    assert objective.loss(objective.optimum_config(), 9, noise=False) == pytest.approx(0.02)


def test_simulate_stops_at_evaluations_or_cost(space):
    objective = SyntheticObjective(space, max_budget=9, seed=0)
    history = simulate(BOHB(space, min_budget=1, max_budget=9), objective, 15, workers=4)
    assert len(history) == 15
    history = simulate(BOHB(space, min_budget=1, max_budget=9), objective, 1000, max_cost=30)
    spent = sum(result.cost for _, result in history)
    assert 30 <= spent < 30 + 9
