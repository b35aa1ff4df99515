"""Model maths (KDE kernels, Parzen estimators), the config encoding, and model behaviour."""

from __future__ import annotations

import math

import ConfigSpace as CS
import numpy as np
import pytest

from autocnn.errors import ConfigError
from autocnn.optimize.models import Observations, make_model
from autocnn.optimize.models.encoding import SpaceEncoding
from autocnn.optimize.models.kde import (
    KDEModel,
    MixedKDE,
    impute_inactive,
    norm_cdf,
    normal_reference_bandwidth,
    truncated_normal,
)
from autocnn.optimize.models.tpe import ParzenEstimators, TPEModel
from autocnn.optimize.synthetic import conditional_space


def gauss(x, mu, sd):
    return math.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


# --- KDE maths ------------------------------------------------------------------------------------
def test_gaussian_kde_pdf_matches_hand_computation():
    kde = MixedKDE(np.array([[0.2], [0.4]]), kinds=np.array([0]), bandwidth=np.array([0.1]))
    expected = 0.5 * (gauss(0.3, 0.2, 0.1) + gauss(0.3, 0.4, 0.1))
    assert kde.pdf(np.array([[0.3]]))[0] == pytest.approx(expected, rel=1e-12)
    assert kde.pdf(np.array([[0.9]]))[0] == pytest.approx(
        0.5 * (gauss(0.9, 0.2, 0.1) + gauss(0.9, 0.4, 0.1)), rel=1e-9
    )


def test_normal_reference_bandwidth_is_statsmodels_rule_clipped_at_min_bandwidth():
    data = np.array([[0.2, 0.5], [0.4, 0.5], [0.9, 0.5]])
    bw = normal_reference_bandwidth(data)
    assert bw[0] == pytest.approx(1.06 * np.std([0.2, 0.4, 0.9]) * 3 ** (-1 / 6))
    assert bw[1] == 0.0
    kde = MixedKDE(data, kinds=np.array([0, 0]), min_bandwidth=1e-3)
    assert kde.bw[1] == 1e-3 and kde.bw[0] == pytest.approx(bw[0])


def test_aitchison_aitken_kernel_matches_formula_and_sums_to_one():
    lam, k = 0.3, 4
    kde = MixedKDE(np.array([[2.0]]), kinds=np.array([k]), bandwidth=np.array([lam]))
    probs = kde.pdf(np.arange(k, dtype=float)[:, None])
    assert probs[2] == pytest.approx(1 - lam)
    assert probs[[0, 1, 3]] == pytest.approx([lam / (k - 1)] * 3)
    assert probs.sum() == pytest.approx(1.0)
    # several data points: the mean of the kernels, still a distribution
    kde = MixedKDE(np.array([[0.0], [0.0], [3.0]]), kinds=np.array([k]), bandwidth=np.array([lam]))
    probs = kde.pdf(np.arange(k, dtype=float)[:, None])
    assert probs[0] == pytest.approx((2 * (1 - lam) + lam / 3) / 3)
    assert probs.sum() == pytest.approx(1.0)


def test_categorical_bandwidth_is_capped_where_the_kernel_turns_uniform():
    # spread-out categories give a normal-reference lambda > 1 (HpBandSter's kernel goes negative)
    data = np.array([[0.0], [5.0], [0.0], [5.0], [2.0]])
    kde = MixedKDE(data, kinds=np.array([6]))
    assert kde.bw[0] == pytest.approx(5 / 6)
    probs = kde.pdf(np.arange(6, dtype=float)[:, None])
    assert np.all(probs > 0) and probs.sum() == pytest.approx(1.0)


