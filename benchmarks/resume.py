"""How long a resumed run takes to start: from an optimizer snapshot vs a full replay of the log.

Builds (or extends) a run store of ``--evaluations`` finished evaluations of BOHB (TPE model,
seed space, budgets 1-9, eta 3) on the ``SyntheticObjective``, the way the runner writes one
(``record_ask``, ``record_tell``, then ``tell``; a snapshot every ``SNAPSHOT_EVERY`` events) with
``--pending`` trials always running, so the resumed run has that many to resubmit. It stops as a
kill at the worst moment would: ``SNAPSHOT_EVERY - 1`` events after the newest snapshot, all of
which a resume replays. A build can be split over several calls (``--chunk``): each continues
the store from its newest snapshot.

Then it times ``run_optimizer(resume=True)`` on a copy of the run folder, from the call to the
first NEW ask (after the replay; the resubmitted evaluations are not waited for: the call stops at
that ask, ``max_evaluations``), once as stored (snapshot + the events after it) and, with
``--full-replay``, once with the snapshots deleted (the full replay every resume did before).

Usage::

    python benchmarks/resume.py --run /tmp/resume-10k --evaluations 10000 --full-replay
    python benchmarks/resume.py --run /tmp/resume-100k --evaluations 100000 --chunk 20000 \
        --build-only   # repeat until built, then without --build-only

Prints one JSON line per measurement (and appends it to ``--out`` if given).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from autocnn.optimize import replay as replay_module
from autocnn.optimize.methods import make_optimizer
from autocnn.optimize.replay import SnapshotWriter, replay
from autocnn.optimize.runner import run_optimizer
from autocnn.optimize.store import Store
from autocnn.optimize.synthetic import SyntheticObjective
from autocnn.space import get_space

SPACE = get_space("seed")
OBJECTIVE = SyntheticObjective(SPACE, 9.0, seed=0)
SETTINGS = {"benchmark": "resume", "method": "bohb", "seed": 0}


def build_optimizer(method: str) -> Any:
    return make_optimizer(method, SPACE, min_budget=1.0, max_budget=9.0, seed=0)


def build(run_dir: Path, method: str, evaluations: int, pending: int, chunk: int) -> dict:
    """Extend the store in ``run_dir`` by up to ``chunk`` results, towards ``evaluations``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    optimizer = build_optimizer(method)
    exists = (run_dir / "run.db").exists()
    settings = {**SETTINGS, "method": method, "optimizer": optimizer.settings}
    store = Store.open(run_dir / "run.db", create=not exists, settings=settings)
    running = replay(store, optimizer) if exists else []
    done = store.count(done_only=True)
    target = min(evaluations, done + chunk)
    writer = SnapshotWriter(store, optimizer)
    write_ms: list[float] = []
    started = time.perf_counter()

    def step() -> None:  # one ask (while fewer than ``pending`` run) or one tell
        nonlocal done
        if len(running) < pending:
            trial = optimizer.ask()
            running.append((store.record_ask(trial), trial))
            writer.count()
            return
        evaluation_id, trial = running.pop(0)  # first in, first out
        result = OBJECTIVE.result(trial)
        store.record_tell(evaluation_id, result, worker="w")
        optimizer.tell(trial, result)
        done += 1
        writer.count()
        if writer.events >= writer.every:
            t = time.perf_counter()
            writer.write()
            write_ms.append(1000 * (time.perf_counter() - t))

    while done < target or len(running) < pending:
        step()
    # the worst case for a resume: killed just before the next snapshot was due
    while writer.events < writer.every - 1:
        step()
    size = len(store.snapshots()[0][1])
    store.close()
    return {
        "what": "build",
        "evaluations": done,
        "seconds": round(time.perf_counter() - started, 1),
        "snapshots_written": len(write_ms),
        "snapshot_write_ms_mean": round(statistics.fmean(write_ms), 2) if write_ms else None,
        "snapshot_write_ms_max": round(max(write_ms), 2) if write_ms else None,
        "snapshot_bytes": size,
    }


class FirstNewAsk:
    """The optimizer, noting the time of its first ask after the runner's "start" event."""

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        self.replay_asks = 0
        self.started: float | None = None  # the runner's start event: replay done
        self.first_ask: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)

    def ask(self) -> Any:
        if self.started is None:
            self.replay_asks += 1
        elif self.first_ask is None:
            self.first_ask = time.perf_counter()
        return self.optimizer.ask()


def time_resume(run_dir: Path, method: str, snapshots: bool) -> dict:
    with tempfile.TemporaryDirectory(dir=run_dir.parent) as folder:
        copy = Path(folder) / "run"
        shutil.copytree(run_dir, copy)
        if not snapshots:
            with sqlite3.connect(copy / "run.db") as db:
                db.execute("DELETE FROM snapshots")
        with Store.open(copy, readonly=True) as store:
            n_asked, events, seq = store.count(), store.last_seq(), store.snapshot_seq()
        replay_module.SNAPSHOT_EVERY = 10**9  # measure the resume, not a snapshot after it
        call = time.perf_counter()
        optimizer = FirstNewAsk(build_optimizer(method))

        def on_event(kind: str, payload: dict) -> None:
            if kind == "start":
                optimizer.started = time.perf_counter()

        summary = run_optimizer(
            optimizer, OBJECTIVE, copy, resume=True, max_evaluations=n_asked + 1,
            settings=SETTINGS | {"method": method}, on_event=on_event,
        )  # fmt: skip
        end = time.perf_counter()
    assert optimizer.first_ask is not None and optimizer.started is not None
    return {
        "what": "resume from snapshot" if snapshots else "resume by full replay",
        "evaluations": n_asked,
        "events": events,
        "events_after_snapshot": events - seq if snapshots else events,
        "replayed_asks": optimizer.replay_asks,
        "resubmitted": summary.n_resubmitted,
        "call_to_replayed_s": round(optimizer.started - call, 3),
        "call_to_first_new_ask_s": round(optimizer.first_ask - call, 3),
        "whole_call_s": round(end - call, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder (built if needed)")
    parser.add_argument("--evaluations", type=int, default=10_000)
    parser.add_argument("--pending", type=int, default=32)
    parser.add_argument("--method", default="bohb")
    parser.add_argument("--chunk", type=int, default=10**9, help="results to add per call")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--full-replay", action="store_true", help="also time a full replay")
    parser.add_argument("--out", type=Path, help="append the JSON lines here")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    context = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": commit,
               "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}  # fmt: skip
    rows = []
    done = 0
    if (args.run / "run.db").exists():
        with Store.open(args.run, readonly=True) as store:
            done = store.count(done_only=True)
    if done < args.evaluations:
        rows.append(build(args.run, args.method, args.evaluations, args.pending, args.chunk))
    if not args.build_only:
        rows.append(time_resume(args.run, args.method, snapshots=True))
        if args.full_replay:
            rows.append(time_resume(args.run, args.method, snapshots=False))
    for row in rows:
        line = json.dumps({**context, "method": args.method, **row})
        print(line, flush=True)
        if args.out is not None:
            with args.out.open("a") as out:
                out.write(line + "\n")


if __name__ == "__main__":
    main()
