"""Models that propose the next configuration from the results so far.

All models work on vectors (see :mod:`.encoding`) and share one small interface:

- ``observe(vector, budget, loss)``: record a result (non-finite losses count as the worst);
- ``propose(rng, pending) -> vector | None``: a snapped vector to evaluate next, or ``None`` while
  the model has too little data (the optimizer then samples at random). ``pending`` holds the
  vectors of running evaluations, which the model treats as bad ("constant liar") and never
  proposes again (``None`` when every candidate is running), so parallel workers spread out;
- ``state()`` / ``load_state(state)``: the observations (and a fit whose making drew random
  numbers: the KDE's) as JSON data, for the optimizer's snapshots
  (:mod:`autocnn.optimize.snapshot`).

Modes: ``"tpe"`` (default; tree-structured Parzen estimators, useful after ~10 results),
``"kde"`` (BOHB's multivariate KDE as in HpBandSter) and ``"random"`` (no model: Hyperband).

Example:
    >>> import ConfigSpace as CS, numpy as np
    >>> enc = SpaceEncoding(CS.ConfigurationSpace({"x": (0.0, 1.0)}))
    >>> model = make_model("tpe", enc)
    >>> model.propose(np.random.default_rng(0), np.empty((0, 1))) is None  # no data yet
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from autocnn.errors import ConfigError
from autocnn.optimize.models.encoding import SpaceEncoding
from autocnn.optimize.snapshot import (
    SnapshotError,
    assign,
    decode,
    encode,
    load_fields,
    save_fields,
)

MODELS = ("tpe", "kde", "random")


class Observations:
    """(vector, loss) pairs at one budget, at most ``capacity`` of them, as numpy arrays.

    When full, the oldest result that is not among the ``keep_best`` best is forgotten: the fit and
    ask cost stays flat as a long run grows, while the best results stay in the model.
    """

    def __init__(self, dim: int, capacity: int, keep_best: int = 32) -> None:
        self.capacity = max(int(capacity), keep_best + 1)
        self.keep_best = keep_best
        self._x = np.empty((min(64, self.capacity), dim))
        self._y = np.empty(min(64, self.capacity))
        self.n = 0

    def add(self, vector: np.ndarray, loss: float) -> None:
        if self.n == self.capacity:
            threshold = np.partition(self._y, self.keep_best - 1)[self.keep_best - 1]
            drop = int(np.argmax(self._y > threshold))  # the oldest outside the best
            if self._y[drop] <= threshold:  # ties all the way: drop the oldest
                drop = 0
            self._x[drop:-1] = self._x[drop + 1 :]
            self._y[drop:-1] = self._y[drop + 1 :]
            self.n -= 1
        elif self.n == len(self._y):
            size = min(2 * len(self._y), self.capacity)
            self._x = np.resize(self._x, (size, self._x.shape[1]))
            self._y = np.resize(self._y, size)
        self._x[self.n] = vector
        self._y[self.n] = loss
        self.n += 1

    @classmethod
    def restore(cls, x: np.ndarray, y: np.ndarray, capacity: int) -> Observations:
        """Observations holding exactly these rows, with the buffers :meth:`add` would have."""
        observations = cls(x.shape[1], capacity)
        size = len(observations._y)
        while size < len(y):
            size = min(2 * size, observations.capacity)
        if len(y) > observations.capacity:
            raise SnapshotError(f"{len(y)} observations for a capacity of {capacity}")
        observations._x = np.empty((size, x.shape[1]))
        observations._y = np.empty(size)
        observations._x[: len(y)] = x
        observations._y[: len(y)] = y
        observations.n = len(y)
        return observations

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]


class Model:
    """Base class: keeps the observations per budget; subclasses implement :meth:`propose`."""

    name = "base"

    def __init__(
        self,
        encoding: SpaceEncoding,
        *,
        top_n_percent: float = 15,
        num_samples: int = 64,
        bandwidth_factor: float = 3.0,
        min_bandwidth: float = 1e-3,
        min_points_in_model: int | None = None,
        max_points_per_budget: int = 256,
    ) -> None:
        if not 0 < top_n_percent < 100:
            raise ConfigError(f"top_n_percent must be in (0, 100), got {top_n_percent}")
        if num_samples < 1:
            raise ConfigError(f"num_samples must be >= 1, got {num_samples}")
        self.encoding = encoding
        self.top_n_percent = top_n_percent
        self.num_samples = int(num_samples)
        self.bandwidth_factor = float(bandwidth_factor)
        self.min_bandwidth = float(min_bandwidth)
        self.min_points_in_model = min_points_in_model
        self.max_points_per_budget = int(max_points_per_budget)
        self.data: dict[float, Observations] = {}
        self.version = 0  # bumped by every observe()
        # per budget: bumped when that budget's observations change. A model fitted on one budget
        # is cached under (budget, its version), so the many results on small budgets do not
        # force a refit of a model that lives on the largest one.
        self.budget_versions: dict[float, int] = {}

    def observe(self, vector: np.ndarray, budget: float, loss: float) -> None:
        loss = float(loss)
        if not math.isfinite(loss):
            loss = math.inf  # crashed/diverged (and -inf, as HpBandSter does) rank last
        budget = float(budget)
        if budget not in self.data:
            self.data[budget] = Observations(self.encoding.dim, self.max_points_per_budget)
        self.data[budget].add(vector, loss)
        self.version += 1
        self.budget_versions[budget] = self.budget_versions.get(budget, 0) + 1

    def fit_key(self, budget: float | None) -> tuple[float | None, int]:
        """What a model fitted on ``budget`` depends on: refit when this changes."""
        return budget, -1 if budget is None else self.budget_versions[budget]

    # --- snapshots (autocnn.optimize.snapshot): what a model's future depends on ----------------
    _STATE_FIELDS: tuple[str, ...] = ("version", "budget_versions")

    def state(self) -> dict[str, Any]:
        """The observations per budget and the counters, as JSON values (subclasses add any
        fitted model whose fit drew random numbers; the others are refitted when needed)."""
        data = [[budget, obs.x, obs.y] for budget, obs in self.data.items()]
        return {"name": self.name, "data": encode(data), **save_fields(self, self._STATE_FIELDS)}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Become the model ``state`` was taken from (SnapshotError, untouched, if it does not
        fit)."""
        if state.get("name") != self.name:
            raise SnapshotError(f"the state is of a {state.get('name')!r} model, not {self.name!r}")
        values = self._decode_state(state)
        data: dict[float, Observations] = {}
        for budget, x, y in decode(state["data"]):
            if x.shape != (len(y), self.encoding.dim):
                raise SnapshotError(
                    f"observations of shape {x.shape} for a {self.encoding.dim}-D space"
                )
            data[float(budget)] = Observations.restore(x, y, self.max_points_per_budget)
        assign(self, {**values, "data": data})

    def _decode_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes to assign from ``state`` (subclasses add theirs)."""
        return load_fields(state, self._STATE_FIELDS)

    def n_observations(self, budget: float) -> int:
        observations = self.data.get(float(budget))
        return 0 if observations is None else observations.n

    def propose(self, rng: np.random.Generator, pending: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def _pick(
        self, candidates: np.ndarray, scores: np.ndarray, pending: np.ndarray, snapped: bool = False
    ) -> np.ndarray | None:
        """The best-scoring candidate (snapped) that is not already running; None if all are."""
        for i in np.argsort(-scores, kind="stable"):
            vector = candidates[i : i + 1] if snapped else self.encoding.snap(candidates[i])
            if not self.encoding.same_as_any(vector, pending)[0]:
                return vector[0]
        return None  # every candidate is running already: a random config serves better


def make_model(name: str, encoding: SpaceEncoding, **kwargs: Any) -> Model:
    """A model by name: "tpe", "kde" or "random"."""
    from autocnn.optimize.models.kde import KDEModel
    from autocnn.optimize.models.random import RandomModel
    from autocnn.optimize.models.tpe import TPEModel

    classes: dict[str, type[Model]] = {"tpe": TPEModel, "kde": KDEModel, "random": RandomModel}
    if name not in classes:
        raise ConfigError(f"unknown model {name!r}; choose one of {list(MODELS)}")
    return classes[name](encoding, **kwargs)


__all__ = ["MODELS", "Model", "Observations", "SpaceEncoding", "make_model"]
