"""BOHB's model, as in HpBandSter: per budget, one KDE of the good and one of the bad results.

This is a small vectorised numpy KDE rather than statsmodels' ``KDEMultivariate`` (what
HpBandSter uses): statsmodels is not a dependency, is slow to fit, and we need exactly two kernels
(Gaussian for numbers, Aitchison-Aitken for categories) plus imputation of inactive values, which
fit in 100 lines.

The semantics follow HpBandSter 0.7.4's ``BOHB`` config generator:

- observations are kept per budget; the model is fitted on the LARGEST budget where it can be:
  with ``n`` results there, sorted by loss, ``n_good = max(min_points, top_n_percent * n // 100)``
  and ``n_bad = max(min_points, (100 - top_n_percent) * n // 100)``; the good set is the best
  ``n_good`` results, the bad set the next ``n_bad``; both need more rows than dimensions ``d``.
  With ``min_points_in_model = d + 1`` (the default and the minimum) that is
  ``n >= n_good + d + 1``, i.e. ``2 (d + 1)`` results on one budget;
- inactive (NaN) values are imputed before fitting with the value of a random row of the same set in
  which that hyperparameter is active (a uniform random value when none is), column by column;
- bandwidths: the normal-reference rule ``1.06 * std * n ** (-1 / (4 + d))`` per dimension,
  clipped below at ``min_bandwidth``;
- ``num_samples`` candidates: pick a random good row, perturb numeric dimensions with a normal
  truncated to [0, 1] of width ``bandwidth_factor * bandwidth``, keep a categorical value with
  probability ``1 - bandwidth`` (else draw one uniformly); return the candidate with the largest
  ``l(x) / g(x)`` (densities floored at 1e-32).

Two deliberate differences: a categorical bandwidth (Aitchison-Aitken's lambda) is capped at
``(k - 1) / k``, where its kernel is uniform (above that, HpBandSter's kernel goes negative), and
running evaluations join the bad set ("constant liar") so that parallel workers spread out.

Example:
    >>> kde = MixedKDE(np.array([[0.2], [0.4]]), kinds=np.array([0]), min_bandwidth=1e-3)
    >>> round(float(kde.pdf(np.array([[0.3]]))[0]), 3) > 0
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from autocnn.optimize.models import Model
from autocnn.optimize.snapshot import decode, encode

_LOG_FLOOR = math.log(1e-32)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, elementwise (Abramowitz & Stegun 7.1.26: error < 1.5e-7)."""
    z = np.asarray(x, dtype=float) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * np.abs(z))
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(z) * erf)


