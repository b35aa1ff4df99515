"""A prior over configurations: where a user (or a portfolio) believes good configs lie.

The maths only (densities and samples, on :class:`.encoding.SpaceEncoding` vectors); *when* to
sample from it is the sampler's policy (:mod:`autocnn.optimize.sampling`).

A prior is an equal-weight mixture over ``centres`` (snapped vectors: the space's default, or
the portfolio's entries). Each component is a product over hyperparameters:

- numeric, integer and ordinal dimensions (``[0, 1]`` in the encoding, log-scaled where the
  hyperparameter is): a normal around the centre's value with sd ``std``, truncated to [0, 1];
- categorical dimensions: mass ``category_mass`` on the centre's choice, the rest uniform over
  all ``k`` choices (so the centre's choice has ``category_mass + (1 - category_mass) / k``);
- a dimension the centre leaves inactive (NaN) is uniform, so a sampled parent that switches a
  child on gets a child value from the whole range.

Samples are snapped (:meth:`SpaceEncoding.snap`: legal values, inactive children NaN), so they
decode to valid configurations. :meth:`Prior.logpdf` counts only a point's active dimensions, as
the TPE model's scores do, so the two can be added (πBO: Hvarfner et al., ICLR 2022).

The same distribution centred on the incumbent, narrower, is PriorBand's incumbent-local
sampling (Mallik et al., NeurIPS 2023): :meth:`Prior.around`.

Example:
    >>> import ConfigSpace as CS, numpy as np
    >>> space = CS.ConfigurationSpace()
    >>> _ = space.add(CS.UniformFloatHyperparameter("x", 0.0, 1.0, default_value=0.2))
    >>> enc = SpaceEncoding(space)
    >>> prior = Prior(enc, [dict(space.get_default_configuration())])
    >>> samples = prior.sample(np.random.default_rng(0), 1000)
    >>> bool(abs(np.median(samples[:, 0]) - 0.25) < 0.05)  # the default, pulled in by [0, 1]
    True
    >>> log_density = prior.logpdf(np.array([[0.2], [0.9]]))
    >>> bool(log_density[0] > log_density[1])
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from autocnn.optimize.models.encoding import SpaceEncoding
from autocnn.optimize.models.kde import norm_cdf, truncated_normal

# The prior's width: sd 0.25 of the encoded [0, 1] range keeps ~70 % of the mass within a
# quarter of the range of the centre (log-scaled for learning rates and the like) and still
# reaches every value; πBO's and PriorBand's "medium confidence" priors are of that width.
STD = 0.25
CATEGORY_MASS = 0.5  # 2 choices: 0.75 on the centre's, 4 choices: 0.625
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class Prior:
    """An equal-weight mixture of per-hyperparameter distributions around ``centres`` (configs
    or vectors; see the module docstring)."""

    def __init__(
        self,
        encoding: SpaceEncoding,
        centres: Sequence[Mapping[str, Any]] | np.ndarray,
        *,
        std: float = STD,
        category_mass: float = CATEGORY_MASS,
    ) -> None:
        if isinstance(centres, np.ndarray):
            vectors = np.atleast_2d(np.asarray(centres, dtype=float))
        else:
            vectors = np.stack([encoding.encode(c) for c in centres]) if len(centres) else None
        if vectors is None or not len(vectors):
            raise ValueError("a prior needs at least one centre")
        if not (std > 0 and 0 <= category_mass <= 1):
            raise ValueError(f"need std > 0 and category_mass in [0, 1]: {std}, {category_mass}")
        self.encoding = encoding
        self.centres = encoding.snap(vectors)
        self.std = float(std)
        self.category_mass = float(category_mass)

    def around(self, vector: np.ndarray, std: float, category_mass: float) -> Prior:
        """The same kind of distribution with one centre (e.g. the incumbent's vector)."""
        return Prior(self.encoding, np.asarray(vector)[None], std=std, category_mass=category_mass)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` snapped vectors (inactive dimensions NaN)."""
        kinds = self.encoding.kinds
        component = rng.integers(0, len(self.centres), n)
        centre = self.centres[component]  # (n, d)
        uniform = rng.random(centre.shape)
        out = np.empty(centre.shape)
        numeric = np.broadcast_to(kinds == 0, centre.shape)
        free = np.isnan(centre)
        # numbers: a truncated normal around the centre's value; uniform where it has none
        near = numeric & ~free
        out[numeric & free] = uniform[numeric & free]
        if near.any():
            out[near] = truncated_normal(rng, centre[near], np.full(int(near.sum()), self.std))
        # categories: the centre's choice with probability category_mass, else a uniform one
        k = np.broadcast_to(np.maximum(kinds, 1), centre.shape)
        choice = np.floor(uniform * k)
        keep = ~numeric & ~free & (rng.random(centre.shape) < self.category_mass)
        out[~numeric] = np.where(keep, centre, choice)[~numeric]
        return self.encoding.snap(out)

    def logpdf(self, vectors: np.ndarray) -> np.ndarray:
        """Log density of each row of ``vectors`` (n, d) over its active (non-NaN) dimensions."""
        x = np.atleast_2d(np.asarray(vectors, dtype=float))[:, None, :]  # (n, 1, d)
        centre = self.centres[None, :, :]  # (1, m, d)
        kinds = self.encoding.kinds
        numeric = kinds == 0
        sd = self.std
        # truncated normal: N(x; c, sd) / (Phi((1 - c) / sd) - Phi(-c / sd))
        c = np.nan_to_num(centre, nan=0.5)
        mass = norm_cdf((1 - c) / sd) - norm_cdf(-c / sd)
        z = (np.nan_to_num(x, nan=0.5) - c) / sd
        log_numeric = -0.5 * z * z - math.log(sd) - _LOG_SQRT_2PI - np.log(mass)
        k = np.maximum(kinds, 1)
        same = np.nan_to_num(x, nan=-1.0) == centre
        log_category = np.log(self.category_mass * same + (1 - self.category_mass) / k)
        log_free = np.where(numeric, 0.0, -np.log(k))  # uniform where the centre is inactive
        terms = np.where(numeric, log_numeric, log_category)
        terms = np.where(np.isnan(centre), log_free, terms)
        terms = np.where(np.isnan(x), 0.0, terms)  # inactive in the point: not counted
        per_component = terms.sum(axis=2)  # (n, m)
        peak = per_component.max(axis=1, keepdims=True)
        log_mean = np.log(np.exp(per_component - peak).mean(axis=1)) + peak[:, 0]
        return log_mean


__all__ = ["CATEGORY_MASS", "STD", "Prior"]
