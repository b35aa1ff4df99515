"""SIGTERM and kill -9 (issue #15 item 5): a terminated run says so, exits 143 and leaves its
running evaluations pending; no worker outlives the run, even after kill -9 of the runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autocnn.data import write_synthetic
from autocnn.errors import RunError
from autocnn.optimize.lock import RunLock
from autocnn.optimize.store import PENDING, Store

OPTIMIZE_DIR = Path(__file__).parent / "optimize"


def alive(pid: int) -> bool:
    """Running (a zombie no one reaped yet counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> list[int]:
    """Every live descendant of ``pid``: forkserver workers are grandchildren of the runner."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found.extend(sorted(frontier))
    return found


def running_rows(run_dir: Path) -> list:
    try:
        with Store.open(run_dir, readonly=True) as store:
            return [r for r in store.evaluations() if r.status == PENDING and r.started]
    except RunError:  # not created yet
        return []


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@pytest.fixture
def reap():
    processes: list[int] = []
    yield processes
    for pid in processes:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_sigterm_stops_the_cli_with_a_message_and_no_worker_survives(tmp_path, reap, wait_for):
    folder = tmp_path / "data"
    write_synthetic(folder, "small", n_classes=3, n_train=600, n_test=30, image_size=16)
    run_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "autocnn.cli", "optimize", "--dataset", f"npz:{folder}",
        "--min-budget", "3", "--max-budget", "9", "--iterations", "1", "--workers", "2",
        "--out", str(run_dir), "--quiet",
    ]  # fmt: skip
    cli = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    reap.append(cli.pid)
    wait_for(lambda: len(running_rows(run_dir)) == 2, "two running evaluations")
    workers = children(cli.pid)
    reap.extend(workers)
    assert len(workers) >= 2
    cli.send_signal(signal.SIGTERM)
    _, stderr = cli.communicate(timeout=120)
    assert cli.returncode == 143, stderr
    assert "terminated (SIGTERM)" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    wait_for(lambda: not any(alive(pid) for pid in workers), "the workers to exit", 60)
    with Store.open(run_dir, readonly=True) as store:  # recorded as pending, nothing blamed
        statuses = {row.status for row in store.evaluations()}
    assert PENDING in statuses and not statuses & {"failed", "crashed"}
    assert len(running_rows(run_dir)) >= 1
    with RunLock(run_dir):  # the run is free for a resume
        pass


SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_runner import MiniHyperband, QuadraticObjective
from autocnn.optimize.runner import run_optimizer
run_optimizer(MiniHyperband(), QuadraticObjective(sleep=600), Path({run_dir!r}), workers=2,
              settings={{"method": "mini", "seed": 0}})
"""


def test_workers_die_with_their_runner_after_kill_9(tmp_path, reap, wait_for):
    run_dir = tmp_path / "run"
    script = SCRIPT.format(tests=str(OPTIMIZE_DIR), run_dir=str(run_dir))
    runner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    reap.append(runner.pid)
    markers = run_dir / "calls"  # QuadraticObjective leaves {config}-b{budget}-{pid}-{ns}
    wait_for(lambda: markers.exists() and len(list(markers.iterdir())) == 2, "two evaluations")
    workers = [int(marker.name.split("-")[2]) for marker in markers.iterdir()]
    reap.extend(workers)
    assert all(alive(pid) for pid in workers)  # each sleeps 600 s in its evaluation
    runner.kill()
    runner.wait()
    wait_for(lambda: not any(alive(pid) for pid in workers), "the orphaned workers to exit", 60)