def test_mixed_kde_is_a_product_of_kernels_and_integrates_to_one():
    data = np.array([[0.3, 0.0], [0.6, 1.0], [0.5, 1.0]])
    kde = MixedKDE(data, kinds=np.array([0, 2]), bandwidth=np.array([0.1, 0.2]))
    point = np.array([[0.45, 1.0]])
    expected = np.mean(
        [
            gauss(0.45, 0.3, 0.1) * 0.2,
            gauss(0.45, 0.6, 0.1) * 0.8,
            gauss(0.45, 0.5, 0.1) * 0.8,
        ]
    )
    assert kde.pdf(point)[0] == pytest.approx(expected)
    grid = np.linspace(-1, 2, 3001)
    total = sum(
        np.trapezoid(kde.pdf(np.column_stack([grid, np.full_like(grid, c)])), grid)
        for c in (0.0, 1.0)
    )
    assert total == pytest.approx(1.0, abs=1e-6)


def test_norm_cdf_and_truncated_normal():
    assert norm_cdf(np.array([0.0, 1.0, -2.0])) == pytest.approx(
        [0.5, 0.8413447461, 0.0227501319], abs=2e-7
    )
    rng = np.random.default_rng(0)
    draws = truncated_normal(rng, np.full(5000, 0.05), 0.3)
    assert draws.min() >= 0 and draws.max() <= 1
    # a normal truncated at 0: its mean lies above the untruncated mean
    assert draws.mean() > 0.2


def test_impute_inactive_fills_from_active_rows_of_the_same_column():
    rng = np.random.default_rng(0)
    data = np.array([[0.1, np.nan, np.nan], [0.2, 0.7, np.nan], [0.3, np.nan, np.nan]])
    out = impute_inactive(data, kinds=np.array([0, 0, 3]), rng=rng)
    assert np.isfinite(out).all()
    assert np.array_equal(out[:, 0], data[:, 0])
    assert np.all(out[:, 1] == 0.7)  # the only active value of that column
    assert set(out[:, 2]) <= {0.0, 1.0, 2.0}  # never active: a random category
    assert np.isnan(data).sum() == 5  # input untouched


# --- Parzen estimators (TPE) ----------------------------------------------------------------------
def test_parzen_categorical_probabilities_use_counts_and_prior():
    data = np.array([[0.0], [0.0], [1.0], [np.nan]])
    est = ParzenEstimators(data, kinds=np.array([3]), prior_weight=1.0)
    probs = np.exp(est.logpdf(np.array([[0.0], [1.0], [2.0]]))[:, 0])
    assert probs == pytest.approx([(2 + 1 / 3) / 4, (1 + 1 / 3) / 4, (1 / 3) / 4])


def test_parzen_numeric_matches_hand_computation_and_integrates_to_one():
    est = ParzenEstimators(np.array([[0.5], [np.nan]]), kinds=np.array([0]), prior_weight=1.0)
    sigma = 0.5  # std 0 -> clipped up to 1 / min(100, n + 1) = 0.5
    mass = 0.5 * (math.erf(0.5 / sigma / math.sqrt(2)) - math.erf(-0.5 / sigma / math.sqrt(2)))
    x = 0.8
    expected = (gauss(x, 0.5, sigma) / mass + 1.0) / 2
    assert math.exp(est.logpdf(np.array([[x]]))[0, 0]) == pytest.approx(expected, rel=1e-5)
    grid = np.linspace(0, 1, 2001)
    data = np.array([[0.1], [0.15], [0.9], [0.4]])
    est = ParzenEstimators(data, kinds=np.array([0]))
    assert np.trapezoid(np.exp(est.logpdf(grid[:, None])[:, 0]), grid) == pytest.approx(
        1.0, abs=1e-4
    )


def test_parzen_inactive_points_score_zero_and_samples_stay_in_range():
    kinds = np.array([0, 4])
    est = ParzenEstimators(np.array([[0.2, 1.0], [0.3, np.nan]]), kinds=kinds)
    log = est.logpdf(np.array([[np.nan, 1.0], [0.25, np.nan]]))
    assert log[0, 0] == 0.0 and log[1, 1] == 0.0 and log[0, 1] < 0
    draws = est.sample(np.random.default_rng(0), 500)
    assert draws[:, 0].min() >= 0 and draws[:, 0].max() <= 1
    assert set(np.unique(draws[:, 1])) <= {0.0, 1.0, 2.0, 3.0}
    assert np.mean(draws[:, 1] == 1.0) > 0.5  # (1 + 1/4) / 2 of the mass


