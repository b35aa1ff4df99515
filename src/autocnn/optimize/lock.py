"""One owner per run folder: an OS file lock on ``RUN/run.lock`` held while a run writes.

A second ``optimize`` or ``--resume`` on a run that a live process owns would re-run its
in-flight evaluations and later die on "evaluation N is not pending". The lock refuses it up
front, naming the owner (pid, host, since when). ``flock`` is released by the kernel when its
owner dies, even by ``kill -9``, so a stale lock never needs cleaning: the file's content is
only the owner's description (emptied on release; a killed owner's stays, and a refused
process skips it because its pid is dead). ``status`` and ``report`` read the store and never
lock.

Example::

    with RunLock(run_dir):
        ...  # write the run store
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from autocnn.errors import RunError
from autocnn.optimize.folder import LOCK_NAME


class RunLock:
    """Exclusive, non-blocking ownership of a run folder (see the module docstring)."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise RunError naming the process that holds it."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_holder(fd)
            os.close(fd)
            if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise RunError(
                    f"cannot lock {self.path} ({error}); the file system does not support "
                    "locks: use a run folder on a local disk"
                ) from error
            raise RunError(
                f"{self.run_dir} is in use by {_describe(holder)}: a run has one owner at a "
                f"time. Wait for it to finish or stop it (kill -TERM {holder.get('pid', 'PID')})"
                f", then resume; 'autocnn status {self.run_dir}' reads it meanwhile."
            ) from None
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        text = json.dumps(owner).encode()
        os.pwrite(fd, text, 0)  # then cut: a reader never sees an empty file in between
        os.ftruncate(fd, len(text))
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (the file stays: removing it would race with a new owner)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            # emptied first: a process refused by the next owner, before that owner wrote its
            # own description, would otherwise name this one, still alive, as the holder
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int, patience: float = 1.0) -> dict:
    """The holder's description. A lock taken a moment ago may still show the previous owner
    (a dead pid on this host) or a half-written one: read again for up to ``patience`` s."""
    deadline = time.monotonic() + patience
    while True:
        holder = _read(fd)
        if _current(holder) or time.monotonic() >= deadline:
            return holder
        time.sleep(0.01)


def _current(holder: dict) -> bool:
    """Whether ``holder`` can be the live owner (always, for another host's pid)."""
    pid = holder.get("pid")
    if not pid:
        return False
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):
        return True  # alive but not ours to signal, or not a number: show what it says
    return True


def _read(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}


def _describe(owner: dict) -> str:
    if not owner.get("pid"):
        return "another process (it is starting)"
    since = owner.get("since")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(since)) if since else ""
    return f"process {owner['pid']} on host {owner.get('host', '?')}{when}"
