"""Drive an ask/tell optimizer with a backend, record it all in the run store, resume after a kill.

The loop: ask the optimizer until it has nothing to run or every worker is busy, submit, wait for
the next finished evaluation, write its result to the store FIRST and only then tell the
optimizer. Because every ask and tell is logged in order, a resumed run replays the log into a
freshly built optimizer (same settings, same seed) and reaches exactly the state the killed run
had: finished evaluations are kept and never re-run; evaluations that were running are submitted
again.

Stopping: the run ends when the optimizer is finished, when ``max_evaluations`` evaluations exist
in the run (resumed parts included), or after ``time_limit`` seconds of this call. On a limit no
new evaluation is started, and the running ones are allowed to finish and are recorded; with
``hard_time_limit=True`` the ones still running at ``time_limit`` are stopped instead (their
workers terminated) and stay pending, so a resumed run re-runs them. A wall-clock budget is then
kept even when one evaluation would take far longer than the budget; and an evaluation expected
to outlast the time left is not started (:mod:`autocnn.optimize.durations`): once nothing more
can finish, the run ends early instead of losing the rest of its time to evaluations that are
killed at the limit.

Example::

    optimizer = make_optimizer("bohb", space, min_budget=1, max_budget=9, seed=0)
    summary = run_optimizer(optimizer, objective, Path("runs/kmnist"), workers=2,
                            time_limit=3600, settings={"method": "bohb", "seed": 0})
    print(summary.stopped, summary.incumbent)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocnn.errors import EnvironmentFault, RunError
from autocnn.optimize.backends import Backend, ProcessBackend, SerialBackend
from autocnn.optimize.durations import Durations
from autocnn.optimize.early_stopping import EarlyStopping
from autocnn.optimize.faults import FaultPolicy, check_free_disk
from autocnn.optimize.folder import RunFolder
from autocnn.optimize.lock import RunLock
from autocnn.optimize.protocol import Optimizer
from autocnn.optimize.pruning import CheckpointPruner
from autocnn.optimize.replay import SnapshotWriter, replay, warm_start
from autocnn.optimize.store import Incumbent, Store, StoreSummary
from autocnn.optimize.trial import Result, Trial

__all__ = ["RunSummary", "replay", "run_optimizer", "summarize", "trial_dir", "warm_start"]
EventHook = Callable[[str, dict[str, Any]], None]
# Environment faults (docs/failure-handling.md, faults.FaultPolicy): an evaluation that hit one
# is re-run up to ENVIRONMENT_RETRIES times; a full disk, or less than MIN_FREE_BYTES free before
# an evaluation starts (so that the store never fills the disk itself), stops the run at once.
ENVIRONMENT_RETRIES = 2
MIN_FREE_BYTES = 8 << 20


@dataclass
class RunSummary:
    """What :func:`run_optimizer` did; ``stopped`` is finished / max_evaluations / time_limit."""

    run_dir: Path
    stopped: str
    n_evaluations: int  # finished evaluations in the run, resumed parts included
    n_this_call: int  # evaluations finished by this call
    n_resubmitted: int  # evaluations that were running when an earlier call was killed
    counts: dict[str, int]
    incumbent: Incumbent | None
    seconds: float  # wall time of this call

    @property
    def best_loss(self) -> float | None:
        return None if self.incumbent is None else self.incumbent.loss


def trial_dir(run_dir: Path, config_id: int) -> Path:
    """Where a config's evaluations keep their files (checkpoints): ``trials/00042``."""
    return RunFolder(run_dir).trial_dir(config_id)


