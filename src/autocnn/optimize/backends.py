"""Where evaluations run: in this process, or in a pool of worker processes.

The runner only needs four things from a backend (:class:`Backend`): ``submit`` a trial,
``wait`` for finished ones, how many workers are free (``n_free``), and ``close``. A Ray or
cluster backend plugs in with the same interface.

Workers of :class:`ProcessBackend` start from a ``forkserver`` where the platform has one
(Linux; :func:`default_start_method`), else with ``spawn``. Forking the runner itself is never
done: a parent that has already started torch's (or OpenMP's) thread pools can deadlock the
child. The fork server is a clean, single-threaded process that imports autocnn's training
modules and torch once (:data:`PRELOAD`); each worker is a fork of it, ready in milliseconds
instead of the ~2 s a ``spawn`` worker spends importing torch (BENCHMARKS.md section 5). Either
way the cost is paid once per worker, not per evaluation: the objective is sent once when a
worker starts and stays there, so per-process caches (the loaded dataset) survive between
evaluations.

A worker that dies mid-evaluation (segfault, OOM killer, ``kill -9``) turns its trial into a
``crashed`` result and is replaced; an objective that raises gives a ``failed`` result with the
traceback's tail, or an ``environment`` one when the machine failed (full disk, out of memory,
I/O). Either way the run goes on (:class:`autocnn.optimize.faults.FaultPolicy` says what the
runner makes of them).
Workers ignore SIGINT/SIGTERM (the runner stops them) and exit when the runner dies.

Example::

    backend = ProcessBackend(objective, workers=2)
    backend.submit(trial, run_dir / "trials" / "00000")
    for trial, result in backend.wait():
        print(trial.config_id, result.status, result.loss)
    backend.close()
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from autocnn.data.cpus import usable_cpus
from autocnn.optimize.faults import evaluate_safely
from autocnn.optimize.trial import CRASHED, FAILED, Result, Trial

# Imported once by the fork server, so that every worker forked from it has them: the objective's
# modules (training, models, data) and torch. A module missing here is imported by each worker.
PRELOAD = (
    "autocnn.optimize.backends",
    "autocnn.optimize.evaluate",
    "autocnn.optimize.synthetic",
    "autocnn.train",
    "autocnn.model",
    "autocnn.data",
    "torch",
)


def default_start_method() -> str:
    """``"forkserver"`` on Linux (where the platform offers it), else ``"spawn"``.

    macOS has a fork server too, but forking after system frameworks are loaded is unsafe there,
    which is why Python itself defaults to ``spawn`` on macOS.
    """
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        return "forkserver"
    return "spawn"


def start_context(start_method: str | None = None) -> Any:
    """The multiprocessing context workers start from (``None``: :func:`default_start_method`).

    For ``forkserver`` the preload list is set to :data:`PRELOAD` plus ``__main__`` (Python's
    own default), which takes effect when the process's fork server first starts; a fork server
    that is already running keeps what it imported.
    """
    context = multiprocessing.get_context(start_method or default_start_method())
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(["__main__", *PRELOAD])
    return context


@runtime_checkable
class Backend(Protocol):
    """The interface the runner drives; implementations decide where evaluations run."""

    @property
    def n_free(self) -> int:
        """How many more trials ``submit`` accepts now."""
        ...

    def submit(self, trial: Trial, workdir: Path) -> None: ...

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, Result]]:
        """Block until at least one submitted trial finishes (or ``timeout`` s pass)."""
        ...

    def close(self) -> None: ...

    def worker_of(self, config_id: int) -> str | None:
        """Name of the worker that ran the config's latest evaluation (stored with its result);
        None if the backend does not say."""
        return None


class SerialBackend:
    """Runs each trial in this process when :meth:`wait` is called (one at a time).

    A crash of the objective (``os._exit``) ends this process too; use :class:`ProcessBackend`
    when that must not stop the run.
    """

    def __init__(self, objective: Any) -> None:
        self.objective = objective
        self._queue: deque[tuple[Trial, Path]] = deque()

    @property
    def n_free(self) -> int:
        return 0 if self._queue else 1

    def submit(self, trial: Trial, workdir: Path) -> None:
        if self._queue:
            raise RuntimeError("SerialBackend runs one trial at a time; wait() for it first")
        self._queue.append((trial, Path(workdir)))

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, Result]]:
        if not self._queue:
            return []
        trial, workdir = self._queue.popleft()
        return [(trial, evaluate_safely(self.objective, trial, workdir))]

    def worker_of(self, config_id: int) -> str:
        return "main"

    def close(self) -> None:
        self._queue.clear()


def _limit_torch_threads(threads: int) -> bool:
    """``torch.set_num_threads(threads)`` if torch is imported in this process (True then)."""
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "set_num_threads"):
        return False
    torch.set_num_threads(threads)
    return True


def _die_with_parent(parent: int, interval: float = 0.5) -> None:
    """Exit once the runner is gone (``kill -9`` included): an orphan would train on, unseen,
    while a resume of its run starts the same evaluation again."""

    start_parent = os.getppid()  # the runner (spawn), or a forkserver that dies with it

    def alive() -> bool:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, another user's: a reused pid; the ppid check decides
            pass
        return os.getppid() == start_parent

    def watch() -> None:
        while alive():
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="autocnn-parent-watch", daemon=True).start()


def _worker_main(
    objective: Any,
    connection: Connection,
    threads: int,
    parent: int | None = None,
    environ: dict[str, str] | None = None,
) -> None:
    """A worker process: set its thread budget, then evaluate tasks until told to stop.

    ``environ``: the runner's environment when it started the worker. A worker forked from the
    fork server would otherwise have the server's, from when the server started (spawn passes
    the current one): a data folder or cache set in between would be missing.
    """
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    # Ctrl-C and SIGTERM (to the process group) are the runner's to handle: it records the
    # running evaluations as pending and stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if parent is not None:
        _die_with_parent(parent)
    # torch sizes its thread pool from OMP_NUM_THREADS when it is imported, so an objective that
    # imports torch later gets the limit without every worker paying ~2 s for the import now.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    torch_limited = _limit_torch_threads(threads)
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):  # the runner is gone
            return
        if task is None:
            return
        task_id, trial, workdir = task
        result = evaluate_safely(objective, trial, Path(workdir))
        torch_limited = torch_limited or _limit_torch_threads(threads)
        try:
            connection.send((task_id, result))
        except (BrokenPipeError, OSError):
            return
        except Exception as error:  # e.g. metrics that cannot be pickled
            connection.send(
                (
                    task_id,
                    Result(
                        FAILED, error=f"cannot send the result: {error}", seconds=result.seconds
                    ),
                )
            )


class _Worker:
    """One worker process and its pipe. The process starts in a background thread: the first
    start from a fork server waits for the server's preload (~2 s with torch), and the runner
    should not wait for that before it submits (the pipe holds a task until the worker reads
    it). :meth:`started` waits for the start; ``wait`` and ``close`` call it before they look
    at the process."""

    def __init__(self, context: Any, objective: Any, threads: int, index: int) -> None:
        self.connection, child_end = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_worker_main,
            args=(objective, child_end, threads, os.getpid(), dict(os.environ)),
            name=f"autocnn-worker-{index}",
            daemon=True,
        )
        self.name = f"worker-{index}"
        self.task: tuple[int, Trial, float] | None = None  # (task id, trial, submitted)
        self._start_error: BaseException | None = None

        def start() -> None:
            try:
                self.process.start()
            except BaseException as error:  # re-raised by started(), in the runner's thread
                self._start_error = error
            finally:
                child_end.close()

        self._starter: threading.Thread | None = threading.Thread(
            target=start, name=f"autocnn-start-{index}", daemon=True
        )
        self._starter.start()

    def started(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` s) until the process has started; False if it has not yet.
        Raises what starting it raised."""
        if self._starter is not None:
            self._starter.join(timeout)
            if self._starter.is_alive():
                return False
            self._starter = None
        if self._start_error is not None:
            raise self._start_error
        return True


