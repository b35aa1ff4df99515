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
    UniformIntegerHyperparameter,
)

from autocnn.errors import ConfigError
from autocnn.space import to_plain

_MAX_GRID = 10_000  # integer hyperparameters with at most this many values get a lookup table


def _thresholds(hp: Any, grid: np.ndarray) -> np.ndarray:
    """For an integer hyperparameter with values ``lower + i`` at vectors ``grid[i]``: the smallest
    vector ``t[i]`` that ``hp.to_value`` maps to ``lower + i + 1`` (found by bisection, to the
    last bit), so ``grid[searchsorted(t, x, side="right")]`` is ``to_vector(to_value(x))``."""
    values = np.arange(len(grid) - 1) + int(hp.lower)
    low, high = grid[:-1].copy(), grid[1:].copy()  # to_value: low -> values, high -> values + 1
    for _ in range(80):
        middle = (low + high) / 2
        done = (middle == low) | (middle == high)
        if done.all():
            break
        up = np.asarray(hp.to_value(middle)) > values
        high = np.where(up & ~done, middle, high)
        low = np.where(~up & ~done, middle, low)
    return high


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


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
        self._numeric_columns = np.flatnonzero((self.kinds == 0) & (self.ordinal_sizes == 0))
        # Lookup tables for encode()/decode() of everything but floats (same reason):
        # choice -> index and index -> plain value for categories, ordinals and constants, keyed
        # by (type, value) so that True and 1 stay apart; the vector of every value of an
        # integer hyperparameter (when there are at most _MAX_GRID of them).
        self._index_of: dict[int, dict[tuple[type, Any], int]] = {}
        self._value_at: dict[int, list[Any]] = {}
        self._grids: dict[int, tuple[int, np.ndarray]] = {}
        self._thresholds: dict[int, np.ndarray] = {}  # where to_value() steps up, per grid
        for j, hp in enumerate(self.hyperparameters):
            choices = None
            if isinstance(hp, CategoricalHyperparameter):
                choices = list(hp.choices)
            elif isinstance(hp, OrdinalHyperparameter):
                choices = list(hp.sequence)
            elif isinstance(hp, Constant):
                choices = [hp.value]
            if choices is not None:
                plain = [_plain(choice) for choice in choices]
                self._value_at[j] = plain
                self._index_of[j] = {(type(v), v): i for i, v in enumerate(plain)}
            elif isinstance(hp, UniformIntegerHyperparameter):
                if hp.upper - hp.lower < _MAX_GRID:
                    grid = np.asarray(hp.to_vector(np.arange(hp.lower, hp.upper + 1)), dtype=float)
                    if np.all(np.diff(grid) > 0):
                        self._grids[j] = (int(hp.lower), grid)
                        self._thresholds[j] = _thresholds(hp, grid)

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
            x = self._fast_vector(j, value)
            if x is not None:
                vector[j] = x
                continue
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

    def _fast_vector(self, j: int, value: Any) -> float | None:
        """The vector value of a legal ``value`` from the lookup tables (None: ask ConfigSpace,
        which also explains an illegal value)."""
        index_of = self._index_of.get(j)
        if index_of is not None:
            try:
                i = index_of.get((type(value), value))
            except TypeError:  # unhashable
                return None
            if i is None:
                return None
            return (i + 0.5) / self.ordinal_sizes[j] if self.ordinal_sizes[j] else float(i)
        grid = self._grids.get(j)
        if grid is not None and type(value) is int:
            i = value - grid[0]
            if 0 <= i < len(grid[1]):
                return float(grid[1][i])
        return None

    def snap(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors (n, d) rounded to legal values, with inactive dimensions set to NaN.

        Numeric dimensions are clipped to [0, 1] and rounded to the hyperparameter's grid
        (integers), categorical ones to a valid index; then the conditions switch children off.
        """
        out = np.array(vectors, dtype=float, copy=True, ndmin=2)
        missing = np.isnan(out)
        if len(self._categorical):
            columns = self._categorical
            values = np.rint(np.where(missing[:, columns], 0.0, out[:, columns]))
            out[:, columns] = np.minimum(np.maximum(values, 0), self.kinds[columns] - 1)
        if len(self._ordinal):
            columns, size = self._ordinal, self.ordinal_sizes[self._ordinal]
            values = np.where(missing[:, columns], 0.5, out[:, columns])
            index = np.minimum(np.maximum(np.floor(values * size), 0), size - 1)
            out[:, columns] = (index + 0.5) / size
        # numbers: value -> vector round trip puts integers on their grid (and floats on exactly
        # the vector their value encodes to)
        columns = self._numeric_columns
        block = np.where(missing[:, columns], 0.5, out[:, columns])
        block = np.minimum(np.maximum(block, 0.0), 1.0)  # np.clip costs more on small arrays
        for k, j in enumerate(columns.tolist()):
            thresholds = self._thresholds.get(j)
            if thresholds is not None:  # the same as below, by table lookup
                out[:, j] = self._grids[j][1][
                    np.searchsorted(thresholds, block[:, k], side="right")
                ]
            else:
                hp = self.hyperparameters[j]
                out[:, j] = hp.to_vector(hp.to_value(block[:, k]))
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
        for j in np.flatnonzero(~np.isnan(native)).tolist():
            x = float(native[j])
            values = self._value_at.get(j)
            if values is not None and x.is_integer() and 0 <= x < len(values):
                config[self.names[j]] = values[int(x)]
                continue
            grid = self._grids.get(j)
            if grid is not None:
                i = int(np.searchsorted(grid[1], x))
                if i < len(grid[1]) and grid[1][i] == x:
                    config[self.names[j]] = grid[0] + i
                    continue
            config[self.names[j]] = self.hyperparameters[j].to_value(x)
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
