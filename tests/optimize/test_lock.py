"""One owner per run (issue #15 item 4): a second optimize/resume of a live run is refused with
the owner's pid and host; a run whose owner died (even by kill -9) resumes; status reads it."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_runner import MiniHyperband, QuadraticObjective

from autocnn.errors import RunError
from autocnn.optimize.folder import LOCK_NAME
from autocnn.optimize.lock import RunLock
from autocnn.optimize.runner import run_optimizer, summarize
from autocnn.optimize.store import PENDING, Store

SETTINGS = {"method": "mini", "seed": 0}
OWNER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_runner import MiniHyperband, QuadraticObjective
from autocnn.errors import RunError
from autocnn.optimize.runner import run_optimizer
run_dir = Path({run_dir!r})
(run_dir.parent / "ready-{name}").touch()
while not (run_dir.parent / "go").exists():
    time.sleep(0.01)
try:
    run_optimizer(MiniHyperband(), QuadraticObjective(sleep={sleep}), run_dir,
                  resume={resume}, settings={settings!r})
except RunError as error:
    print(error, file=sys.stderr)
    sys.exit(2)
"""


def start(run_dir: Path, name: str, resume: bool, sleep: float = 0.5) -> subprocess.Popen:
    script = OWNER.format(
        tests=str(Path(__file__).parent),
        run_dir=str(run_dir),
        name=name,
        resume=resume,
        sleep=sleep,
        settings=SETTINGS,
    )
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], stderr=subprocess.PIPE, text=True
    )


def started(run_dir: Path) -> bool:
    if not (run_dir / "run.db").exists():
        return False
    try:
        with Store.open(run_dir, readonly=True) as store:
            return any(row.started is not None for row in store.evaluations())
    except RunError:  # caught while the owner creates it
        return False


@pytest.fixture
def processes():
    running: list[subprocess.Popen] = []
    yield running
    for process in running:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stderr.close()


def test_the_lock_names_its_owner_and_is_free_again_after_release(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunError) as err:
            RunLock(tmp_path).acquire()
        message = str(err.value)
        assert f"process {os.getpid()} on host {socket.gethostname()}" in message
        assert "autocnn status" in message
    with RunLock(tmp_path):  # released: the next owner gets it
        pass


def test_a_released_owner_is_never_named_as_the_holder(tmp_path):
    """Between a new owner's flock and its description, a refused process must not name the
    previous owner, alive but no longer holding the lock (two resumes beside a run just
    finished in this process once named this process)."""
    with RunLock(tmp_path):
        pass
    assert (tmp_path / LOCK_NAME).read_text() == ""  # emptied on release
    fd = os.open(tmp_path / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new owner, not yet described
        with pytest.raises(RunError, match=r"in use by another process \(it is starting\)"):
            RunLock(tmp_path).acquire()
    finally:
        os.close(fd)


def test_a_live_run_refuses_a_resume_and_a_killed_one_resumes(tmp_path, processes, wait_for):
    run_dir = tmp_path / "run"
    (tmp_path / "go").touch()
    owner = start(run_dir, "owner", resume=False)
    processes.append(owner)
    wait_for(lambda: started(run_dir), "the owner's first evaluation")
    with pytest.raises(RunError, match=f"in use by process {owner.pid} on host"):
        run_optimizer(
            MiniHyperband(), QuadraticObjective(), run_dir, resume=True, settings=SETTINGS
        )
    with pytest.raises(RunError, match="already holds a run"):  # nor may a new run take it
        run_optimizer(MiniHyperband(), QuadraticObjective(), run_dir, settings=SETTINGS)
    assert summarize(run_dir).counts[PENDING] >= 1  # status reads a locked run
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    summary = run_optimizer(  # the dead owner's lock is gone with it: no stale lock to clean
        MiniHyperband(), QuadraticObjective(), run_dir, resume=True, settings=SETTINGS
    )
    assert summary.stopped == "finished"
    with Store.open(run_dir, readonly=True) as store:
        assert {row.status for row in store.evaluations()} == {"ok"}


def test_two_resumes_at_once_one_runs_the_other_is_refused(tmp_path, processes, wait_for):
    run_dir = tmp_path / "run"
    run_optimizer(
        MiniHyperband(), QuadraticObjective(), run_dir, settings=SETTINGS, max_evaluations=2
    )
    for name in ("a", "b"):
        processes.append(start(run_dir, name, resume=True, sleep=1.0))
    wait_for(lambda: all((tmp_path / f"ready-{n}").exists() for n in "ab"), "both resumes ready")
    (tmp_path / "go").touch()
    wait_for(lambda: any(p.poll() is not None for p in processes), "one resume to be refused")
    refused = [p for p in processes if p.poll() is not None]
    assert len(refused) == 1 and refused[0].returncode == 2
    other = next(p for p in processes if p is not refused[0])
    assert f"in use by process {other.pid}" in refused[0].communicate()[1]
    assert other.poll() is None  # the winner still runs, undisturbed
