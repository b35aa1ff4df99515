"""What the run store hands out: its rows as frozen dataclasses, and the JSON-safe value helper.

Kept apart from :mod:`autocnn.optimize.store` (the SQLite code) so that readers of runs (status,
report, export) see plain records; ``store`` re-exports every name.

Example::

    row = store.evaluation(3)          # an EvaluationRow
    if row.done:
        print(row.result().loss, row.seconds / row.cost)   # seconds per epoch trained
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autocnn.optimize.trial import Result

PENDING = "pending"


def to_plain(value: Any) -> Any:
    """``value`` as plain JSON types: numpy scalars/arrays unwrapped, non-finite floats -> None.

    >>> to_plain({"a": (1, 2.5), "b": float("nan")})
    {'a': [1, 2.5], 'b': None}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalar or array, torch tensor
        return to_plain(value.tolist())
    if hasattr(value, "item"):
        return to_plain(value.item())
    return str(value)


@dataclass(frozen=True)
class ConfigRow:
    config_id: int
    config: dict[str, Any]
    model_based: bool
    created: float


@dataclass(frozen=True)
class EvaluationRow:
    id: int
    config_id: int
    budget: float
    previous_budget: float | None
    bracket: int
    stage: int
    status: str
    loss: float | None
    metrics: dict[str, Any]
    error: str | None
    seconds: float | None
    cost: float | None
    worker: str | None
    submitted: float
    started: float | None
    finished: float | None

    @property
    def done(self) -> bool:
        return self.status != PENDING

    def result(self) -> Result:
        """The stored outcome as a :class:`Result` (only for finished evaluations)."""
        if not self.done:
            raise ValueError(f"evaluation {self.id} is still pending")
        loss = math.inf if self.loss is None else self.loss
        return Result(
            self.status,
            loss=loss,
            metrics=dict(self.metrics),
            error=self.error,
            seconds=self.seconds or 0.0,
            cost=self.cost or 0.0,
        )


@dataclass(frozen=True)
class EventRow:
    seq: int
    kind: str
    evaluation_id: int | None
    time: float


@dataclass(frozen=True)
class Incumbent:
    """Best ok evaluation at the largest budget that has one (HpBandSter's semantics)."""

    config_id: int
    config: dict[str, Any]
    budget: float
    loss: float
    evaluation_id: int


@dataclass
class StoreSummary:
    counts: dict[str, int] = field(default_factory=dict)  # by status, pending included
    n_configs: int = 0
    n_done: int = 0  # finished evaluations, whatever their status
    incumbent: Incumbent | None = None
    seconds: float = 0.0  # summed evaluation time
    cost: float = 0.0  # summed epochs actually trained
    first_submitted: float | None = None
    last_finished: float | None = None

    @property
    def wall_seconds(self) -> float:
        """From the first submission to the last finished evaluation (0.0 before any)."""
        return max(0.0, (self.last_finished or 0.0) - (self.first_submitted or 0.0))

    @property
    def best_loss(self) -> float | None:
        return None if self.incumbent is None else self.incumbent.loss