def run_optimizer(
    optimizer: Optimizer,
    objective: Any,
    run_dir: Path,
    *,
    workers: int = 1,
    time_limit: float | None = None,
    max_evaluations: int | None = None,
    resume: bool = False,
    on_event: EventHook | None = None,
    settings: Mapping[str, Any] | None = None,
    backend: Backend | None = None,
    prune_checkpoints: bool = True,
    hard_time_limit: bool = False,
    early_stopping: bool = False,
) -> RunSummary:
    """Run ``optimizer`` on ``objective`` in ``run_dir`` (see the module docstring).

    ``settings`` (method, eta, budgets, seed, dataset, ...) are stored with a new run and must
    match on ``resume=True``; an optimizer's own ``settings`` mapping (BOHB has one) is stored
    too, under ``"optimizer"``, and always checked on resume. ``backend`` defaults to
    in-process for ``workers=1`` and a :class:`ProcessBackend` otherwise.
    ``on_event(kind, payload)`` receives ``"start"``, ``"submit"``, ``"result"``, ``"note"`` and
    ``"stop"`` events for live progress. ``early_stopping`` ends evaluations whose learning
    curve cannot reach what their rung needs (:mod:`autocnn.optimize.early_stopping`).

    Example::

        summary = run_optimizer(BOHB(space, min_budget=1, max_budget=9), objective,
                                Path("runs/a"), max_evaluations=50)
    """
    if workers < 1:
        raise RunError(f"workers must be at least 1, got {workers}")
    started = time.monotonic()
    run_dir = Path(run_dir)
    store_path = RunFolder(run_dir).db
    effective = dict(settings or {})
    if optimizer.settings:  # what the optimizer says defines it (BOHB: all its arguments)
        effective.setdefault("optimizer", dict(optimizer.settings))
    lock = RunLock(run_dir)  # one owner per run: a second optimize/resume of a live run fails
    try:
        if resume:
            if store_path.exists():
                lock.acquire()
            store = Store.open(store_path)
            try:  # without caller settings, still check what the optimizer says about itself
                keys = None if settings is not None else ["optimizer"]
                store.check_settings(effective, keys=keys)
            except RunError:
                store.close()
                raise
        else:
            if not store_path.exists():
                lock.acquire()  # then checked again: another process may have just created it
            if store_path.exists():
                raise RunError(
                    f"{run_dir} already holds a run; resume it (--resume) or choose another run "
                    "folder"
                )
            store = Store.open(store_path, create=True, settings=effective)
    except BaseException:
        lock.release()
        raise
    emit = on_event or (lambda kind, payload: None)
    own_backend = backend is None
    pruner = CheckpointPruner(optimizer, run_dir) if prune_checkpoints else None
    warn = lambda message: emit("warning", {"message": message})  # noqa: E731
    snapshots = SnapshotWriter(store, optimizer, warn=warn)
    stopping = EarlyStopping(optimizer) if early_stopping else None
    if stopping is not None and resume:
        stopping.adopt((row.budget, row.result()) for row in store.evaluations(status="ok"))
    try:
        if resume:
            resubmit = replay(store, optimizer, pruner, warn)
            # a long replay (a run without snapshots) is not repeated by the next resume
            snapshots.count(store.last_seq() - store.snapshot_seq())
            snapshots.maybe_write()
        else:
            resubmit = []
        if pruner is not None and resume:
            pruner.prune(store.incumbent(), {trial.config_id for _, trial in resubmit})
        if backend is None:  # an in-process evaluation cannot be stopped: a hard limit needs one
            serial = workers == 1 and not (hard_time_limit and time_limit is not None)
            backend = SerialBackend(objective) if serial else ProcessBackend(objective, workers)
        loop = _Loop(
            store, optimizer, backend, run_dir, emit, pruner, started, time_limit, max_evaluations,
            hard_time_limit=hard_time_limit and time_limit is not None, snapshots=snapshots,
            stopping=stopping,
        )  # fmt: skip
        emit(
            "start",
            {
                "resumed": resume,
                "done": store.count(done_only=True),
                "resubmitted": len(resubmit),
                "total": loop.total(),
            },
        )
        stopped = loop.run(resubmit)
        snapshots.write()  # the next resume starts here
        summary = store.summary()
        run_summary = RunSummary(
            run_dir,
            stopped,
            summary.n_done,
            loop.n_finished,
            len(resubmit),
            summary.counts,
            summary.incumbent,
            time.monotonic() - started,
        )
        emit("stop", {"reason": stopped, "done": summary.n_done, "best": summary.best_loss})
        return run_summary
    finally:
        if own_backend and backend is not None:
            backend.close()
        store.close()
        lock.release()


