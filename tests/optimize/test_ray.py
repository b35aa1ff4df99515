"""The Ray backend on a real two-node local Ray cluster (loopback only): a study, worker deaths,
a killed and resumed driver. Tests that need Ray are skipped, with the reason, without it.

One module-scoped cluster (Ray's start-up is slow): two nodes with one CPU each, stopped by the
fixture's finalizer even when a test fails (``Cluster.shutdown`` ends exactly the processes it
started).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from autocnn.data import write_synthetic
from autocnn.errors import ConfigError, RunError
from autocnn.optimize.run import optimize
from autocnn.optimize.store import STORE_NAME, Store
from autocnn.optimize.trial import Result, Trial

HAS_RAY = importlib.util.find_spec("ray") is not None
# Ray's nodes talk over the machine's own interface address, not loopback (Ray replaces
# 127.0.0.1 by the address it detects): the cluster tests run only when asked for.
RUN_CLUSTER = os.environ.get("AUTOCNN_TEST_RAY_CLUSTER") == "1"
needs_ray = pytest.mark.skipif(
    not (HAS_RAY and RUN_CLUSTER),
    reason="needs ray (pip install -e '.[ray]') and AUTOCNN_TEST_RAY_CLUSTER=1: the two-node "
    "cluster binds the machine's own interface address, not loopback",
)
REPO = Path(__file__).resolve().parents[2]
TINY = {"min_budget": 0.1, "max_budget": 0.3, "eta": 3, "seed": 0}  # 6 evaluations, 2 brackets


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("syn")
    write_synthetic(directory, prefix="k49", n_classes=10, n_train=600, n_test=100, seed=0)
    return directory


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node, one CPU each, on this machine."""
    ray = pytest.importorskip("ray", reason="ray is not installed")
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in ("RAY_USAGE_STATS_ENABLED", "OMP_NUM_THREADS")}
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # no phoning home from a test
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the nodes' workers: 2 cores in all
    # Both nodes on this machine, at its own address (Ray rewrites 127.0.0.1 to it anyway).
    head = {"num_cpus": 1, "include_dashboard": False}
    nodes = Cluster(initialize_head=True, head_node_args=head)
    try:
        nodes.add_node(num_cpus=1)
        nodes.wait_for_nodes()
        yield nodes
    finally:
        if ray.is_initialized():
            ray.shutdown()
        nodes.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def evaluations(run_dir: Path) -> list:
    with Store.open(run_dir / STORE_NAME, readonly=True) as store:
        return store.evaluations()


# ---------------------------------------------------------------- without a cluster


def test_bad_backend_options_fail_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="unknown backend 'spark'"):
        optimize("kmnist10k", out=out, backend="spark")
    with pytest.raises(ConfigError, match="--address is for the Ray backend"):
        optimize("kmnist10k", out=out, address="auto")
    with pytest.raises(ConfigError, match="--storage is for the Ray backend"):
        optimize("kmnist10k", out=out, storage=tmp_path / "shared")
    assert not out.exists()