def truncated_normal(rng: np.random.Generator, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Samples of normals with these means and sds, truncated to [0, 1] (by rejection)."""
    mean = np.asarray(mean, dtype=float)
    sd = np.broadcast_to(np.asarray(sd, dtype=float), mean.shape)
    out = rng.normal(mean, sd)
    bad = (out < 0) | (out > 1)
    for _ in range(20):  # the mean lies in [0, 1], so each round keeps at least ~1/4
        if not bad.any():
            break
        out[bad] = rng.normal(mean[bad], sd[bad])
        bad = (out < 0) | (out > 1)
    return np.clip(out, 0.0, 1.0)


def normal_reference_bandwidth(data: np.ndarray) -> np.ndarray:
    """statsmodels' ``bw='normal_reference'``: ``1.06 * std * n ** (-1 / (4 + d))`` per column."""
    n, d = data.shape
    return 1.06 * np.std(data, axis=0) * n ** (-1.0 / (4 + d))


class MixedKDE:
    """Product-kernel density over numeric (Gaussian) and categorical (Aitchison-Aitken) columns.

    ``kinds[j]`` is 0 for a numeric column and the number of categories ``k`` otherwise. The density
    of a point ``x`` is ``mean_i prod_j K_j(x_j, data_ij)`` with
    ``K = N(x; data_ij, bw_j)`` for a number and ``1 - bw_j`` (same category) or
    ``bw_j / (k - 1)`` (another one) for a category.
    """

    def __init__(
        self,
        data: np.ndarray,
        kinds: np.ndarray,
        min_bandwidth: float = 1e-3,
        bandwidth: np.ndarray | None = None,
    ) -> None:
        self.data = np.asarray(data, dtype=float)
        self.kinds = np.asarray(kinds)
        bw = normal_reference_bandwidth(self.data) if bandwidth is None else bandwidth
        bw = np.maximum(np.asarray(bw, dtype=float), min_bandwidth)
        categorical = self.kinds > 0
        uniform = (self.kinds[categorical] - 1) / np.maximum(self.kinds[categorical], 1)
        bw[categorical] = np.minimum(bw[categorical], np.maximum(uniform, min_bandwidth))
        self.bw = bw

    def logpdf(self, points: np.ndarray) -> np.ndarray:
        """Log density at each row of ``points`` (m, d) -> (m,)."""
        points = np.atleast_2d(points)
        log_kernel = np.zeros((len(points), len(self.data)))
        for j, k in enumerate(self.kinds):
            h = self.bw[j]
            if k == 0:
                z = (points[:, j, None] - self.data[None, :, j]) / h
                log_kernel += -0.5 * z * z - _LOG_SQRT_2PI - math.log(h)
            else:
                same = np.abs(points[:, j, None] - self.data[None, :, j]) < 0.5
                log_same = math.log(max(1.0 - h, 1e-300))
                log_other = math.log(h / max(k - 1, 1))
                log_kernel += np.where(same, log_same, log_other)
        peak = log_kernel.max(axis=1, keepdims=True)
        total = np.log(np.exp(log_kernel - peak).sum(axis=1)) + peak[:, 0]
        return total - math.log(len(self.data))

    def pdf(self, points: np.ndarray) -> np.ndarray:
        return np.exp(self.logpdf(points))


def impute_inactive(data: np.ndarray, kinds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copy of ``data`` with each NaN replaced by the value of a random row where it is active.

    Columns that are inactive in every row get uniform random values (a category index for a
    categorical column).
    """
    out = np.array(data, dtype=float, copy=True)
    for j in np.flatnonzero(np.isnan(out).any(axis=0)):
        missing = np.isnan(out[:, j])
        active = out[~missing, j]
        if len(active):
            out[missing, j] = active[rng.integers(0, len(active), missing.sum())]
        elif kinds[j] > 0:
            out[missing, j] = rng.integers(0, kinds[j], missing.sum())
        else:
            out[missing, j] = rng.random(missing.sum())
    return out


class KDEModel(Model):
    """BOHB's good/bad KDE model (see the module docstring for the exact rules)."""

    name = "kde"

    def __init__(self, encoding, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(encoding, **kwargs)
        # Constant hyperparameters (one choice) carry no information; leave them out of the KDE.
        self.columns = np.flatnonzero(encoding.kinds != 1)
        self.kinds = encoding.kinds[self.columns]
        d = len(self.columns)
        self.min_points = max(self.min_points_in_model or 0, d + 1)
        self._fit_key: tuple[float | None, int] | None = None
        self._fit: tuple[float, np.ndarray, np.ndarray, MixedKDE] | None = None

    # the fit is saved: its imputation drew random numbers, a refit would draw others
    _STATE_FIELDS = (*Model._STATE_FIELDS, "_fit_key")

    def state(self) -> dict[str, Any]:
        fit = None if self._fit is None else self._fit[:3]  # the KDE is rebuilt from ``good``
        return {**super().state(), "fit": encode(fit)}

    def _decode_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        values = super()._decode_state(state)
        fit = decode(state.get("fit"))
        if fit is not None:
            budget, good, bad = fit
            fit = (budget, good, bad, MixedKDE(good, self.kinds, self.min_bandwidth))
        return {**values, "_fit": fit}

    def model_budget(self) -> float | None:
        """The largest budget with enough results for a model (None: no model yet)."""
        for budget in sorted(self.data, reverse=True):
            n = self.data[budget].n
            n_good, n_bad = self._split_sizes(n)
            d = len(self.columns)
            if n >= self.min_points and n_good > d and min(n_bad, n - n_good) > d:
                return budget
        return None

    def _split_sizes(self, n: int) -> tuple[int, int]:
        top = self.top_n_percent
        n_good = max(self.min_points, int(top * n // 100))
        n_bad = max(self.min_points, int((100 - top) * n // 100))
        return min(n_good, n), n_bad

    def _refit(self, budget: float | None, rng: np.random.Generator) -> None:
        if budget is None:
            self._fit = None
            return
        observations = self.data[budget]
        n_good, n_bad = self._split_sizes(observations.n)
        order = np.argsort(observations.y, kind="stable")
        x = observations.x[:, self.columns]
        good = impute_inactive(x[order[:n_good]], self.kinds, rng)
        bad = x[order[n_good : n_good + n_bad]]
        good_kde = MixedKDE(good, self.kinds, self.min_bandwidth)
        self._fit = (budget, good, bad, good_kde)

    def propose(self, rng: np.random.Generator, pending: np.ndarray) -> np.ndarray | None:
        budget = self.model_budget()
        if self._fit_key != self.fit_key(budget):  # only results on the model's budget matter
            self._fit_key = self.fit_key(budget)
            self._refit(budget, rng)
        if self._fit is None:
            return None
        _, good, bad, good_kde = self._fit
        if len(pending):  # constant liar: running configs count as bad
            bad = np.vstack([bad, pending[:, self.columns]])
        bad_kde = MixedKDE(impute_inactive(bad, self.kinds, rng), self.kinds, self.min_bandwidth)

        rows = good[rng.integers(0, len(good), self.num_samples)]
        candidates = np.empty_like(rows)
        for j, k in enumerate(self.kinds):
            bw = max(good_kde.bw[j], self.min_bandwidth)
            if k == 0:
                candidates[:, j] = truncated_normal(rng, rows[:, j], self.bandwidth_factor * bw)
            else:
                keep = rng.random(len(rows)) < 1 - bw
                candidates[:, j] = np.where(keep, rows[:, j], rng.integers(0, k, len(rows)))
        log_l = np.maximum(good_kde.logpdf(candidates), _LOG_FLOOR)
        log_g = np.maximum(bad_kde.logpdf(candidates), _LOG_FLOOR)
        full = np.zeros((len(candidates), self.encoding.dim))  # constants sit at index 0
        full[:, self.columns] = candidates
        return self._pick(full, log_l - log_g, pending)
