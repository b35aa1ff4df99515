"""Sampler policy: where BOHB's non-model configs come from (the model maths live in
:mod:`autocnn.optimize.models`; this module only decides which distribution to draw from).

BOHB samples a new config uniformly at random until its model exists, and afterwards for a
``random_fraction`` of the configs. A search on a CPU sees 10-60 configs, and uniform samples of a
30+-dimensional space are mostly far worse than the hand-designed default. ``sampler="prior"``
replaces each of those uniform draws by a PriorBand-style mix (Mallik et al., "PriorBand:
Practical Hyperparameter Optimization in the Age of Deep Learning", NeurIPS 2023):

- **uniform** with probability ``p_uniform`` = 1/3 (always: a wrong prior cannot trap the search;
  the same share as BOHB's random fraction);
- **prior**: a draw from :class:`~autocnn.optimize.models.prior.Prior` (truncated normals of sd
  0.25 in the encoded [0, 1] space around the space's default, or a mixture over the portfolio's
  entries; categoricals keep the centre's choice with probability 1/2 + 1/(2k));
- **incumbent**: a draw from the same kind of distribution around the incumbent, narrower
  (sd ``LOCAL_STD`` = 0.1, categoricals kept with probability 0.8 + 0.2/k): local search.

The remaining ``1 - p_uniform`` is split between prior and incumbent by evidence, as PriorBand
does: on the largest budget with at least ``MIN_RESULTS`` = 3 finite results, the incumbent is
the best there, and each other result in the better half votes, with weight ``1 / rank``, for
the distribution under which it is more likely: the prior, or the prior's shape moved onto the
incumbent (ties go to the prior). The prior holds one extra vote of weight 1 (its own belief),
so ``p_incumbent = (1 - p_uniform) * W_incumbent / (W_incumbent + W_prior + 1)``. Before any
such evidence, ``p_incumbent = 0``: the mix is 1/3 uniform, 2/3 prior. When good results
cluster around the incumbent rather than around the prior's centre, sampling moves there.

The model-based proposals can weigh the prior too (πBO: Hvarfner et al., "πBO: Augmenting
Acquisition Functions with User Beliefs for Bayesian Optimization", ICLR 2022): the TPE model's
score of a candidate gets ``+ (beta / n) * log prior(x)`` (the acquisition multiplied by
``prior(x) ** (beta / n)``), ``n`` the results told so far. It is implemented but off
(``PRIOR_BETA = 0``): on the synthetic benchmark (BENCHMARKS §2, 16 seeds) ``beta = 10`` cost
with a wrong prior (median loss at C=400, 1 worker: 0.159 with ``n`` the model budget's results,
0.106 with ``n`` all results, 0.074 without the weight; 4 workers: 0.196 vs 0.102) and gained
nothing with the default's or a good prior; ``beta = 3`` was in between. The log density
of a 30-dimensional prior spans tens of nats, so even a decaying weight overrules the model.

A prior or incumbent draw that equals a config evaluated already is drawn again (at most
``NEW_TRIES`` = 10 draws): on integer grids and categories a narrow distribution often lands on
its centre, and a repeat teaches nothing.

Why these constants: ``p_uniform = 1/3`` and the prior's one vote keep a wrong prior cheap (the
incumbent, usually a uniform sample then, takes over within a bracket or two); sd 0.25 is
πBO's/PriorBand's "medium confidence" width; the incumbent-local sd 0.1 is about the TPE
kernels' width after ~10 results; ``MIN_RESULTS = 3`` is eta, PriorBand's minimum rung size.

State: none beyond the optimizer's. The probabilities are a function of the model's
observations, and every draw comes from the optimizer's seeded generator, so the same seed and
the same ask/tell sequence give the same trials (resume replays them). ``counts`` is for
reports only.

Example:
    >>> import ConfigSpace as CS, numpy as np
    >>> from autocnn.optimize.models import make_model
    >>> space = CS.ConfigurationSpace()
    >>> _ = space.add(CS.UniformFloatHyperparameter("x", 0.0, 1.0, default_value=0.2))
    >>> enc = SpaceEncoding(space)
    >>> sampler = PriorSampler(Prior(enc, [dict(space.get_default_configuration())]))
    >>> [round(p, 3) for p in sampler.probabilities(make_model("tpe", enc))[:3]]
    [0.333, 0.667, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from autocnn.errors import ConfigError
from autocnn.optimize.models import Model
from autocnn.optimize.models.encoding import SpaceEncoding
from autocnn.optimize.models.prior import Prior
from autocnn.space.configs import to_plain

SAMPLERS = ("random", "prior")
P_UNIFORM = 1 / 3
LOCAL_STD = 0.1
LOCAL_CATEGORY_MASS = 0.8
MIN_RESULTS = 3
PRIOR_VOTE = 1.0
NEW_TRIES = 10
PRIOR_BETA = 0.0  # πBO's weight off: measured to cost with a wrong prior, no gain otherwise


class PriorSampler:
    """PriorBand's mix of uniform, prior and incumbent-local samples (module docstring)."""

    def __init__(self, prior: Prior, *, p_uniform: float = P_UNIFORM) -> None:
        if not 0 <= p_uniform <= 1:
            raise ValueError(f"p_uniform must be in [0, 1], got {p_uniform}")
        self.prior = prior
        self.encoding: SpaceEncoding = prior.encoding
        self.p_uniform = float(p_uniform)
        self.counts = {"uniform": 0, "prior": 0, "incumbent": 0}  # reports only

    def evidence(self, model: Model) -> tuple[np.ndarray | None, float, float]:
        """``(incumbent vector, W_incumbent, W_prior)`` from the model's observations (no
        incumbent, and zero weights, before a budget has ``MIN_RESULTS`` finite results)."""
        for budget in sorted(model.data, reverse=True):
            observations = model.data[budget]
            finite = np.isfinite(observations.y)
            if finite.sum() < MIN_RESULTS:
                continue
            x, y = observations.x[finite], observations.y[finite]
            order = np.argsort(y, kind="stable")
            incumbent = x[order[0]]
            voters = x[order[1 : math.ceil(len(order) / 2)]]
            if not len(voters):
                return incumbent, 0.0, 0.0
            local = self.prior.around(incumbent, self.prior.std, self.prior.category_mass)
            for_incumbent = local.logpdf(voters) > self.prior.logpdf(voters)
            weights = 1.0 / np.arange(1, len(voters) + 1)
            return (
                incumbent,
                float(weights[for_incumbent].sum()),
                float(weights[~for_incumbent].sum()),
            )
        return None, 0.0, 0.0

    def probabilities(self, model: Model) -> tuple[float, float, float, np.ndarray | None]:
        """``(p_uniform, p_prior, p_incumbent, incumbent vector)``; they sum to 1."""
        incumbent, w_incumbent, w_prior = self.evidence(model)
        rest = 1.0 - self.p_uniform
        p_incumbent = 0.0
        if incumbent is not None:
            p_incumbent = rest * w_incumbent / (w_incumbent + w_prior + PRIOR_VOTE)
        return self.p_uniform, rest - p_incumbent, p_incumbent, incumbent

    def sample(self, rng: np.random.Generator, model: Model) -> tuple[np.ndarray, str]:
        """One snapped vector and how it was drawn ("uniform", "prior" or "incumbent")."""
        p_uniform, p_prior, _, incumbent = self.probabilities(model)
        u = rng.random()
        if u < p_uniform:
            kind = "uniform"
            kinds = self.encoding.kinds  # categories: a uniform index; numbers: uniform in [0, 1]
            raw = rng.random(self.encoding.dim)
            raw = np.where(kinds > 0, np.floor(raw * np.maximum(kinds, 1)), raw)
            vector = self.encoding.snap(raw)[0]
        else:
            if u < p_uniform + p_prior or incumbent is None:
                kind, source = "prior", self.prior
            else:
                kind = "incumbent"
                source = self.prior.around(incumbent, LOCAL_STD, LOCAL_CATEGORY_MASS)
            # a config evaluated already teaches nothing: draw again (on grids and categories
            # a narrow distribution often lands on its centre), at most NEW_TRIES times
            seen = [obs.x for obs in model.data.values() if obs.n]
            seen_vectors = np.vstack(seen) if seen else np.empty((0, self.encoding.dim))
            for _ in range(NEW_TRIES):
                vector = source.sample(rng, 1)[0]
                if not self.encoding.same_as_any(vector[None], seen_vectors)[0]:
                    break
        self.counts[kind] += 1
        return vector, kind


def make_sampler(
    name: str,
    encoding: SpaceEncoding,
    prior_configs: Sequence[Mapping[str, Any]] | None,
    initial_design: Sequence[Mapping[str, Any]],
    model: Model,
) -> PriorSampler | None:
    """The sampler ``name`` asks for (None: BOHB's uniform samples). With "prior", the prior is
    centred on ``prior_configs``, else on the initial design, else on the space's default; a
    TPE model also gets it, for πBO's weight on its proposals."""
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose one of {list(SAMPLERS)}")
    if name == "random":
        return None
    centres = list(prior_configs or initial_design) or [
        to_plain(encoding.space.get_default_configuration())
    ]
    sampler = PriorSampler(Prior(encoding, centres))
    if PRIOR_BETA > 0 and hasattr(model, "prior"):
        model.prior = sampler.prior
        model.prior_beta = PRIOR_BETA
    return sampler


__all__ = ["PRIOR_BETA", "SAMPLERS", "Prior", "PriorSampler", "make_sampler"]
