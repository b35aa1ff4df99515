"""Run a study's evaluations on a Ray cluster; the optimizer and the run log stay with the driver.

:class:`RayBackend` has the runner's :class:`~autocnn.optimize.backends.Backend` interface, so BOHB,
the run store and ``--resume`` work exactly as with local processes; only where an evaluation runs
changes. Ray is an optional extra (``pip install 'autocnn[ray]'``) and is imported only when this
backend is built: the default backend never imports it.

Design, and why:

- **One Ray task per evaluation**, declaring ``num_cpus=cpus_per_trial`` and
  ``num_gpus=gpus_per_trial``; Ray places it on any node with those resources free (and sets
  ``CUDA_VISIBLE_DEVICES``). Tasks, not actors: a task holds its resources only while it trains,
  and a dead worker is simply a failed task. The backend keeps as many tasks in flight as the
  cluster's resources fit (re-read every few seconds, so nodes that join are used).
- **The driver owns all state.** BOHB, ``run.db`` (SQLite: it needs a local disk, not a network
  filesystem) and the ask/tell log live in the driver's run folder; a task gets a ``Trial`` and a
  path and returns a ``Result``. Killing the driver kills its tasks (Ray ties them to their owner),
  and ``--resume`` replays the log and re-submits what was running, as for a local run.
- **Checkpoints move through a path, not the object store.** A promoted config continues from
  the checkpoint its previous budget wrote, possibly on another node, possibly after the driver
  was restarted. Objects in Ray's store die with the driver that owns them; a file on a shared
  filesystem does not. So every node must see the trial folders at the same path:
  ``--storage`` (default: the run folder, right for a one-machine cluster or a run folder on a
  shared filesystem). With ``--storage DIR`` the run folder's ``trials`` becomes a link to
  ``DIR/trials`` (:func:`prepare_storage`), so the database stays local while the checkpoints are
  shared and the runner's checkpoint pruning still works through the link.
- **The dataset goes into the object store once.** The driver loads the train/validation split
  (it does anyway, to fail fast on a bad dataset) and ``ray.put``-s it once. Tasks receive the
  reference wrapped in a list, so Ray does not fetch and deserialize it for every task; a worker
  process calls ``ray.get`` the first time it needs it, which copies the object to its node's
  store once per node, and keeps the result in a per-process cache, as ``ProcessBackend`` workers
  do. Workers therefore never read the dataset's files (relative ``--data-dir`` paths, disks
  nodes do not share) and nothing per-task ships the data.
- **Faults.** A worker process or node that dies mid-evaluation (``WorkerCrashedError``,
  ``NodeDiedError``, Ray's OOM killer, a lost result) gets the trial re-submitted, up to
  ``max_retries`` times; after that the evaluation is recorded as ``crashed`` with every attempt's
  reason, and the study goes on. Retries happen here, not through Ray's own ``max_retries``, so
  the reasons are kept and counted (``metrics["attempts"]``). A retry continues from the previous
  budget's checkpoint, which an evaluation deletes only after it succeeded. An exception raised by
  the objective is a ``failed`` result, never retried: it would fail again.

Every node needs the same autocnn (and torch) installed; the task function is imported there by
name. Worker output goes to Ray's logs (``/tmp/ray/session_latest/logs``), not the console.

Example::

    backend = RayBackend(objective, address="auto", cpus_per_trial=2)
    summary = run_optimizer(optimizer, objective, Path("runs/k49"), backend=backend)
    backend.close()
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autocnn.errors import RunError
from autocnn.optimize.faults import evaluate_safely
from autocnn.optimize.trial import CRASHED, FAILED, Result, Trial

INSTALL_HINT = "install it with: pip install 'autocnn[ray]' (or pip install ray)"
CAPACITY_REFRESH_S = 5.0  # how often the cluster's resources are re-read for new nodes

# Per worker process: the dataset this process got from the object store, by object id.
_DATA: dict[str, Any] = {}


def import_ray() -> Any:
    """``import ray``, or a RunError that says how to install it."""
    try:
        import ray
    except ImportError as error:
        raise RunError(
            f"the ray backend needs the 'ray' package, which is missing; {INSTALL_HINT}"
        ) from error
    return ray


def prepare_storage(run_dir: Path, storage: str | Path | None) -> Path:
    """Make ``run_dir/trials`` live under ``storage``; returns the folder holding trial folders.

    ``storage`` None (or the run folder itself) keeps the trials in the run folder. Otherwise
    ``run_dir/trials`` becomes a link to ``storage/trials``. RunError if ``run_dir/trials`` is
    already a real folder or a link elsewhere, or ``storage/trials`` belongs to another run.
    """
    run_dir = Path(run_dir).resolve()
    if storage is None or Path(storage).resolve() == run_dir:
        return run_dir / "trials"
    target = Path(storage).resolve() / "trials"
    link = run_dir / "trials"
    if link.is_symlink():
        if link.resolve() != target.resolve():
            raise RunError(
                f"{link} points to {link.resolve()}, not to {target}: resume with "
                f"--storage {link.resolve().parent} (or without --storage)"
            )
        target.mkdir(parents=True, exist_ok=True)
        return target
    if link.exists():
        raise RunError(
            f"{link} already holds this run's checkpoints; move it to {target} and resume again, "
            f"or resume without --storage"
        )
    if target.exists() and any(target.iterdir()):
        raise RunError(
            f"{target} already holds trial folders of another run; give each run its own "
            f"--storage folder"
        )
    target.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)
    return target


def _limit_torch_threads(threads: int) -> None:
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(threads)


def _preload(objective: Any, splits: Any) -> None:
    """Seed a TrainingObjective's per-process split cache with the data from the object store."""
    from autocnn.optimize import evaluate

    if isinstance(objective, evaluate.TrainingObjective):
        objective.preload(splits)  # then it never touches the files