# --- encoding ------------------------------------------------------------------------------------
def test_encoding_round_trips_configs_with_plain_python_values():
    space = conditional_space(seed=0)
    enc = SpaceEncoding(space)
    vectors = enc.sample_prior(50, np.random.RandomState(0))
    for vector in vectors:
        config = enc.decode(vector)
        CS.Configuration(space, values=config)  # valid, inactive children absent
        assert all(type(v) in (int, float, str, bool) for v in config.values())
        assert np.array_equal(np.isnan(enc.encode(config)), np.isnan(vector))
        assert np.allclose(np.nan_to_num(enc.encode(config)), np.nan_to_num(vector))


def test_snap_puts_arbitrary_vectors_on_legal_values_and_switches_children_off():
    space = conditional_space(seed=0)
    enc = SpaceEncoding(space)
    raw = np.random.default_rng(1).uniform(-0.2, 1.2, (30, enc.dim)) * np.maximum(enc.kinds, 1)
    for vector in enc.snap(raw):
        config = enc.decode(vector, snapped=True)
        CS.Configuration(space, values=config)
        if config["optimizer"] != "sgd":
            assert "momentum" not in config


def test_encode_rejects_unknown_keys_and_illegal_values():
    enc = SpaceEncoding(conditional_space())
    with pytest.raises(ConfigError, match="not in the search space"):
        enc.encode({"no_such_key": 1})
    with pytest.raises(ConfigError, match="optimizer"):
        enc.encode({"optimizer": "rmsprop"})


# --- model behaviour ------------------------------------------------------------------------------
def quadratic_space():
    return CS.ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)


def feed(model, enc, n, rng, budget=1.0):
    for _ in range(n):
        vector = rng.random(enc.dim)
        model.observe(vector, budget, float(np.sum((vector - 0.2) ** 2)))


@pytest.mark.parametrize("name", ["tpe", "kde"])
def test_models_propose_near_the_good_region(name):
    enc = SpaceEncoding(quadratic_space())
    model = make_model(name, enc)
    rng = np.random.default_rng(0)
    feed(model, enc, 40, rng)
    proposals = np.array([model.propose(rng, np.empty((0, 2))) for _ in range(30)])
    distance = np.linalg.norm(proposals - 0.2, axis=1)
    random_distance = np.linalg.norm(rng.random((30, 2)) - 0.2, axis=1)
    assert np.median(distance) < 0.6 * np.median(random_distance)


def test_kde_model_needs_two_d_plus_one_results_on_a_budget_and_uses_the_largest():
    enc = SpaceEncoding(quadratic_space())  # d = 2: min_points 3, n_good 3, bad needs > 2 rows
    model = KDEModel(enc)
    rng = np.random.default_rng(0)
    feed(model, enc, 5, rng, budget=1.0)
    assert model.model_budget() is None
    assert model.propose(rng, np.empty((0, 2))) is None
    feed(model, enc, 1, rng, budget=1.0)
    assert model.model_budget() == 1.0
    feed(model, enc, 6, rng, budget=3.0)
    assert model.model_budget() == 3.0
    assert model.propose(rng, np.empty((0, 2))) is not None


def test_tpe_model_exists_after_min_points_on_one_budget():
    enc = SpaceEncoding(quadratic_space())
    model = TPEModel(enc)  # default: 10 results
    rng = np.random.default_rng(0)
    feed(model, enc, 9, rng)
    assert model.propose(rng, np.empty((0, 2))) is None
    feed(model, enc, 1, rng)
    assert model.propose(rng, np.empty((0, 2))) is not None


