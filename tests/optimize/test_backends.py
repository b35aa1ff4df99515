"""Serial and process backends: same results, failures and crashed workers do not stop a run."""

from __future__ import annotations

import os
import sys

from test_runner import PER_ITERATION, MiniHyperband, QuadraticObjective, outcome

from autocnn.optimize.backends import Backend, ProcessBackend, SerialBackend
from autocnn.optimize.runner import run_optimizer
from autocnn.optimize.store import Store
from autocnn.optimize.trial import Result, Trial


def test_serial_and_process_backends_give_the_same_results(tmp_path):
    serial = run_optimizer(MiniHyperband(n_iterations=2), QuadraticObjective(), tmp_path / "s")
    parallel = run_optimizer(
        MiniHyperband(n_iterations=2), QuadraticObjective(sleep=0.01), tmp_path / "p", workers=2
    )
    assert serial.n_evaluations == parallel.n_evaluations == 2 * PER_ITERATION
    # completion order may differ between workers; the evaluations themselves may not
    assert sorted(outcome(tmp_path / "s")) == sorted(outcome(tmp_path / "p"))
    assert serial.incumbent == parallel.incumbent
    with Store.open(tmp_path / "p", readonly=True) as store:
        workers = {e.worker for e in store.evaluations()}
    assert workers <= {"worker-0", "worker-1"} and len(workers) == 2


def test_both_backends_follow_the_protocol():
    objective = QuadraticObjective()
    serial = SerialBackend(objective)
    assert isinstance(serial, Backend)
    assert serial.n_free == 1 and serial.wait() == []


def test_crashed_workers_are_replaced_and_the_run_completes(tmp_path):
    objective = QuadraticObjective(sleep=0.01, crash_on={1}, sigkill_on={5})
    summary = run_optimizer(MiniHyperband(n_iterations=2), objective, tmp_path, workers=2)
    assert summary.stopped == "finished"
    assert summary.n_evaluations == 2 * PER_ITERATION
    with Store.open(tmp_path, readonly=True) as store:
        crashed = {e.config_id: e.error for e in store.evaluations(status="crashed")}
        ok = store.evaluations(status="ok")
    assert set(crashed) == {1, 5}
    assert "exit code 3" in crashed[1] and "config 1 at budget 1" in crashed[1]
    assert "killed by SIGKILL" in crashed[5]
    assert len(ok) == 2 * PER_ITERATION - 2


def test_process_backend_reports_failures_and_crashes_directly(tmp_path):
    trials = [Trial(i, {"x": 0.1 * i, "y": 0.0, "kind": "a"}, 1.0) for i in range(3)]
    with ProcessBackend(QuadraticObjective(fail_on={1}, crash_on={2}), workers=2) as backend:
        assert backend.n_free == 2
        backend.submit(trials[0], tmp_path / "0")
        backend.submit(trials[1], tmp_path / "1")
        assert backend.n_free == 0
        done = []
        while len(done) < 2:
            done += backend.wait(timeout=30)
        backend.submit(trials[2], tmp_path / "2")
        while len(done) < 3:
            done += backend.wait(timeout=30)
        by_id = {trial.config_id: result for trial, result in done}
        assert by_id[0].ok and by_id[0].loss == QuadraticObjective()(trials[0], tmp_path).loss
        assert by_id[1].status == "failed" and "ValueError: config 1 is broken" in by_id[1].error
        assert by_id[2].status == "crashed" and backend.n_replaced == 1
        assert backend.n_free == 2  # the replacement worker takes work again
        backend.submit(trials[0], tmp_path / "again")
        assert backend.wait(timeout=30)[0][1].ok
        processes = [worker.process for worker in backend._workers]
    assert all(not process.is_alive() for process in processes)
    assert os.getpid() not in {p.pid for p in processes}


class TorchThreadsObjective:
    """Reports the thread count torch uses inside the worker (imports torch on first call)."""

    def __call__(self, trial: Trial, workdir) -> Result:
        import torch

        return Result("ok", loss=0.0, metrics={"threads": torch.get_num_threads()})


def test_workers_share_the_cores_between_them(tmp_path):
    cores = os.cpu_count() or 1
    with ProcessBackend(TorchThreadsObjective(), workers=2) as backend:
        assert backend.threads == max(1, cores // 2)
        backend.submit(Trial(0, {}, 1.0), tmp_path)
        [(_, result)] = backend.wait(timeout=60)
    assert result.metrics["threads"] == max(1, cores // 2)


class EnvironmentObjective:
    """Reports an environment variable and the working folder as the worker sees them."""

    def __call__(self, trial: Trial, workdir) -> Result:
        return Result("ok", loss=0.0, metrics={"env": os.environ.get("AUTOCNN_TEST_VALUE"),
                                               "cwd": os.getcwd()})  # fmt: skip


def test_workers_see_the_runners_environment_and_folder_of_now(tmp_path, monkeypatch):
    from autocnn.optimize.backends import default_start_method

    # a fork server started by an earlier backend has the environment of then; workers must not
    for value in ("first", "second"):
        monkeypatch.setenv("AUTOCNN_TEST_VALUE", value)
        (tmp_path / value).mkdir()
        monkeypatch.chdir(tmp_path / value)
        with ProcessBackend(EnvironmentObjective(), workers=1) as backend:
            backend.submit(Trial(0, {}, 1.0), tmp_path / value)
            result = backend.wait(timeout=60)[0][1]
        assert result.metrics == {"env": value, "cwd": str(tmp_path / value)}, result
    if sys.platform.startswith("linux"):
        assert default_start_method() == "forkserver"
