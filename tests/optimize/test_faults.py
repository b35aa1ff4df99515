"""Environment faults (issue #15): a full disk, out of memory, an I/O error or a dead worker is
the machine's fault, never a result the model learns from. The evaluation stays pending and is
re-run (bounded); a full disk stops the run at once, intact and resumable.

The disk cases run on a real small tmpfs where this machine lets us mount one (root) and on an
injected ``OSError(ENOSPC)`` everywhere.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_runner import MiniHyperband, QuadraticObjective, calls

from autocnn.data import write_synthetic
from autocnn.errors import EnvironmentFault
from autocnn.optimize import runner
from autocnn.optimize.evaluate import TrainingObjective
from autocnn.optimize.runner import run_optimizer
from autocnn.optimize.settings import RunSettings
from autocnn.optimize.store import PENDING, Store
from autocnn.optimize.trial import (
    CRASHED,
    DISK_FULL,
    ENVIRONMENT,
    FAILED,
    IO_ERROR,
    OK,
    OUT_OF_MEMORY,
    Trial,
    environment_fault,
)
from autocnn.space import default_config

SETTINGS = {"method": "mini", "seed": 0}
ERRORS = {
    "enospc": lambda: OSError(errno.ENOSPC, "No space left on device"),
    "eio": lambda: OSError(errno.EIO, "Input/output error"),
    "memory": lambda: MemoryError(),
    "value": lambda: ValueError("mat1 and mat2 shapes cannot be multiplied"),
}


class Faulty:
    """QuadraticObjective whose configs ``on`` fail with ``kind`` on their first ``times`` calls
    (counted by the call markers); ``crash`` ends the worker process instead. ``big`` bytes are
    written to the trial folder per call (a checkpoint that can fill a real disk)."""

    def __init__(self, kind: str, on=(), times: int = 99, big: int = 0) -> None:
        self.kind, self.on, self.times, self.big = kind, set(on), times, big

    def __call__(self, trial: Trial, workdir: Path):
        run_dir = workdir.parent.parent
        hit = trial.config_id in self.on and calls(run_dir, trial.config_id, trial.budget)
        if trial.config_id in self.on and hit < self.times:
            (run_dir / "calls").mkdir(exist_ok=True)
            marker = f"{trial.config_id}-b{trial.budget:g}-{os.getpid()}-{time.time_ns()}"
            (run_dir / "calls" / marker).touch()
            if self.kind == "crash":
                os._exit(3)
            raise ERRORS[self.kind]()
        if self.big:
            workdir.mkdir(parents=True, exist_ok=True)
            (workdir / f"big-{trial.budget:g}.bin").write_bytes(b"\0" * self.big)
        return QuadraticObjective()(trial, workdir)


def rows(run_dir: Path):
    with Store.open(run_dir, readonly=True) as store:
        return store.evaluations()


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a real tmpfs of the given size at tmp_path/disk (skips where mounting is refused)."""
    mounted = []

    def mount(size: str) -> Path:
        target = tmp_path / f"disk{len(mounted)}"
        target.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
            capture_output=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Fill the disk holding ``folder`` until ``leave`` bytes are free."""
    import shutil

    filler = folder / "filler"
    with open(filler, "wb") as f:
        free = shutil.disk_usage(folder).free - leave
        if free > 0:
            f.write(b"\0" * free)
    return filler


def test_classifier_separates_the_machine_from_the_config():
    full = RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos 768 vs 662")
    full.__context__ = OSError(errno.ENOSPC, "No space left on device")  # what torch.save raises
    assert environment_fault(full) == DISK_FULL
    assert environment_fault(ERRORS["eio"]()) == IO_ERROR
    assert environment_fault(MemoryError()) == OUT_OF_MEMORY
    assert environment_fault(RuntimeError("CUDA out of memory. Tried to allocate")) == OUT_OF_MEMORY
    assert environment_fault(ERRORS["value"]()) is None
    assert environment_fault(FloatingPointError("loss is nan")) is None


def test_injected_full_disk_stops_the_run_pending_and_resumable(tmp_path):
    with pytest.raises(EnvironmentFault, match="disk full while evaluating config 2") as err:
        run_optimizer(MiniHyperband(), Faulty("enospc", on={2}), tmp_path, settings=SETTINGS)
    assert "--resume" in str(err.value) and "not the config's" in str(err.value)
    statuses = {row.config_id: row.status for row in rows(tmp_path)}
    assert statuses == {0: OK, 1: OK, 2: PENDING}  # stopped at once, nothing charged to config 2
    assert calls(tmp_path, 2, 1) == 1  # a full disk is not retried
    summary = run_optimizer(
        MiniHyperband(), QuadraticObjective(), tmp_path, resume=True, settings=SETTINGS
    )
    assert summary.stopped == "finished" and summary.n_resubmitted == 1
    assert {row.status for row in rows(tmp_path)} == {OK}


def test_a_passing_io_error_is_retried_and_logged(tmp_path):
    events = []
    summary = run_optimizer(
        MiniHyperband(n_iterations=1),
        Faulty("eio", on={1}, times=2),
        tmp_path,
        settings=SETTINGS,
        on_event=lambda kind, payload: events.append((kind, payload)),
    )
    assert summary.stopped == "finished" and {row.status for row in rows(tmp_path)} == {OK}
    assert calls(tmp_path, 1, 1) == 3  # two faults, then the result
    warnings = [p["message"] for kind, p in events if kind == "warning"]
    assert len(warnings) == 2 and "I/O error" in warnings[0] and "retry 1 of 2" in warnings[0]


def test_a_lasting_io_error_stops_the_run_after_the_retries(tmp_path):
    with pytest.raises(
        EnvironmentFault,
        match=r"I/O error while evaluating config 1 at budget 1 \(3 attempts\): OSError",
    ):
        run_optimizer(MiniHyperband(), Faulty("eio", on={1}), tmp_path, settings=SETTINGS)
    assert calls(tmp_path, 1, 1) == 1 + runner.ENVIRONMENT_RETRIES
    assert [row.status for row in rows(tmp_path) if row.config_id == 1] == [PENDING]


def test_out_of_memory_on_every_attempt_is_recorded_as_the_configs_failure(tmp_path):
    summary = run_optimizer(
        MiniHyperband(n_iterations=1), Faulty("memory", on={3}), tmp_path, settings=SETTINGS
    )
    assert summary.stopped == "finished"
    (row,) = [row for row in rows(tmp_path) if row.config_id == 3]
    assert row.status == FAILED and "out of memory on all 3 attempts" in row.error
    assert calls(tmp_path, 3, 1) == 3


def test_a_config_error_is_recorded_at_once(tmp_path):
    run_optimizer(
        MiniHyperband(n_iterations=1), Faulty("value", on={0}), tmp_path, settings=SETTINGS
    )
    (row,) = [row for row in rows(tmp_path) if row.config_id == 0]
    assert row.status == FAILED and calls(tmp_path, 0, 1) == 1


def test_a_worker_that_died_once_is_re_run_in_a_new_worker(tmp_path):
    summary = run_optimizer(
        MiniHyperband(n_iterations=1),
        Faulty("crash", on={1}, times=1),
        tmp_path,
        workers=2,
        settings=SETTINGS,
    )
    assert summary.stopped == "finished" and {row.status for row in rows(tmp_path)} == {OK}
    assert calls(tmp_path, 1, 1) == 2


def test_a_worker_that_dies_every_time_is_recorded_as_crashed(tmp_path):
    run_optimizer(
        MiniHyperband(n_iterations=1),
        Faulty("crash", on={2}),
        tmp_path,
        workers=2,
        settings=SETTINGS,
    )
    (row,) = [row for row in rows(tmp_path) if row.config_id == 2]
    assert row.status == CRASHED and "on all 3 attempts" in row.error and "exit code 3" in row.error


def test_real_full_disk_stops_the_run_and_it_resumes_after_freeing_space(tmpfs, monkeypatch):
    disk = tmpfs("4m")
    run_dir = disk / "run"
    monkeypatch.setattr(runner, "MIN_FREE_BYTES", 0)  # let the checkpoint itself hit ENOSPC
    objective = Faulty("none", big=3 << 19)  # 1.5 MiB per evaluation
    with pytest.raises(EnvironmentFault, match="disk full while evaluating config 2"):
        run_optimizer(
            MiniHyperband(), objective, run_dir, settings=SETTINGS, prune_checkpoints=False
        )
    statuses = [row.status for row in rows(run_dir)]
    assert statuses == [OK, OK, PENDING]
    for big in run_dir.glob("trials/*/big-*.bin"):
        big.unlink()
    summary = run_optimizer(
        MiniHyperband(), QuadraticObjective(), run_dir, resume=True, settings=SETTINGS
    )
    assert summary.stopped == "finished" and {row.status for row in rows(run_dir)} == {OK}


def test_real_training_that_cannot_save_its_checkpoint_is_an_environment_fault(tmpfs, tmp_path):
    folder = tmp_path / "data"
    write_synthetic(folder, "tiny", n_classes=3, n_train=90, n_test=9, image_size=12)
    disk = tmpfs("1m")
    fill(disk, 0)
    objective = TrainingObjective(RunSettings(f"npz:{folder}", min_budget=1, max_budget=1))
    config = {**default_config("seed"), "batch_size": 32}
    result = objective(Trial(0, config, budget=1), disk / "trials" / "00000")
    assert result.status == ENVIRONMENT and result.metrics["fault"] == DISK_FULL, result.error


def test_a_nearly_full_disk_stops_before_any_evaluation(tmpfs):
    disk = tmpfs("12m")
    fill(disk, 3 << 20)
    with pytest.raises(EnvironmentFault, match=r"only \d\.\d MiB free on the disk holding"):
        run_optimizer(MiniHyperband(), QuadraticObjective(), disk / "run", settings=SETTINGS)
    assert rows(disk / "run") == []


def test_a_full_disk_under_the_store_is_a_clean_stop_and_the_store_stays_intact(tmpfs):
    disk = tmpfs("2m")
    store = Store.open(disk / "run", create=True, settings=SETTINGS)
    trial = Trial(0, {"x": 0.5}, 1.0)
    store.record_ask(trial)
    filler = fill(disk, 0)
    with pytest.raises(EnvironmentFault, match="disk holding .* is full"):
        for i in range(1, 2000):  # the WAL grows until the disk is full
            store.record_ask(Trial(i, {"x": "y" * 4000}, 1.0))
    store.close()
    filler.unlink()
    with Store.open(disk / "run") as reopened:
        evaluations = reopened.evaluations()
        assert evaluations[0].config_id == 0 and all(e.status == PENDING for e in evaluations)
        assert len(reopened.events()) == len(evaluations)  # no half-written event


def test_cli_on_a_nearly_full_disk_exits_2_with_a_message(tmpfs, tmp_path):
    folder = tmp_path / "data"
    write_synthetic(folder, "small", n_classes=3, n_train=60, n_test=9, image_size=12)
    disk = tmpfs("3m")
    fill(disk, 1 << 20)
    command = [
        sys.executable, "-m", "autocnn.cli", "optimize", "--dataset", f"npz:{folder}",
        "--space", "seed", "--min-budget", "1", "--max-budget", "3", "--iterations", "4",
        "--workers", "1", "--out", str(disk / "run"), "--quiet",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "MiB free on the disk holding" in done.stderr and "Traceback" not in done.stderr
    assert rows(disk / "run") == []
