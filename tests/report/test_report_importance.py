"""Hyperparameter importance finds the hyperparameter that drives the loss, and only it."""

from __future__ import annotations

import numpy as np
import pytest

from autocnn.report.analysis import NothingToShow
from autocnn.report.importance import BUDGET_COLUMN, encode_configs, hyperparameter_importance
from autocnn.report.load import load_run


def test_encoding_handles_categories_booleans_and_inactive_values():
    configs = [
        {"lr": 0.1, "opt": "sgd", "bn": True, "momentum": 0.9, "const": 3},
        {"lr": 0.01, "opt": "adam", "bn": False, "const": 3},  # momentum inactive
        {"lr": 0.001, "opt": "sgd", "bn": True, "momentum": 0.5, "const": 3},
    ]
    X, names = encode_configs(configs)
    assert names == ["bn", "lr", "momentum", "opt"]  # the constant column is dropped
    column = dict(zip(names, X.T, strict=True))
    assert column["opt"].tolist() == [1.0, 0.0, 1.0]
    assert column["bn"].tolist() == [1.0, 0.0, 1.0]
    assert column["momentum"][1] < 0.5  # inactive sorts below every active value
    assert not np.isnan(X).any()


def synthetic_specs(n: int, seed: int = 0, budgets=(3.0,)) -> list[dict]:
    """Loss = (x - 0.3)^2 + tiny noise; y, kind and the conditional z do not matter."""
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(n):
        x, y = float(rng.random()), float(rng.random())
        kind = ["a", "b", "c"][i % 3]
        config = {"x": x, "y": y, "kind": kind}
        if kind == "a":
            config["z"] = float(rng.random())
        for budget in budgets:
            loss = (x - 0.3) ** 2 + 0.002 * float(rng.random()) + 0.05 / budget
            specs.append({"config": config, "budget": budget, "loss": loss})
    return specs


def test_importance_ranks_the_driving_hyperparameter_first(make_run):
    run = load_run(make_run(synthetic_specs(40)))
    result = hyperparameter_importance(run)
    ranked = result.ranked()
    assert ranked[0][0] == "x"
    shares = dict(ranked)
    assert shares["x"] > 0.5 and max(shares["y"], shares["kind"], shares["z"]) < 0.1
    permutation = dict(zip(result.names, result.permutation, strict=True))
    assert permutation["x"] > 5 * max(permutation["y"], permutation["kind"])
    assert result.budget == 3.0 and result.n_points == 40
    assert result.fit_r2 is not None and result.fit_r2 > 0.5
    assert "budget 3" in result.describe()


def test_few_points_per_budget_pool_budgets(make_run):
    run = load_run(make_run(synthetic_specs(5, budgets=(1.0, 3.0))))
    result = hyperparameter_importance(run)  # 5 per budget < 12: pooled, budget is a column
    assert result.budget is None and result.n_points == 10
    assert BUDGET_COLUMN in result.names
    assert "pooled" in result.describe() and "hint" in result.describe()


def test_too_few_points_or_no_variation_say_why(make_run):
    with pytest.raises(NothingToShow, match="at least 6"):
        hyperparameter_importance(load_run(make_run(synthetic_specs(3), name="few")))
    same = [{"config": {"x": 0.5}, "loss": 0.1 * i} for i in range(8)]
    with pytest.raises(NothingToShow, match="no hyperparameter varied"):
        hyperparameter_importance(load_run(make_run(same, name="same")))