def test_cli_rejects_unknown_backend(capsys):
    from autocnn.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["optimize", "--dataset", "kmnist10k", "--out", "x", "--backend", "spark"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'spark'" in capsys.readouterr().err


def test_missing_ray_says_how_to_install(monkeypatch):
    from autocnn.optimize.ray_backend import RayBackend

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when it is absent
    with pytest.raises(RunError, match=r"pip install 'autocnn\[ray\]'"):
        RayBackend(lambda trial, workdir: None)


def test_local_backend_never_imports_ray(tmp_path, synthetic_dir):
    script = (
        "import sys, torch; torch.set_num_threads(1)\n"
        "from autocnn import api, cli\n"
        f"s = api.optimize('npz:{synthetic_dir}', out={str(tmp_path / 'run')!r}, "
        "min_budget=0.1, max_budget=0.3, max_evaluations=1)\n"
        "assert s.counts['ok'] == 1, s.counts\n"
        "print('ray' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_storage_link(tmp_path):
    from autocnn.optimize.ray_backend import prepare_storage

    run, shared = tmp_path / "run", tmp_path / "shared"
    assert prepare_storage(run, None) == run.resolve() / "trials"
    assert prepare_storage(run, run) == run.resolve() / "trials"
    assert not (run / "trials").exists()  # the default touches nothing
    target = prepare_storage(run, shared)
    assert target == shared.resolve() / "trials" and (run / "trials").is_symlink()
    (run / "trials" / "00000").mkdir()  # written through the link, lands in the storage
    assert (shared / "trials" / "00000").is_dir()
    assert prepare_storage(run, shared) == target  # a resume with the same storage
    with pytest.raises(RunError, match="resume with --storage"):
        prepare_storage(run, tmp_path / "elsewhere")
    with pytest.raises(RunError, match="another run"):
        prepare_storage(tmp_path / "run2", shared)  # shared/trials is not empty
    (tmp_path / "run3" / "trials").mkdir(parents=True)
    with pytest.raises(RunError, match="already holds this run's checkpoints"):
        prepare_storage(tmp_path / "run3", tmp_path / "shared3")


# ---------------------------------------------------------------- on the two-node cluster


@needs_ray
def test_study_on_two_nodes_with_shared_storage(cluster, tmp_path, synthetic_dir, monkeypatch):
    run, shared = tmp_path / "run", tmp_path / "shared"
    # A path relative to the driver's folder: workers (elsewhere) can only have the data from
    # the object store, not from the files.
    monkeypatch.chdir(synthetic_dir.parent)
    summary = optimize(
        f"npz:{synthetic_dir.name}",
        out=run,
        iterations=2,
        backend="ray",
        address=cluster.address,
        storage=shared,
        **TINY,
    )
    assert summary.stopped == "finished"
    assert summary.counts["ok"] == summary.n_evaluations == 6
    rows = evaluations(run)
    nodes = {row.worker.split("/")[1] for row in rows}
    assert all(row.worker.startswith("ray:") for row in rows)
    assert len(nodes) == 2, f"both nodes should have evaluated, got {nodes}"
    # The promoted config continued from the checkpoint its first stage left on the storage.
    promoted = [row for row in rows if row.previous_budget is not None]
    assert promoted and all(row.metrics["continued_from"] > 0 for row in promoted)
    assert (run / "trials").is_symlink() and any((shared / "trials").glob("*/budget-*.pt"))
    assert json.loads((run / "incumbent.json").read_text())["loss"] == summary.best_loss


@dataclass(frozen=True)
class Crashing:
    """A cheap objective whose worker dies on purpose: ``die_once`` exits on its first attempt
    at the first budget,
    ``die_always`` SIGKILLs itself on every attempt, ``raise_on`` raises (an objective error)."""

    calls: str
    die_once: int = 0
    die_always: int = 1
    raise_on: int = 2

    def __call__(self, trial: Trial, workdir: Path) -> Result:
        marker = Path(self.calls) / f"{trial.config_id}-b{trial.budget:g}-{os.getpid()}"
        attempts = len(list(Path(self.calls).glob(f"{trial.config_id}-b{trial.budget:g}-*")))
        marker.touch()
        if trial.config_id == self.die_always:
            os.kill(os.getpid(), signal.SIGKILL)
        if trial.config_id == self.die_once and trial.previous_budget is None and attempts == 0:
            os._exit(3)
        if trial.config_id == self.raise_on:
            raise ValueError("a broken config")
        loss = (trial.config_id % 5) / 10 + 1 / trial.budget
        return Result("ok", loss=loss, seconds=0.01, cost=trial.budget)


@needs_ray
def test_dead_workers_are_retried_then_recorded_as_crashed(cluster, tmp_path):
    import ray.cloudpickle

    from autocnn.optimize.bohb import make_optimizer
    from autocnn.optimize.ray_backend import RayBackend
    from autocnn.optimize.runner import run_optimizer
    from autocnn.optimize.synthetic import conditional_space

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests
    calls = tmp_path / "calls"
    calls.mkdir()
    optimizer = make_optimizer(
        "hyperband", conditional_space(seed=0), min_budget=1, max_budget=9, n_iterations=1, seed=0
    )
    objective = Crashing(str(calls))
    with RayBackend(objective, address=cluster.address, max_retries=1) as backend:
        summary = run_optimizer(optimizer, objective, tmp_path / "run", backend=backend)
        assert backend.n_retried == 2  # die_once once, die_always once (then it gave up)
    assert summary.stopped == "finished"
    rows = {(row.config_id, row.budget): row for row in evaluations(tmp_path / "run")}
    assert len(rows) == summary.n_evaluations == 13  # every evaluation accounted for, once
    assert all(row.done for row in rows.values())
    attempts = {key: len(list(calls.glob(f"{key[0]}-b{key[1]:g}-*"))) for key in rows}

    always = rows[(1, 1.0)]
    assert always.status == "crashed" and attempts[(1, 1.0)] == 2
    assert "crashed 2 times (--max-retries 1)" in always.error
    assert "attempt 1: WorkerCrashedError" in always.error and "attempt 2:" in always.error

    once = rows[(0, 1.0)]
    assert once.status == "ok" and attempts[(0, 1.0)] == 2 and once.metrics["attempts"] == 2

    raised = rows[(2, 1.0)]
    assert raised.status == "failed" and "ValueError: a broken config" in raised.error
    assert attempts[(2, 1.0)] == 1  # an objective's error is not retried
    others = [key for key in rows if key not in {(0, 1.0), (1, 1.0), (2, 1.0)}]
    assert all(rows[key].status == "ok" and attempts[key] == 1 for key in others)


@needs_ray
def test_cluster_without_gpus_refuses_gpu_trials(cluster):
    from autocnn.optimize.ray_backend import RayBackend

    with pytest.raises(RunError, match="cannot run one trial needing 1 CPUs and 1 GPUs"):
        RayBackend(lambda trial, workdir: None, address=cluster.address, gpus_per_trial=1)


@needs_ray
def test_killed_driver_resumes_without_rerunning(cluster, tmp_path, synthetic_dir):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "autocnn.cli", "optimize", "--dataset"]
    command += [f"npz:{synthetic_dir}", "--min-budget", "0.1", "--max-budget", "0.3"]
    command += ["--iterations", "2", "--backend", "ray", "--address", cluster.address]
    command += ["--out", str(run), "--quiet"]
    driver = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and driver.poll() is None:
            if (run / STORE_NAME).exists():
                try:
                    if sum(row.done for row in evaluations(run)) >= 2:
                        break
                except RunError:
                    pass  # the driver is still creating the database
            time.sleep(0.05)
        assert driver.poll() is None, f"the driver ended before the kill: {driver.stderr.read()}"
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait()
    before = {row.id: row for row in evaluations(run) if row.done}
    assert len(before) >= 2

    summary = optimize(out=run, resume=True, backend="ray", address=cluster.address)
    after = evaluations(run)
    assert summary.stopped == "finished" and summary.n_evaluations == len(after) == 6
    assert summary.n_this_call == 6 - len(before)  # nothing finished was run again
    for row in after:
        assert row.done and row.status == "ok"
        if row.id in before:  # kept exactly as the killed driver recorded it
            assert (row.loss, row.worker, row.finished) == (
                before[row.id].loss,
                before[row.id].worker,
                before[row.id].finished,
            )