class ProcessBackend:
    """``workers`` processes, each evaluating one trial at a time.

    ``start_method``: ``"forkserver"``, ``"spawn"`` (or ``"fork"``, unsafe after torch started
    threads); ``None`` is :func:`default_start_method`.

    Each worker sets ``torch.set_num_threads(max(1, usable_cpus() // workers))`` so the
    workers together use the CPUs this process may run on without oversubscribing them.
    """

    def __init__(
        self,
        objective: Any,
        workers: int = 2,
        *,
        start_method: str | None = None,
        threads_per_worker: int | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.objective = objective
        self.threads = threads_per_worker or max(1, usable_cpus() // workers)
        self._context = start_context(start_method)
        self._started = 0
        self._workers = [self._start_worker() for _ in range(workers)]
        self._next_task = 0
        self._assigned: dict[int, str] = {}
        self.n_replaced = 0

    def _start_worker(self) -> _Worker:
        self._started += 1
        return _Worker(self._context, self.objective, self.threads, self._started - 1)

    @property
    def n_free(self) -> int:
        return sum(worker.task is None for worker in self._workers)

    def submit(self, trial: Trial, workdir: Path) -> None:
        worker = next((w for w in self._workers if w.task is None), None)
        if worker is None:
            raise RuntimeError("no free worker; wait() for a result first")
        self._next_task += 1
        worker.task = (self._next_task, trial, time.perf_counter())
        self._assigned[trial.config_id] = worker.name
        worker.connection.send((self._next_task, trial, str(workdir)))

    def worker_of(self, config_id: int) -> str | None:
        """Name of the worker that ran (or runs) the config's latest evaluation."""
        return self._assigned.get(config_id)

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, Result]]:
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return []
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        busy = [w for w in busy if w.started(left())]  # still starting: its result is not due
        if not busy:
            return []
        handles = [w.connection for w in busy] + [w.process.sentinel for w in busy]
        ready = set(wait_for(handles, left()))
        finished: list[tuple[Trial, Result]] = []
        for worker in busy:
            if worker.connection in ready or worker.connection.poll():
                try:
                    task_id, result = worker.connection.recv()
                except (EOFError, OSError):
                    finished.append(self._replace_crashed(worker))
                    continue
                assert worker.task is not None and worker.task[0] == task_id
                finished.append((worker.task[1], result))
                worker.task = None
            elif worker.process.sentinel in ready:
                finished.append(self._replace_crashed(worker))
        return finished

    def _replace_crashed(self, worker: _Worker) -> tuple[Trial, Result]:
        assert worker.task is not None
        trial = worker.task[1]
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        if code is not None and code < 0:
            reason = f"killed by {signal.Signals(-code).name}"
        else:
            reason = f"exit code {code}"
        error = (
            f"{worker.name} died while evaluating config {trial.config_id} at budget "
            f"{trial.budget:g} ({reason}); the worker was replaced"
        )
        result = Result(CRASHED, error=error, seconds=time.perf_counter() - worker.task[2])
        worker.connection.close()
        index = self._workers.index(worker)
        self._workers[index] = self._start_worker()
        self.n_replaced += 1
        return trial, result

    def close(self) -> None:
        """Stop the workers; ones still evaluating are terminated."""
        for worker in self._workers:
            try:
                worker.connection.send(None)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            try:
                worker.started()
            except Exception:  # never started: nothing to stop
                worker.connection.close()
                continue
            if worker.task is None:
                worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():  # still evaluating: workers ignore SIGTERM
                worker.process.kill()
                worker.process.join()
            worker.connection.close()
        self._workers = []

    def __enter__(self) -> ProcessBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