class _Loop:
    """The ask/submit/wait/tell loop of one :func:`run_optimizer` call."""

    def __init__(
        self,
        store: Store,
        optimizer: Optimizer,
        backend: Backend,
        run_dir: Path,
        emit: EventHook,
        pruner: CheckpointPruner | None,
        started: float,
        time_limit: float | None,
        max_evaluations: int | None,
        hard_time_limit: bool = False,
        snapshots: SnapshotWriter | None = None,
        stopping: EarlyStopping | None = None,
    ) -> None:
        self.store, self.optimizer, self.backend = store, optimizer, backend
        self.snapshots = snapshots or SnapshotWriter(store, optimizer)
        self.run_dir, self.emit, self.pruner, self.stopping = run_dir, emit, pruner, stopping
        self.started, self.time_limit, self.max_evaluations = started, time_limit, max_evaluations
        self.running: dict[int, int] = {}  # config_id -> evaluation id
        self.n_finished = 0
        # Counted here, not queried per event: a COUNT over 100k rows on every result would make
        # a long run's bookkeeping grow with its length.
        self.n_asked = store.count()  # every evaluation in the run, pending ones included
        self.n_done = store.count(done_only=True)
        self.best = store.summary().best_loss
        self.hard_time_limit = hard_time_limit  # stop running evaluations at the time limit
        self.durations = Durations(time.monotonic)  # start only what can end before a hard limit
        self.durations.adopt(store.evaluations(status="ok") if hard_time_limit else ())
        self.out_of_time = False  # the next evaluation cannot finish before the hard limit
        self.queue: list[tuple[int, Trial]] = []  # pending evaluations to (re)submit first
        own_retries = getattr(backend, "retries_crashes", False)  # Ray re-runs them itself
        self.faults = FaultPolicy(run_dir, ENVIRONMENT_RETRIES, retry_crashes=not own_retries)
        self.fault: EnvironmentFault | None = None  # set: stop once this batch is recorded

    def total(self) -> int | None:
        """Evaluations the run will have: the optimizer's plan, capped by ``max_evaluations``."""
        planned = self.optimizer.total_evaluations
        if planned is None or self.max_evaluations is None:
            return self.max_evaluations if planned is None else planned
        return min(planned, self.max_evaluations)

    def stop_reason(self) -> str | None:
        if self.time_limit is not None and time.monotonic() - self.started >= self.time_limit:
            return "time_limit"
        if self.max_evaluations is not None and self.n_asked >= self.max_evaluations:
            return "max_evaluations"
        if self.optimizer.finished:
            return "finished"
        return None

    def run(self, resubmit: list[tuple[int, Trial]]) -> str:
        queue = self.queue = list(resubmit)
        while True:
            reason = self.fill(queue)
            if not self.running:
                if queue and not self.out_of_time:
                    continue
                reason = reason or self.stop_reason()  # the last ask may have finished it
                if reason is not None:
                    return reason
                raise RunError(
                    "the optimizer has nothing to run, nothing is running and it is "
                    "not finished; this is a bug in the optimizer"
                )
            for trial, result in self.backend.wait(timeout=self.wait_timeout()):
                result = self.environment(trial, result)
                if result is not None:
                    self.finish(trial, result)
            if self.fault is not None:
                raise self.fault  # the running evaluations stay pending; close() stops them
            if self.hard_time_limit and self.running and self.time_left() <= 0:
                return "time_limit"  # the running evaluations stay pending; close() stops them

    def time_left(self) -> float:
        assert self.time_limit is not None
        return self.time_limit - (time.monotonic() - self.started)

    def wait_timeout(self) -> float | None:
        """How long to wait for a result: until the time limit if it is hard, else as long as
        it takes."""
        return max(0.0, self.time_left()) if self.hard_time_limit else None

    def fill(self, queue: list[tuple[int, Trial]]) -> str | None:
        """Submit until every worker is busy; returns why no more can be asked (or None)."""
        while self.backend.n_free > 0:
            check_free_disk(self.run_dir, MIN_FREE_BYTES, self.n_done)
            if not queue:  # evaluations interrupted by a kill go first: the optimizer awaits them
                reason = self.stop_reason()
                if reason is not None:
                    return reason
                trial = self.optimizer.ask()
                evaluation_id = self.store.record_ask(trial)
                self.snapshots.count()
                if trial is None or evaluation_id is None:
                    return None
                self.n_asked += 1
                if self.pruner is not None:
                    self.pruner.asked(trial)
                queue.append((evaluation_id, trial))
            if not self.can_finish(queue[0][1]):  # it stays pending: a resumed run starts it
                self.out_of_time = True
                return "time_limit"
            self.submit(*queue.pop(0))
        return None

    def can_finish(self, trial: Trial) -> bool:
        """Whether the trial's evaluation is expected to end before a hard time limit."""
        if not self.hard_time_limit:
            return True
        expected = self.durations.expected(trial)
        if expected is None or expected <= self.time_left():
            return True
        if not self.out_of_time:
            self.emit("note", {"message": (
                f"the next evaluation (config {trial.config_id}, budget {trial.budget:.4g}) takes "
                f"~{expected:.0f} s and {max(0.0, self.time_left()):.0f} s are left: it is not "
                "started, and the run ends when the running ones finish"
            )})  # fmt: skip
        return False

    def environment(self, trial: Trial, result: Result) -> Result | None:
        """Re-run (None), stop on (None, ``self.fault`` set) or record a result that may be the
        machine's fault rather than the config's; see :class:`FaultPolicy`."""
        evaluation_id = self.running[trial.config_id]
        action, value = self.faults.decide(evaluation_id, trial, result, self.n_done)
        if action == "record":
            return value
        del self.running[trial.config_id]
        if action == "retry":
            self.emit("warning", {"message": value})
            self.queue.insert(0, (evaluation_id, trial))
        else:
            self.fault = self.fault or value
        return None

    def submit(self, evaluation_id: int, trial: Trial) -> None:
        workdir = trial_dir(self.run_dir, trial.config_id)
        self.store.mark_started(evaluation_id)
        if self.stopping is not None:  # what it must be able to beat, known only now
            trial = self.stopping.prepare(trial)
        self.backend.submit(trial, workdir)
        self.durations.start(trial)
        self.running[trial.config_id] = evaluation_id
        self.emit("submit", {"trial": trial, "running": len(self.running)})

    def finish(self, trial: Trial, result: Result) -> None:
        evaluation_id = self.running.pop(trial.config_id)
        worker = self.backend.worker_of(trial.config_id)
        self.store.record_tell(evaluation_id, result, worker=worker)  # persist first ...
        self.optimizer.tell(trial, result)  # ... then tell: a kill in between loses nothing
        self.durations.finish(trial, result)
        if self.stopping is not None:
            self.stopping.observe(trial, result)
        self.snapshots.count()
        self.snapshots.maybe_write()  # store and optimizer agree here
        self.n_finished += 1
        self.n_done += 1
        if result.ok and (self.best is None or result.loss < self.best):
            self.best = result.loss
        if self.pruner is not None:
            self.pruner.prune(self.store.incumbent(), set(self.running))
        self.emit("result", self.progress(trial, result))

    def progress(self, trial: Trial, result: Result) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        done = self.n_done
        total = self.total()
        eta = None
        if total is not None and self.n_finished:
            eta = elapsed / self.n_finished * max(0, total - done)
        if self.time_limit is not None:
            remaining = max(0.0, self.time_limit - elapsed)
            eta = remaining if eta is None else min(eta, remaining)
        return {
            "trial": trial,
            "result": result,
            "bracket": trial.bracket,
            "done": done,
            "total": total,
            "running": len(self.running),
            "best": self.best,
            "elapsed": elapsed,
            "eta": eta,
        }


def summarize(run_dir: Path) -> StoreSummary:
    """Read-only summary of a run folder (safe while the run is writing)."""
    with Store.open(RunFolder(run_dir).require("summarize").db, readonly=True) as store:
        return store.summary()
