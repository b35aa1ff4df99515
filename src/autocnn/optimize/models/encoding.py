"""Configs <-> vectors: the numeric representation the models work in.

A config becomes one float per hyperparameter, in ConfigSpace's order:

- float and integer hyperparameters: ConfigSpace's normalised value in [0, 1] (log-scaled where the
  hyperparameter is), so one bandwidth fits every numeric dimension;
- ordinal hyperparameters: index ``i`` of ``k`` values as ``(i + 0.5) / k`` in [0, 1], so they keep
  their order and are modelled like numbers;
- categorical hyperparameters (and constants): the index of the choice, ``0 .. k-1``;
- inactive (conditional) hyperparameters: NaN.

``kinds[j]`` is 0 for a numeric dimension and the number of choices ``k`` for a categorical one.

Example:
    >>> import ConfigSpace as CS
    >>> space = CS.ConfigurationSpace({"lr": (1e-4, 1e-1), "opt": ["adam", "sgd"]})
    >>> enc = SpaceEncoding(space)
    >>> enc.decode(enc.encode({"lr": 0.01, "opt": "sgd"}))["opt"]
    'sgd'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
    Constant,
    OrdinalHyperparameter,
)
from ConfigSpace.hyperparameters import FloatHyperparameter

from autocnn.errors import ConfigError
from autocnn.space import to_plain


class SpaceEncoding:
    """Vectorised encode/decode/sample for one ConfigurationSpace (conditions included)."""

    def __init__(self, space: ConfigurationSpace) -> None:
        self.space = space
        self.hyperparameters = list(space.values())
        self.names = [hp.name for hp in self.hyperparameters]
        self.index = {name: j for j, name in enumerate(self.names)}
        kinds, ordinal_sizes = [], []
        for hp in self.hyperparameters:
            if isinstance(hp, CategoricalHyperparameter):
                kinds.append(len(hp.choices))
            elif isinstance(hp, Constant):
                kinds.append(1)
            else:
                kinds.append(0)
            ordinal_sizes.append(len(hp.sequence) if isinstance(hp, OrdinalHyperparameter) else 0)
        self.kinds = np.array(kinds, dtype=np.int64)
        self.ordinal_sizes = np.array(ordinal_sizes, dtype=np.int64)
        self.numeric = self.kinds == 0
        # ConfigSpace's compiled condition graph, parents before children (ConfigSpace 1.x).
        self._conditions = list(space._dag.minimum_conditions)
        # Column groups for the vectorised snap(): ConfigSpace's per-hyperparameter calls cost
        # ~20 us each, which over 40 hyperparameters was most of an ask.
        self._categorical = np.flatnonzero(self.kinds > 0)
        self._ordinal = np.flatnonzero(self.ordinal_sizes > 0)
        self._float = np.array(
            [
                j
                for j, hp in enumerate(self.hyperparameters)
                if kinds[j] == 0 and not ordinal_sizes[j] and isinstance(hp, FloatHyperparameter)
            ],
            dtype=np.int64,
        )
        self._integer = np.array(
            [
                j
                for j in range(self.dim)
                if kinds[j] == 0 and not ordinal_sizes[j] and j not in set(self._float.tolist())
            ],
            dtype=np.int64,
        )

    @property
    def dim(self) -> int:
        return len(self.names)

    # --- configs <-> vectors -------------------------------------------------------------------
    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """The vector of a config dict (NaN for hyperparameters the dict does not set)."""
        unknown = sorted(set(config) - set(self.index))
        if unknown:
            raise ConfigError(
                f"config keys {unknown} are not in the search space; known keys: {self.names}"
            )
        vector = np.full(self.dim, np.nan)
        for name, value in config.items():
            j = self.index[name]
            hp = self.hyperparameters[j]
            try:
                if not hp.legal_value(value):
                    raise ValueError("illegal value")
                x = float(hp.to_vector(value))
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigError(
                    f"config key {name!r} has value {value!r}, which {hp} does not allow"
                ) from exc
            if self.ordinal_sizes[j]:
                x = (x + 0.5) / self.ordinal_sizes[j]
            vector[j] = x
        return vector

    def snap(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors (n, d) rounded to legal values, with inactive dimensions set to NaN.

        Numeric dimensions are clipped to [0, 1] and rounded to the hyperparameter's grid
        (integers), categorical ones to a valid index; then the conditions switch children off.
        """
        out = np.array(vectors, dtype=float, copy=True, ndmin=2)
        missing = np.isnan(out)
        if len(self._categorical):
            columns = self._categorical
            values = np.where(missing[:, columns], 0.0, out[:, columns])
            out[:, columns] = np.clip(np.rint(values), 0, self.kinds[columns] - 1)
        if len(self._ordinal):
            columns, size = self._ordinal, self.ordinal_sizes[self._ordinal]
            values = np.where(missing[:, columns], 0.5, out[:, columns])
            index = np.clip(np.floor(values * size), 0, size - 1)
            out[:, columns] = (index + 0.5) / size
        if len(self._float):  # a float's value -> vector round trip is the identity (to 1 ulp)
            columns = self._float
            out[:, columns] = np.clip(np.where(missing[:, columns], 0.5, out[:, columns]), 0, 1)
        for j in self._integer:  # value -> vector round trip puts integers on their grid
            hp = self.hyperparameters[j]
            column = np.clip(np.where(missing[:, j], 0.5, out[:, j]), 0.0, 1.0)
            out[:, j] = hp.to_vector(hp.to_value(column))
        return self.deactivate(out)

    def deactivate(self, vectors: np.ndarray) -> np.ndarray:
        """Set inactive dimensions to NaN (in place) and return the array, shape (n, d)."""
        if not self._conditions:
            return vectors
        # ConfigSpace evaluates conditions on its own vector form (ordinals as an index).
        native = self._to_native(vectors).T.copy()
        for node in self._conditions:
            satisfied = node.condition.satisfied_by_vector_array(native)
            native[np.ix_(node.children_indices, ~satisfied)] = np.nan
        vectors[np.isnan(native.T)] = np.nan
        return vectors

    def _to_native(self, vectors: np.ndarray) -> np.ndarray:
        native = np.array(vectors, dtype=float, copy=True)
        for j in np.flatnonzero(self.ordinal_sizes):
            native[:, j] = np.floor(native[:, j] * self.ordinal_sizes[j])
        return native

    def decode(self, vector: np.ndarray, snapped: bool = False) -> dict[str, Any]:
        """The config dict (plain Python values, active hyperparameters only) of a vector.

        ``snapped=True`` skips :meth:`snap` for a vector that already went through it.
        """
        snapped = np.asarray(vector, dtype=float) if snapped else self.snap(vector)[0]
        native = self._to_native(snapped[None, :])[0]
        config = {}
        for j, hp in enumerate(self.hyperparameters):
            if not np.isnan(native[j]):
                config[hp.name] = hp.to_value(native[j])
        return to_plain(config)

    # --- sampling from the space's prior ------------------------------------------------------
    def sample_prior(self, n: int, random_state: np.random.RandomState) -> np.ndarray:
        """``n`` random vectors from the space's own distributions (inactive dims NaN)."""
        out = np.empty((n, self.dim))
        for j, hp in enumerate(self.hyperparameters):
            column = np.asarray(hp.sample_vector(n, seed=random_state), dtype=float)
            if self.ordinal_sizes[j]:
                column = (column + 0.5) / self.ordinal_sizes[j]
            out[:, j] = column
        return self.snap(out)

    def same_as_any(self, candidates: np.ndarray, others: np.ndarray) -> np.ndarray:
        """For each candidate row, whether it equals (NaN == NaN) any row of ``others``."""
        if len(others) == 0:
            return np.zeros(len(candidates), dtype=bool)
        a = np.nan_to_num(candidates, nan=-1.0)[:, None, :]
        b = np.nan_to_num(others, nan=-1.0)[None, :, :]
        return np.all(np.abs(a - b) < 1e-9, axis=2).any(axis=1)