@pytest.mark.parametrize("name", ["tpe", "kde"])
def test_failed_results_count_as_worst(name):
    enc = SpaceEncoding(CS.ConfigurationSpace({"c": ["a", "b", "c", "d"]}, seed=0))
    model = make_model(name, enc, min_points_in_model=4)
    for i in range(24):
        index = float(i % 4)
        loss = math.inf if index == 0 else (math.nan if index == 1 else 1.0 + index)
        model.observe(np.array([index]), 1.0, loss)
    assert model.data[1.0].y[0] == math.inf and model.data[1.0].y[1] == math.inf
    rng = np.random.default_rng(0)
    picks = [enc.decode(model.propose(rng, np.empty((0, 1))))["c"] for _ in range(20)]
    assert picks.count("c") > picks.count("a") + picks.count("b")


@pytest.mark.parametrize("name", ["tpe", "kde"])
def test_pending_configs_are_not_proposed_again(name):
    # One categorical with three equally good choices: without the constant liar every proposal
    # would be the first of them, and that one is running.
    space = CS.ConfigurationSpace({"c": [f"v{i}" for i in range(6)]}, seed=0)
    enc = SpaceEncoding(space)
    model = make_model(name, enc, min_points_in_model=2, num_samples=64)
    for i in range(30):
        model.observe(np.array([float(i % 6)]), 1.0, 0.0 if i % 6 < 3 else 10.0)
    rng = np.random.default_rng(0)
    pending = np.array([[0.0]])  # "v0" is running
    picks = []
    for _ in range(3):
        vector = model.propose(rng, pending)
        assert vector is not None  # there is always a choice that is not running
        assert not enc.same_as_any(vector[None, :], pending)[0]
        pending = np.vstack([pending, vector])
        picks.append(enc.decode(vector)["c"])
    assert sorted(picks[:2]) == ["v1", "v2"]  # the other good choices first
    assert picks[2] in {"v3", "v4", "v5"}  # then, all good ones running, one not tried yet


@pytest.mark.parametrize("name", ["tpe", "kde"])
def test_a_model_whose_every_candidate_is_running_says_so(name):
    space = CS.ConfigurationSpace({"c": ["v0", "v1", "v2"]}, seed=0)
    enc = SpaceEncoding(space)
    model = make_model(name, enc, min_points_in_model=2, num_samples=64)
    for i in range(30):
        model.observe(np.array([float(i % 3)]), 1.0, float(i % 3))
    rng = np.random.default_rng(0)
    assert model.propose(rng, np.empty((0, 1))) is not None
    # None, not a running config: the optimizer samples at random instead.
    assert model.propose(rng, np.array([[0.0], [1.0], [2.0]])) is None


def test_observations_window_keeps_the_best_results():
    obs = Observations(dim=1, capacity=40, keep_best=5)
    for i in range(100):
        obs.add(np.array([float(i)]), loss=float(i) if i >= 5 else -float(i))
    assert obs.n == 40
    assert set(range(5)) <= set(obs.x[:, 0].astype(int))  # the 5 best, oldest of all
    assert obs.x[-1, 0] == 99  # and the most recent
    assert np.array_equal(obs.x[:, 0], np.sort(obs.x[:, 0]))  # order kept


def test_unknown_model_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown model"):
        make_model("smac", SpaceEncoding(quadratic_space()))


def test_joint_sampling_keeps_good_combinations_together():
    data = np.array([[0.1, 0.0]] * 10 + [[0.9, 1.0]] * 10)
    est = ParzenEstimators(data, kinds=np.array([0, 2]), prior_weight=1.0)
    rng = np.random.default_rng(0)

    def agreement(draws):
        from_data = (np.abs(draws[:, 0] - 0.1) < 0.2) | (np.abs(draws[:, 0] - 0.9) < 0.2)
        matches = (draws[:, 0] < 0.5) == (draws[:, 1] == 0.0)
        return matches[from_data].mean()

    assert agreement(est.sample(rng, 2000, joint=True)) > 0.9
    assert 0.35 < agreement(est.sample(rng, 2000, joint=False)) < 0.65
