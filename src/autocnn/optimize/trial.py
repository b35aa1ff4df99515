"""The two records that cross the optimizer boundary: what it asks for and what it is told.

Both hold plain Python values only (never numpy scalars), so they can be written to SQLite or
JSON and sent to another process as they are. HpBandSter breaks exactly there
(``TypeError: Object of type int64 is not JSON serializable``).
"""

from __future__ import annotations

import errno
import math
from dataclasses import asdict, dataclass, field
from typing import Any

# Status values of a finished evaluation.
OK = "ok"  # trained to its budget; ``loss`` is meaningful
DIVERGED = "diverged"  # NaN/inf loss; counted as the worst loss
FAILED = "failed"  # raised an exception (bad config, OOM, ...); counted as the worst loss
CRASHED = "crashed"  # the worker died (killed, segfault); counted as the worst loss
STATUSES = (OK, DIVERGED, FAILED, CRASHED)
# Not a result of the config: the machine failed (disk full, out of memory, I/O error). Never
# stored or told; the evaluation stays pending and is retried, or the run stops (see runner).
ENVIRONMENT = "environment"
# Kinds of environment fault, in ``Result.metrics["fault"]``.
DISK_FULL, OUT_OF_MEMORY, IO_ERROR = "disk full", "out of memory", "I/O error"
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_MEMORY_TEXTS = ("out of memory", "can't allocate memory", "cannot allocate memory")


def environment_fault(error: BaseException | None) -> str | None:
    """Which environment fault ``error`` is or was caused by (None: the config's own failure).

    The exception chain is followed: torch reports a full disk while saving as a RuntimeError
    whose context is the ``OSError(ENOSPC)``.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError):
            if error.errno in _DISK_FULL_ERRNOS:
                return DISK_FULL
            return OUT_OF_MEMORY if error.errno == errno.ENOMEM else IO_ERROR
        text = str(error).lower()
        if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
            return OUT_OF_MEMORY
        if isinstance(error, RuntimeError) and any(t in text for t in _MEMORY_TEXTS):
            return OUT_OF_MEMORY
        if "no space left on device" in text:
            return DISK_FULL
        error = error.__cause__ or error.__context__
    return None


def environment_result(error: BaseException, seconds: float = 0.0) -> Result | None:
    """An ``environment`` Result for an environment fault (None when ``error`` is not one)."""
    fault = environment_fault(error)
    if fault is None:
        return None
    return Result(
        ENVIRONMENT,
        metrics={"fault": fault},
        error=f"{type(error).__name__}: {error}",
        seconds=seconds,
    )


@dataclass(frozen=True)
class Trial:
    """One evaluation the optimizer wants: train ``config`` up to ``budget``.

    ``previous_budget`` is the budget this config was last evaluated at (``None`` for a new
    config); an evaluator that keeps checkpoints continues from there instead of retraining.
    ``stop_rule`` (plain data of :class:`autocnn.optimize.early_stopping.StopRule`, or None)
    is attached by the runner when the evaluation starts, not by the optimizer: when the
    evaluation may end before its budget because its curve cannot reach its rung's threshold.
    """

    config_id: int
    config: dict[str, Any]
    budget: float
    previous_budget: float | None = None
    bracket: int = 0
    stage: int = 0
    model_based: bool = False
    stop_rule: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Result:
    """What an evaluation returns. ``loss`` is minimised; failures carry ``math.inf``."""

    status: str
    loss: float = math.inf
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    # Epochs actually trained for this evaluation (less than the budget when continued).
    cost: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in (*STATUSES, ENVIRONMENT):
            raise ValueError(f"unknown status {self.status!r}; expected one of {STATUSES}")
        self.loss = float(self.loss)
        if self.status != OK or math.isnan(self.loss):
            self.loss = math.inf  # a failure ranks below every finished evaluation

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