def _evaluate_task(
    objective: Any, data_box: list[Any], trial: Trial, workdir: str, threads: int
) -> tuple[Result, str]:
    """The Ray task: evaluate one trial on whichever node Ray chose; returns (result, worker)."""
    import ray

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if data_box:  # [ObjectRef]: boxed so that Ray does not fetch it for every task
        key = data_box[0].hex()
        if key not in _DATA:
            _DATA.clear()  # a worker reused by another run keeps one dataset, not all
            _DATA[key] = ray.get(data_box[0])
        _preload(objective, _DATA[key])
    _limit_torch_threads(threads)
    result = evaluate_safely(objective, trial, Path(workdir))
    _limit_torch_threads(threads)  # the objective may have imported torch just now
    context = ray.get_runtime_context()
    worker = f"ray:{ray.util.get_node_ip_address()}/{context.get_node_id()[:8]}/pid{os.getpid()}"
    return result, worker


@dataclass
class _Attempt:
    trial: Trial
    workdir: str
    number: int = 1
    started: float = field(default_factory=time.perf_counter)
    reasons: list[str] = field(default_factory=list)


class RayBackend:
    """Evaluate trials as Ray tasks on the cluster at ``address`` (see the module docstring).

    ``address``: None starts a local Ray instance (its CPUs are this machine's), ``"auto"`` or
    ``"HOST:PORT"`` joins a running cluster; if Ray is already initialized in this process, that
    connection is used and left open by :meth:`close`. ``max_concurrent`` caps the trials in
    flight (default: as many as the cluster's CPUs and GPUs fit). ``data`` is put in the object
    store once and handed to the objective's worker-side cache; by default it is
    ``objective.splits()`` for a :class:`~autocnn.optimize.evaluate.TrainingObjective`.
    """

    retries_crashes = True  # dead workers are re-run here (max_retries), not again by the runner

    def __init__(
        self,
        objective: Any,
        *,
        address: str | None = None,
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0.0,
        max_retries: int = 2,
        max_concurrent: int | None = None,
        data: Any = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        if not cpus_per_trial > 0:
            raise RunError(f"--cpus-per-trial must be > 0, got {cpus_per_trial}")
        if gpus_per_trial < 0:
            raise RunError(f"--gpus-per-trial must be >= 0, got {gpus_per_trial}")
        if max_retries < 0:
            raise RunError(f"--max-retries must be >= 0, got {max_retries}")
        if max_concurrent is not None and max_concurrent < 1:
            raise RunError(f"at most {max_concurrent} trials at once: give at least 1")
        ray = self._ray = import_ray()
        self.cpus_per_trial, self.gpus_per_trial = float(cpus_per_trial), float(gpus_per_trial)
        self.max_retries, self.max_concurrent = max_retries, max_concurrent
        self.threads = max(1, int(cpus_per_trial))
        self.address = address
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            self._init(address, init_options or {})
        self._running: dict[Any, _Attempt] = {}  # ObjectRef -> attempt
        self._workers: dict[int, str] = {}
        self.n_retried = 0
        try:
            self._capacity_now = self._fit()
            if self._capacity_now < 1:
                resources = ray.cluster_resources()
                raise RunError(
                    f"the Ray cluster ({resources.get('CPU', 0):g} CPUs, "
                    f"{resources.get('GPU', 0):g} GPUs) cannot run one trial needing "
                    f"{self.cpus_per_trial:g} CPUs and {self.gpus_per_trial:g} GPUs; lower "
                    f"--cpus-per-trial / --gpus-per-trial or add nodes with those resources"
                )
            self._checked = time.monotonic()
            self._objective = ray.put(objective)
            if data is None and hasattr(objective, "splits"):
                from autocnn.optimize.evaluate import TrainingObjective

                if isinstance(objective, TrainingObjective):
                    data = objective.splits()  # cached: the driver loaded it to fail fast
            self._data_box = [] if data is None else [ray.put(data)]
            self._task = ray.remote(_evaluate_task)
        except BaseException:
            self.close()
            raise

    def _init(self, address: str | None, options: dict[str, Any]) -> None:
        ray = self._ray
        settings: dict[str, Any] = {
            "log_to_driver": False,  # worker output would scramble the live progress display
            "logging_level": logging.WARNING,
        }
        if address is None:
            settings["include_dashboard"] = False  # a local instance: start only what we use
        settings.update(options)
        try:
            # "local" always starts a new instance; None would join a `ray start` cluster found here
            ray.init(address=address or "local", **settings)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = "a local Ray instance" if address is None else f"the Ray cluster at {address}"
            raise RunError(
                f"cannot start or reach {where}: {error}. Start a cluster with "
                f"`ray start --head` and pass --address HOST:PORT (or 'auto' on a node of it)"
            ) from error

    def _fit(self) -> int:
        """How many trials the cluster's resources fit at once."""
        resources = self._ray.cluster_resources()
        fits = math.floor(resources.get("CPU", 0.0) / self.cpus_per_trial + 1e-9)
        if self.gpus_per_trial > 0:
            fits = min(fits, math.floor(resources.get("GPU", 0.0) / self.gpus_per_trial + 1e-9))
        return int(fits)

    def _capacity(self) -> int:
        if self.max_concurrent is not None:
            return self.max_concurrent
        if time.monotonic() - self._checked > CAPACITY_REFRESH_S:
            # At least one: with every node gone a pending task waits for one to (re)join.
            self._capacity_now = max(1, self._fit())
            self._checked = time.monotonic()
        return self._capacity_now

    @property
    def n_free(self) -> int:
        return max(0, self._capacity() - len(self._running))

    def submit(self, trial: Trial, workdir: Path) -> None:
        # Absolute and with links resolved: a worker's cwd is not the driver's, and a
        # --storage link resolves to the shared path every node sees.
        self._launch(_Attempt(trial, str(Path(workdir).resolve())))

    def _launch(self, attempt: _Attempt) -> None:
        ref = self._task.options(
            num_cpus=self.cpus_per_trial,
            num_gpus=self.gpus_per_trial,
            max_retries=0,  # retried by _collect, which keeps the reasons
            name=f"autocnn-config{attempt.trial.config_id}-b{attempt.trial.budget:g}",
        ).remote(self._objective, self._data_box, attempt.trial, attempt.workdir, self.threads)
        self._running[ref] = attempt

    def worker_of(self, config_id: int) -> str | None:
        """``ray:IP/NODE/pidPID`` of the worker that ran the config's latest evaluation."""
        return self._workers.get(config_id)

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, Result]]:
        """Finished trials; may return none when the finished tasks were crashes now retried."""
        if not self._running:
            return []
        refs = list(self._running)
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        finished = []
        for ref in ready:
            outcome = self._collect(ref, self._running.pop(ref))
            if outcome is not None:
                finished.append(outcome)
        return finished

    def _collect(self, ref: Any, attempt: _Attempt) -> tuple[Trial, Result] | None:
        exceptions = self._ray.exceptions
        trial = attempt.trial
        try:
            result, worker = self._ray.get(ref)
        except exceptions.RayTaskError as error:
            # Raised in the task but outside the objective (which never raises): the task could
            # not even start, e.g. autocnn is missing on that node. It would fail again.
            self._workers[trial.config_id] = "ray:?"
            message = _first_lines(str(error), 8)
            return trial, Result(
                FAILED,
                error=f"the Ray task failed outside the objective (is the same autocnn "
                f"installed on every node?): {message}",
                seconds=time.perf_counter() - attempt.started,
            )
        except exceptions.RayError as error:  # the worker process or its node died
            attempt.reasons.append(f"attempt {attempt.number}: {_describe_crash(error)}")
            if attempt.number <= self.max_retries:
                self.n_retried += 1
                attempt.number += 1
                self._launch(attempt)
                return None
            self._workers[trial.config_id] = "ray:?"
            return trial, Result(
                CRASHED,
                error=(
                    f"config {trial.config_id} at budget {trial.budget:g} crashed "
                    f"{attempt.number} times (--max-retries {self.max_retries}): "
                    + "; ".join(attempt.reasons)
                ),
                seconds=time.perf_counter() - attempt.started,
                metrics={"attempts": attempt.number},
            )
        self._workers[trial.config_id] = worker
        if attempt.number > 1:
            result.metrics["attempts"] = attempt.number
            result.metrics["retried_after"] = list(attempt.reasons)
        return trial, result

    def close(self) -> None:
        """Cancel running tasks (their workers are killed); disconnect if we connected."""
        for ref in list(getattr(self, "_running", {})):
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished or its node is gone: nothing to stop
                pass
        self._running = {}
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_lines(text: str, n: int) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-n:])


def _describe_crash(error: Exception) -> str:
    """A one-line reason: the error type and the first line of Ray's message."""
    first = next((line for line in str(error).splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {first.strip()[:300]}"
