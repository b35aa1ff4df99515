"""Prior-guided sampling: the prior's maths (models/prior.py) and PriorBand's policy
(optimize/sampling.py), wired into BOHB with ``sampler="prior"``."""

from __future__ import annotations

import ConfigSpace as CS
import numpy as np
import pytest

from autocnn.errors import ConfigError
from autocnn.optimize.bohb import BOHB
from autocnn.optimize.models import make_model
from autocnn.optimize.models.encoding import SpaceEncoding
from autocnn.optimize.models.prior import Prior
from autocnn.optimize.sampling import P_UNIFORM, PriorSampler
from autocnn.optimize.synthetic import SyntheticObjective, conditional_space, simulate
from autocnn.optimize.trial import Result
from autocnn.space import get_space


def distances(encoding: SpaceEncoding, vectors: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Mean per-dimension distance over the dimensions active in both (categories: 0/1)."""
    both = ~np.isnan(vectors) & ~np.isnan(centre)[None]
    diff = np.abs(np.nan_to_num(vectors) - np.nan_to_num(centre)[None])
    diff = np.where(encoding.kinds[None] > 0, diff > 0, diff)
    return (diff * both).sum(axis=1) / np.maximum(both.sum(axis=1), 1)


def uniform(encoding: SpaceEncoding, n: int, seed: int = 0) -> np.ndarray:
    return encoding.sample_prior(n, np.random.RandomState(seed))


@pytest.mark.parametrize("space_name", ["seed", "extended"])
def test_prior_samples_are_valid_configs_and_concentrate_near_the_default(space_name):
    space = get_space(space_name)
    encoding = SpaceEncoding(space)
    default = dict(space.get_default_configuration())
    prior = Prior(encoding, [default])
    samples = prior.sample(np.random.default_rng(0), 300)
    for vector in samples[:100]:
        config = encoding.decode(vector, snapped=True)
        CS.Configuration(space, values=config).check_valid_configuration()  # raises if invalid
    centre = encoding.encode(default)
    near = distances(encoding, samples, centre)
    far = distances(encoding, uniform(encoding, 300), centre)
    assert np.median(near) < 0.6 * np.median(far)
    assert np.quantile(near, 0.9) < np.median(far)
    # the density agrees: prior samples are more likely under the prior than uniform ones
    assert np.median(prior.logpdf(samples)) > np.median(prior.logpdf(uniform(encoding, 300)))


def test_a_portfolio_prior_is_a_mixture_over_its_entries():
    space = CS.ConfigurationSpace({"x": (0.0, 1.0)})
    encoding = SpaceEncoding(space)
    prior = Prior(encoding, [{"x": 0.1}, {"x": 0.9}], std=0.05)
    x = prior.sample(np.random.default_rng(0), 2000)[:, 0]
    assert 0.4 < np.mean(x < 0.5) < 0.6
    assert np.mean(np.abs(x - 0.5) > 0.25) > 0.95
    density = np.exp(prior.logpdf(np.array([[0.1], [0.5], [0.9]])))
    assert density[0] == pytest.approx(density[2], rel=1e-6) and density[1] < 1e-3 * density[0]
    # a normalised density: integrates to 1 over [0, 1]
    grid = np.linspace(0, 1, 20001)[:, None]
    assert np.exp(prior.logpdf(grid)).mean() == pytest.approx(1.0, abs=1e-3)


def test_categorical_prior_mass_and_inactive_children():
    space = conditional_space()
    encoding = SpaceEncoding(space)
    default = dict(space.get_default_configuration())
    prior = Prior(encoding, [default], category_mass=0.5)
    samples = prior.sample(np.random.default_rng(1), 4000)
    centre = encoding.encode(default)
    for j in np.flatnonzero(encoding.kinds > 1):
        active = ~np.isnan(samples[:, j])
        if np.isnan(centre[j]) or active.sum() < 500:
            continue
        k = encoding.kinds[j]
        share = np.mean(samples[active, j] == centre[j])
        assert share == pytest.approx(0.5 + 0.5 / k, abs=0.05), encoding.names[j]
    # children the centre leaves inactive still get sampled when a parent switches them on,
    # and every sample is a valid config
    for vector in samples[:200]:
        CS.Configuration(
            space, values=encoding.decode(vector, snapped=True)
        ).check_valid_configuration()


def observed_model(encoding: SpaceEncoding, points: list[tuple[np.ndarray, float]], budget=9.0):
    model = make_model("tpe", encoding)
    for vector, loss in points:
        model.observe(vector, budget, loss)
    return model


def test_probabilities_start_at_the_prior_and_shift_to_the_incumbent_with_evidence():
    space = CS.ConfigurationSpace()
    space.add([CS.UniformFloatHyperparameter(n, 0.0, 1.0, default_value=0.1) for n in "xy"])
    encoding = SpaceEncoding(space)
    sampler = PriorSampler(Prior(encoding, [dict(space.get_default_configuration())]))
    p_u, p_prior, p_inc, incumbent = sampler.probabilities(make_model("tpe", encoding))
    assert (p_u, p_prior, p_inc, incumbent) == (P_UNIFORM, 1 - P_UNIFORM, 0.0, None)
    # the good results cluster near the default: the prior keeps its share
    near_default = [(np.array([0.1 + 0.02 * i, 0.1]), 0.1 + 0.01 * i) for i in range(8)]
    p = sampler.probabilities(observed_model(encoding, near_default))
    assert p[2] == 0.0 and p[1] == pytest.approx(1 - P_UNIFORM)
    # the good results cluster around an incumbent far from the default: the mix moves there
    far = [(np.array([0.85 + 0.01 * i, 0.9]), 0.1 + 0.01 * i) for i in range(6)]
    bad = [(np.array([0.1, 0.1 + 0.05 * i]), 0.8) for i in range(6)]
    p_u, p_prior, p_inc, incumbent = sampler.probabilities(observed_model(encoding, far + bad))
    assert p_u == P_UNIFORM and p_inc > 0.4 and p_prior < 0.25  # 5 voters: 0.46, 0.20
    assert p_u + p_prior + p_inc == pytest.approx(1.0)
    np.testing.assert_allclose(incumbent, [0.85, 0.9])
    # more such evidence, more weight on the incumbent
    more = [(np.array([0.8 + 0.01 * i, 0.85]), 0.15 + 0.01 * i) for i in range(6)]
    assert sampler.probabilities(observed_model(encoding, far + more + bad))[2] > p_inc
    # too few finite results on every budget: no incumbent yet
    few = [(np.array([0.9, 0.9]), 0.1), (np.array([0.8, 0.9]), float("inf"))]
    assert sampler.probabilities(observed_model(encoding, few))[2:] == (0.0, None)


def test_incumbent_local_samples_concentrate_near_the_incumbent():
    space = conditional_space()
    encoding = SpaceEncoding(space)
    default = encoding.encode(dict(space.get_default_configuration()))
    sampler = PriorSampler(Prior(encoding, default[None]), p_uniform=0.0)
    incumbent = uniform(encoding, 1, seed=3)[0]
    others = uniform(encoding, 12, seed=4)
    points = [(incumbent, 0.05)] + [(incumbent, 0.06)] * 3 + [(v, 0.9) for v in others]
    model = observed_model(encoding, points)
    _, _, p_inc, found = sampler.probabilities(model)
    np.testing.assert_array_equal(np.isnan(found), np.isnan(incumbent))
    assert p_inc > 0.5
    rng = np.random.default_rng(0)
    drawn = [sampler.sample(rng, model) for _ in range(400)]
    local = np.array([v for v, kind in drawn if kind == "incumbent"])
    assert len(local) > 150 and {kind for _, kind in drawn} == {"prior", "incumbent"}
    to_incumbent = distances(encoding, local, incumbent)
    assert np.median(to_incumbent) < 0.5 * np.median(distances(encoding, others, incumbent))
    for vector in local[:50]:
        CS.Configuration(
            space, values=encoding.decode(vector, snapped=True)
        ).check_valid_configuration()


def test_prior_and_incumbent_samples_avoid_configs_evaluated_already(monkeypatch):
    from autocnn.optimize import sampling

    space = CS.ConfigurationSpace({"c": ["a", "b", "c", "d"], "n": (1, 4)})  # 16 configs
    encoding = SpaceEncoding(space)
    sampler = PriorSampler(Prior(encoding, [{"c": "a", "n": 1}]), p_uniform=0.0)
    tried = [({"c": "c", "n": 3}, 0.1), ({"c": "c", "n": 4}, 0.2), ({"c": "c", "n": 2}, 0.25)]
    tried += [({"c": "a", "n": 1}, 0.5), ({"c": "b", "n": 1}, 0.6), ({"c": "d", "n": 4}, 0.7)]
    model = observed_model(encoding, [(encoding.encode(c), loss) for c, loss in tried])
    seen = np.stack([encoding.encode(c) for c, _ in tried])

    def repeats() -> float:
        rng = np.random.default_rng(0)
        drawn = [sampler.sample(rng, model) for _ in range(300)]
        assert {kind for _, kind in drawn} == {"prior", "incumbent"}
        return float(encoding.same_as_any(np.stack([v for v, _ in drawn]), seen).mean())

    # around (c, 3) most draws are (c, 2..4), all tried: 10 draws leave ~0.8 ** 10 of them
    assert repeats() < 0.2
    monkeypatch.setattr(sampling, "NEW_TRIES", 1)
    assert repeats() > 0.4


def run_prior(seed: int, **kwargs) -> tuple[list, BOHB]:
    space = conditional_space()
    objective = SyntheticObjective(space, 9, seed=1)
    opt = BOHB(space, min_budget=1, max_budget=9, seed=seed, sampler="prior", **kwargs)
    history = simulate(opt, objective, 10**6, 3, max_cost=150)
    return [(t.config_id, t.budget, t.config) for t, _ in history], opt


def test_same_seed_same_trials_with_the_prior_sampler():
    first, opt = run_prior(0)
    again, _ = run_prior(0)
    other, _ = run_prior(1)
    assert first == again and first != other
    assert opt.settings["sampler"] == "prior"
    counts = opt.sampler.counts
    assert counts["uniform"] > 0 and counts["prior"] > 0 and opt.stats["model_based"] > 0
    assert opt.model.prior is None  # πBO's weight is off by default (PRIOR_BETA = 0)


def test_pibo_weight_pulls_tpe_proposals_towards_the_prior(monkeypatch):
    from autocnn.optimize import sampling

    space = CS.ConfigurationSpace({"x": (0.0, 1.0)})
    encoding = SpaceEncoding(space)

    def proposals(prior: Prior | None, beta: float) -> np.ndarray:
        model = make_model("tpe", encoding, min_points_in_model=3)
        model.prior, model.prior_beta = prior, beta
        for x in np.linspace(0, 1, 10):
            model.observe(np.array([x]), 1, abs(x - 0.4))  # good near 0.4
        return np.array([model.propose(np.random.default_rng(s), np.empty((0, 1)))[0]
                         for s in range(20)])  # fmt: skip

    prior = Prior(encoding, [{"x": 0.9}], std=0.1)
    assert abs(np.median(proposals(None, 0.0)) - 0.4) < 0.15
    assert np.median(proposals(prior, 50.0)) > np.median(proposals(None, 0.0)) + 0.15
    np.testing.assert_array_equal(proposals(prior, 0.0), proposals(None, 0.0))
    # with PRIOR_BETA > 0 the optimizer hands its prior to the TPE model, and stays seeded
    monkeypatch.setattr(sampling, "PRIOR_BETA", 10.0)
    first, opt = run_prior(0)
    assert opt.model.prior is opt.sampler.prior and opt.model.prior_beta == 10.0
    assert run_prior(0)[0] == first


def near_share(sampler: str, centre: dict) -> float:
    """Share of BOHB's new configs within 0.25 (mean per dimension) of ``centre``."""
    space = CS.ConfigurationSpace({f"x{i}": (0.0, 1.0) for i in range(10)})
    opt = BOHB(
        space, min_budget=1, max_budget=9, n_iterations=3, seed=0, model="random",
        sampler=sampler, prior_configs=[centre] if sampler == "prior" else None,
    )  # fmt: skip
    new = []
    while (trial := opt.ask()) is not None:
        x = np.array(list(trial.config.values()))
        if trial.previous_budget is None:
            new.append(x)
        opt.tell(trial, Result("ok", loss=float(np.sum(x))))  # the prior is wrong: 0 is best
    return float(np.mean(np.abs(np.array(new) - 0.8).mean(axis=1) < 0.25))


def test_prior_sampler_samples_near_the_prior_centre_in_bohb():
    centre = {f"x{i}": 0.8 for i in range(10)}
    assert near_share("prior", centre) > 0.3 > 3 * near_share("random", centre)


def test_unknown_sampler_is_a_config_error_and_random_is_unchanged():
    space = CS.ConfigurationSpace({"x": (0.0, 1.0)})
    with pytest.raises(ConfigError, match="sampler"):
        BOHB(space, min_budget=1, max_budget=9, sampler="gaussian")
    plain = BOHB(space, min_budget=1, max_budget=9, seed=0)
    assert plain.sampler is None and "sampler" not in plain.settings


def test_settings_sampler_option_and_old_runs_mean_random():
    from autocnn.optimize.run import optimizer_from_settings
    from autocnn.optimize.settings import RunSettings

    settings = RunSettings("kmnist10k", sampler="prior", portfolio=True)
    assert RunSettings.from_dict(settings.to_dict()) == settings
    optimizer = optimizer_from_settings(settings, get_space("seed"))
    assert optimizer.sampler is not None and len(optimizer.sampler.prior.centres) > 1
    stored = settings.to_dict()
    del stored["sampler"]  # what an older run.db holds
    old = RunSettings.from_dict(stored)
    assert old.sampler == "random"
    assert optimizer_from_settings(old, get_space("seed")).sampler is None
    with pytest.raises(ConfigError, match="--sampler"):
        RunSettings("kmnist10k", sampler="pi")


def test_a_prior_sampled_run_resumed_after_a_limit_is_the_run_never_stopped(tmp_path):
    from test_runner import Marked, calls, outcome

    from autocnn.optimize.runner import run_optimizer

    def build():
        space = conditional_space(seed=0)
        opt = BOHB(space, min_budget=1, max_budget=9, n_iterations=4, seed=3, sampler="prior",
                   start_with_default=True)  # fmt: skip
        return opt, Marked(SyntheticObjective(space, max_budget=9))

    settings = {"method": "bohb", "sampler": "prior", "seed": 3}
    reference = run_optimizer(*build(), tmp_path / "reference", settings=settings)
    run_dir = tmp_path / "run"
    first = run_optimizer(*build(), run_dir, max_evaluations=12, settings=settings)
    assert first.n_evaluations == 12
    second = run_optimizer(*build(), run_dir, resume=True, settings=settings)
    assert second.stopped == "finished" and second.n_evaluations == reference.n_evaluations
    assert outcome(run_dir) == outcome(tmp_path / "reference")
    assert all(calls(run_dir, cid, budget) == 1 for cid, budget, *_ in outcome(run_dir))
