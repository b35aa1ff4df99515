"""Tree-structured Parzen estimators (TPE): a model that is useful after ~10 results.

BOHB's multivariate KDE needs ``2 (d + 1)`` results on one budget (62 for a 30-dimensional space)
before it exists. TPE (Bergstra et al., 2011) models each hyperparameter on its own, so a handful of
results is enough:

- the budget: the largest one with at least ``min_points_in_model`` results (default 10), as in
  BOHB;
- split: the best ``max(1, ceil(gamma * n))`` results there are "good", the rest (plus running
  evaluations, the "constant liar") "bad"; ``gamma = top_n_percent / 100``;
- per hyperparameter, two 1-D densities ``l`` (good) and ``g`` (bad), each fitted ONLY on the
  results where that hyperparameter is active (the tree structure of conditional spaces): a mixture
  of Gaussians truncated to [0, 1] (numeric and ordinal, one bandwidth by Scott's rule, clipped to
  ``[1 / min(100, n + 1), 1]`` as Optuna does) or smoothed category frequencies; each mixes in a
  uniform prior with weight ``prior_weight`` (1, one pseudo-observation);
- ``num_samples`` candidates are drawn from the ``l``'s, column by column (``joint=True`` instead
  starts each candidate from ONE good result and perturbs all its values, as BOHB's KDE does; on
  the synthetic 30-D benchmark that was not better, 24 seeds, so it is off by default). Inactive
  children are dropped (a child counts only when its parent activates it) and the candidate with
  the largest ``sum over active j of log l_j(x_j) - log g_j(x_j)`` wins;
- with a prior (``sampler="prior"``, :mod:`autocnn.optimize.sampling`), the score gets
  ``+ (prior_beta / n) * log prior(x)``, ``n`` the results told so far (πBO; off by default).

Example:
    >>> import ConfigSpace as CS, numpy as np
    >>> from autocnn.optimize.models.encoding import SpaceEncoding
    >>> space = CS.ConfigurationSpace({"x": (0.0, 1.0)})
    >>> model = TPEModel(SpaceEncoding(space), min_points_in_model=3)
    >>> for x in (0.1, 0.5, 0.9): model.observe(np.array([x]), budget=1, loss=x)
    >>> float(model.propose(np.random.default_rng(0), np.empty((0, 1)))[0]) < 0.5
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from autocnn.optimize.models import Model
from autocnn.optimize.models.kde import norm_cdf, truncated_normal

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class ParzenEstimators:
    """Independent 1-D Parzen estimators, one per column of ``data`` (NaN = inactive, skipped).

    A numeric column (``kinds[j] == 0``) gets a mixture of its active values' Gaussians, truncated
    to [0, 1] and sharing one bandwidth (Scott's rule clipped to ``[1 / min(100, n + 1), 1]``), plus
    a uniform prior weighing ``prior_weight`` values:
    ``p(x) = (sum_i N_[0,1](x; v_i, s) + w) / (n + w)``.
    A categorical column gets ``p(c) = (count_c + w / k) / (n + w)``. All columns are evaluated
    at once (padded arrays), which keeps an ask fast with hundreds of results.
    """

    def __init__(self, data: np.ndarray, kinds: np.ndarray, prior_weight: float = 1.0) -> None:
        data = np.atleast_2d(np.asarray(data, dtype=float))
        self.kinds = np.asarray(kinds)
        self.prior_weight = float(prior_weight)
        self.numeric = np.flatnonzero(self.kinds == 0)
        self.categorical = np.flatnonzero(self.kinds > 0)
        active = ~np.isnan(data)
        # where each data row's value sits in its column's list (-1: inactive); also what packs
        # every column's active values, in row order, into the padded arrays below (vectorised:
        # this runs on every ask, for the "bad" set with the running configs)
        positions = np.cumsum(active, axis=0) - 1
        self._positions = np.where(active, positions, -1)
        self._counts_all = active.sum(axis=0)
        # numeric columns: values padded to (columns, max count), mask of real entries
        counts = self._counts_all[self.numeric]
        width = max(int(counts.max(initial=0)), 1)
        self.values, self.mask = self._pack(data, active, positions, self.numeric, width)
        safe_counts = np.maximum(counts, 1)
        mean = self.values.sum(axis=1) / safe_counts
        centred = np.where(self.mask, self.values - mean[:, None], 0.0)
        std = np.sqrt((centred * centred).sum(axis=1) / safe_counts)
        scott = 1.06 * std * safe_counts ** (-0.2)
        lowest = 1.0 / np.minimum(100, counts + 1)
        self.sigma = np.where(counts > 0, np.clip(scott, lowest, 1.0), 1.0)
        self.counts = counts
        sigma = self.sigma[:, None]
        # mass of each Gaussian inside [0, 1], to renormalise the truncated kernels
        mass = norm_cdf((1 - self.values) / sigma) - norm_cdf(-self.values / sigma)
        self.log_norm = -np.log(np.maximum(mass, 1e-300)) - np.log(sigma) - _LOG_SQRT_2PI
        self.log_norm[~self.mask] = -np.inf
        self._values32 = self.values.astype(np.float32)
        self._inv_sigma32 = (1.0 / self.sigma).astype(np.float32)
        self._log_norm32 = np.maximum(self.log_norm, -1e30).astype(np.float32)
        # for the direct (unstabilised) logpdf: (x - v) / (sqrt(2) sigma) = x * h - v * h
        self._half_inv_sigma32 = (math.sqrt(0.5) / self.sigma).astype(np.float32)
        self._scaled32 = (self.values * (math.sqrt(0.5) / self.sigma)[:, None]).astype(np.float32)
        self._direct = self.prior_weight > 0 and float(self.log_norm.max(initial=0.0)) < 60.0
        cat_width = max(int(self._counts_all[self.categorical].max(initial=0)), 1)
        self._cat_values, cat_mask = self._pack(
            data, active, positions, self.categorical, cat_width
        )
        # categorical columns: probabilities padded to (columns, max choices)
        k_max = max(int(self.kinds.max(initial=1)), 1)
        k = self.kinds[self.categorical]
        rows = np.repeat(np.arange(len(self.categorical)), cat_mask.sum(axis=1))
        freq = np.bincount(
            rows * k_max + self._cat_values[cat_mask].astype(np.int64),
            minlength=len(self.categorical) * k_max,
        ).reshape(len(self.categorical), k_max)
        n_cat = self._counts_all[self.categorical][:, None]
        probs = (freq + self.prior_weight / np.maximum(k, 1)[:, None]) / (n_cat + self.prior_weight)
        self.probs = np.where(np.arange(k_max)[None, :] < k[:, None], probs, 0.0)
        with np.errstate(divide="ignore"):
            self._log_probs = np.log(self.probs)

    @staticmethod
    def _pack(
        data: np.ndarray, active: np.ndarray, positions: np.ndarray, columns: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each column's active values, in row order, padded to (len(columns), width)."""
        values = np.zeros((len(columns), width))
        mask = np.zeros((len(columns), width), dtype=bool)
        rows, cols = np.nonzero(active[:, columns])
        where = (cols, positions[rows, columns[cols]])
        values[where] = data[rows, columns[cols]]
        mask[where] = True
        return values, mask

    def logpdf(self, points: np.ndarray) -> np.ndarray:
        """Per-column log densities of ``points`` (m, d) -> (m, d); 0 where a point is NaN."""
        points = np.atleast_2d(points)
        out = np.zeros(points.shape)
        if len(self.numeric):
            # (columns, m, values) in float32: numpy's float32 exp is several times faster
            x = np.nan_to_num(points[:, self.numeric].T, nan=0.5).astype(np.float32)
            if self._direct:
                # log(sum_i exp(log_kernel_i) + prior_weight) straight away: every kernel is
                # below exp(60) and the prior weight keeps the sum away from 0, so no overflow
                # and no harmful underflow; 5 passes over the big array instead of 9 (this is
                # most of an ask's time)
                z = (x * self._half_inv_sigma32[:, None])[:, :, None] - self._scaled32[:, None, :]
                np.square(z, out=z)
                np.subtract(self._log_norm32[:, None, :], z, out=z)
                np.exp(z, out=z)
                log_sum = np.log(z.sum(axis=2, dtype=np.float64) + self.prior_weight)
            else:  # stabilised by the largest term
                z = (x[:, :, None] - self._values32[:, None, :]) * self._inv_sigma32[:, None, None]
                log_kernel = -0.5 * z * z + self._log_norm32[:, None, :]
                log_prior = math.log(self.prior_weight) if self.prior_weight > 0 else -math.inf
                peak = np.maximum(log_kernel.max(axis=2), log_prior)
                log_kernel -= peak[:, :, None]
                np.exp(log_kernel, out=log_kernel)
                log_sum = np.log(
                    log_kernel.sum(axis=2, dtype=np.float64) + np.exp(log_prior - peak)
                )
                log_sum += peak
            total = self.counts + self.prior_weight
            out[:, self.numeric] = (log_sum - np.log(total)[:, None]).T
        if len(self.categorical):
            index = np.nan_to_num(points[:, self.categorical]).astype(np.int64)
            rows = np.arange(len(self.categorical))[None, :]
            out[:, self.categorical] = self._log_probs[rows, index]
        out[np.isnan(points)] = 0.0
        return out

    def sample(self, rng: np.random.Generator, size: int, joint: bool = False) -> np.ndarray:
        """``size`` points -> (size, d).

        ``joint=False``: each column drawn from its own estimator (classic TPE). ``joint=True``:
        each point picks one data row and takes a kernel around that row in every column where the
        row is active (multivariate TPE, like BOHB's KDE sampling), so good combinations of values
        stay together; each column still falls back to its prior with weight ``prior_weight``.
        """
        n_rows, d = self._positions.shape
        row = rng.integers(0, max(n_rows, 1), size)
        out = np.empty((size, d))
        for data_columns, kinds_mask in ((self.numeric, True), (self.categorical, False)):
            if not len(data_columns):
                continue
            counts = self._counts_all[data_columns]
            total = counts + self.prior_weight
            u = rng.random((len(data_columns), size)) * total[:, None]
            component = np.floor(u).astype(np.int64)  # 0..n-1: a data value; n: the prior
            if joint and n_rows:
                own = self._positions[row][:, data_columns].T  # -1 where that row is inactive
                use_own = (component < counts[:, None]) & (own >= 0)
                component = np.where(use_own, own, component)
            from_data = component < counts[:, None]
            if kinds_mask:
                draws = rng.random((len(data_columns), size))  # the prior: uniform on [0, 1]
                rows, cols = np.nonzero(from_data)
                if len(rows):
                    centres = self.values[rows, component[rows, cols]]
                    draws[rows, cols] = truncated_normal(rng, centres, self.sigma[rows])
            else:
                k = self.kinds[data_columns][:, None]
                draws = np.floor(rng.random((len(data_columns), size)) * k)  # uniform choice
                rows, cols = np.nonzero(from_data)
                if len(rows):
                    draws[rows, cols] = self._cat_values[rows, component[rows, cols]]
            out[:, data_columns] = draws.T
        return out


class TPEModel(Model):
    """TPE over a conditional space, fitted on one budget (see the module docstring)."""

    name = "tpe"

    def __init__(  # type: ignore[no-untyped-def]
        self, encoding, *, prior_weight: float = 1.0, joint: bool = False, **kwargs
    ) -> None:
        super().__init__(encoding, **kwargs)
        self.prior_weight = prior_weight
        self.joint = joint
        self.min_points = max(2, self.min_points_in_model or 10)
        self._fit_key: tuple[float | None, int] | None = None
        self._fit: tuple[ParzenEstimators, np.ndarray] | None = None
        # πBO (autocnn.optimize.sampling): scores get + prior_beta / n * log prior(x), n the
        # results told so far; set by the optimizer's "prior" sampler when PRIOR_BETA > 0
        self.prior: Any = None  # a models.prior.Prior, or None
        self.prior_beta = 0.0

    def _decode_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        # the fit is not saved: it draws no random numbers, so a refit gives the same model
        return {**super()._decode_state(state), "_fit_key": None, "_fit": None}

    def model_budget(self) -> float | None:
        """The largest budget with at least ``min_points`` results (None: no model yet)."""
        ready = [budget for budget, obs in self.data.items() if obs.n >= self.min_points]
        return max(ready) if ready else None

    def _refit(self, budget: float | None) -> None:
        if budget is None:
            self._fit = None
            return
        observations = self.data[budget]
        n = observations.n
        n_good = max(1, math.ceil(self.top_n_percent / 100 * n))
        order = np.argsort(observations.y, kind="stable")
        x = observations.x
        good = ParzenEstimators(x[order[:n_good]], self.encoding.kinds, self.prior_weight)
        self._fit = (good, x[order[n_good:]])

    def propose(self, rng: np.random.Generator, pending: np.ndarray) -> np.ndarray | None:
        budget = self.model_budget()
        if self._fit_key != self.fit_key(budget):  # only results on the model's budget matter
            self._fit_key = self.fit_key(budget)
            self._refit(budget)
        if self._fit is None:
            return None
        good, bad_data = self._fit
        if len(pending):  # constant liar: running configs count as bad
            bad_data = np.vstack([bad_data, pending])
        bad = ParzenEstimators(bad_data, self.encoding.kinds, self.prior_weight)

        candidates = self.encoding.snap(good.sample(rng, self.num_samples, joint=self.joint))
        # inactive children are NaN after snap() and score 0: only active ones count
        scores = (good.logpdf(candidates) - bad.logpdf(candidates)).sum(axis=1)
        if self.prior is not None and self.prior_beta > 0:
            # n: every result told so far (πBO's iteration count), not only this budget's
            scores = scores + self.prior_beta / max(self.version, 1) * self.prior.logpdf(candidates)
        return self._pick(candidates, scores, pending, snapped=True)
