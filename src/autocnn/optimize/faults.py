"""Faults of the machine, not of the config: how an evaluation's exception becomes a result, and
what the runner does with results that may be the environment's doing (retry, record, stop).

A config's own failure (NaN, a layer that does not fit, not learning) is a result the optimizer
learns from; a full disk, an out-of-memory kill or an I/O error is not, so it is retried or
stops the run, and never blames the config (docs/failure-handling.md).

Example:
    >>> from pathlib import Path
    >>> def broken(trial, workdir):
    ...     raise ValueError("no such layer")
    >>> evaluate_safely(broken, Trial(0, {}, budget=1.0), Path(".")).status
    'failed'
"""

from __future__ import annotations

import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from autocnn.errors import EnvironmentFault
from autocnn.optimize.trial import (
    CRASHED,
    DISK_FULL,
    ENVIRONMENT,
    FAILED,
    IO_ERROR,
    Result,
    Trial,
    environment_result,
)


def result_of_exception(error: BaseException, seconds: float) -> Result:
    """The Result of an evaluation that raised ``error``: ``environment`` when the machine failed
    (disk full, out of memory, I/O; :func:`autocnn.optimize.trial.environment_result`), else
    ``failed`` with the traceback's tail."""
    fault = environment_result(error, seconds)
    if fault is not None:  # not the config's result: retried, never told
        return fault
    tail = "".join(traceback.format_exception(type(error), error, error.__traceback__)[-4:])
    return Result(FAILED, error=f"{type(error).__name__}: {error}\n{tail.strip()}", seconds=seconds)


def evaluate_safely(objective: Any, trial: Trial, workdir: Path) -> Result:
    """Call ``objective(trial, workdir)``; an exception becomes a ``failed`` Result, or an
    ``environment`` one when the machine failed (:func:`result_of_exception`)."""
    start = time.perf_counter()
    try:
        result = objective(trial, workdir)
        if not isinstance(result, Result):
            raise TypeError(f"the objective returned {type(result).__name__}, expected a Result")
        return result
    except Exception as error:  # the study goes on; the reason is kept in the store
        return result_of_exception(error, time.perf_counter() - start)


def resume_hint(run_dir: Path, n_done: int) -> str:
    return (
        f"the run is intact ({n_done} finished evaluations recorded; the ones that were running "
        "stay pending). Fix the cause (free disk space, check the disk), then continue with: "
        f"autocnn optimize --resume {run_dir}"
    )


def check_free_disk(run_dir: Path, minimum: int, n_done: int) -> None:
    """EnvironmentFault before an evaluation starts on a disk with less than ``minimum`` bytes
    free: stopping there keeps the run store writable, so the run stays resumable."""
    free = shutil.disk_usage(run_dir).free
    if free < minimum:
        raise EnvironmentFault(
            f"stopped: only {free / 2**20:.1f} MiB free on the disk holding {run_dir} (autocnn "
            f"stops below {minimum / 2**20:.0f} MiB so that the run store stays writable); "
            + resume_hint(run_dir, n_done)
        )


class FaultPolicy:
    """What the runner does with a result that may be the machine's fault, not the config's.

    ``environment`` results (see :func:`autocnn.optimize.trial.environment_fault`) and dead
    workers (``crashed``, unless the backend re-runs those itself) are never told to the
    optimizer at first: the evaluation stays pending and is re-run up to ``retries`` times. A
    full disk stops the run at once, an I/O error that persists stops it after the retries. A
    config whose worker died or ran out of memory on every attempt is recorded as ``crashed`` /
    ``failed``: needing more than the machine has is then the config's property, and a run that
    stopped there would stop there again on every resume.
    """

    def __init__(self, run_dir: Path, retries: int, retry_crashes: bool = True) -> None:
        self.run_dir, self.retries, self.retry_crashes = run_dir, retries, retry_crashes
        self.attempts: dict[int, int] = {}  # evaluation id -> faults so far (this call)

    def decide(
        self, evaluation_id: int, trial: Trial, result: Result, n_done: int
    ) -> tuple[str, Any]:
        """("record", result), ("retry", log message) or ("stop", EnvironmentFault)."""
        crashed = result.status == CRASHED and self.retry_crashes
        if result.status != ENVIRONMENT and not crashed:
            return "record", result
        fault = result.metrics.get("fault", IO_ERROR) if not crashed else "its worker died"
        attempts = self.attempts[evaluation_id] = self.attempts.get(evaluation_id, 0) + 1
        what = f"config {trial.config_id} at budget {trial.budget:g}"
        first_line = (result.error or "?").strip().splitlines()[0]
        if fault == DISK_FULL or (fault == IO_ERROR and attempts > self.retries):
            tries = f" ({attempts} attempts)" if attempts > 1 else ""
            return "stop", EnvironmentFault(
                f"stopped: {fault} while evaluating {what}{tries}: {first_line}. This is the "
                f"machine's fault, not the config's; " + resume_hint(self.run_dir, n_done)
            )
        if attempts > self.retries:
            status = CRASHED if crashed else FAILED
            return "record", Result(
                status,
                metrics=result.metrics,
                error=f"{fault} on all {attempts} attempts, so it is recorded as this config's "
                f"failure; last: {result.error}",
                seconds=result.seconds,
                cost=result.cost,
            )
        message = (
            f"{what}: {fault} ({first_line}); not the config's fault, re-running it "
            f"(retry {attempts} of {self.retries})"
        )
        return "retry", message
