"""Were the runs a search stopped as "not learning" dead? Train them again without the stop.

For every evaluation of the given search run folders that ended with the trainer's not-learning
stop (``autocnn.train.trainer.not_learning``), this trains the same config at the same budget
with the run's own settings and the stop off, on ``--workers`` one-thread processes (as the
searches ran), and prints per run: where the stop judged it (epoch, share of the budget's time
used), its validation error there, the error it reached with its whole budget, and how that
ranks among the evaluations of the same budget in the search (a run that would have ranked in
its rung's top third would have been promoted). With ``--fidelity time`` the learning rate
follows the time used, so the share of the budget is also the schedule's progress.

    python benchmarks/not_learning_stops.py /work/out/s19/OUT2/seed-2 ... --out stops.jsonl

``--stop`` trains them with the trainer's current stop on instead: which of them it stops now,
and after how much of their budget.

A search's run folder is ``FIT/search`` for a fit; pass the fit's folder or the search's.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

from autocnn.optimize.backends import ProcessBackend
from autocnn.optimize.evaluate import TrainingObjective
from autocnn.optimize.folder import RunFolder
from autocnn.optimize.run import stored_run_settings
from autocnn.optimize.store import Store

STOPPED = "not learning"


def stopped_runs(folder: RunFolder) -> list[dict]:
    """The evaluations the not-learning stop ended, with what the search recorded of them."""
    rows = []
    with Store.open(folder.require("read").db, readonly=True) as store:
        evaluations = store.evaluations()
        for row in evaluations:
            if not (row.error or "").startswith(STOPPED):
                continue
            peers = [
                e.loss for e in evaluations
                if e.budget == row.budget and e.id != row.id and e.loss is not None
                and math.isfinite(e.loss)
            ]  # fmt: skip
            history = (row.metrics or {}).get("history") or []
            judged = history[-1] if history else {}
            rows.append({
                "run": str(folder.path), "evaluation": row.id, "config_id": row.config_id,
                "budget": row.budget, "trial": store.trial(row.id), "peers": sorted(peers),
                "judged_epoch": judged.get("epoch"), "judged_seconds": row.seconds,
                "judged_error": _error(judged),
            })  # fmt: skip
    return rows


def _error(record: dict) -> float | None:
    acc = record.get("val_balanced_acc")
    return None if acc is None else 1.0 - acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="search run folders (or fit folders)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True, help="one JSON line per run")
    parser.add_argument("--stop", action="store_true", help="with the current stop rule on")
    args = parser.parse_args()

    jobs = []
    for path in args.runs:
        folder = RunFolder(path / "search" if (path / "search").is_dir() else path)
        settings, _ = stored_run_settings(folder)
        for row in stopped_runs(folder):
            jobs.append((settings, row))
    print(f"{len(jobs)} stopped evaluations in {len(args.runs)} runs")
    with tempfile.TemporaryDirectory() as scratch, args.out.open("w") as out:
        # one backend per run's settings (dataset, split and seed differ between runs)
        for settings in {id(s): s for s, _ in jobs}.values():
            mine = [row for s, row in jobs if s is settings]
            objective = TrainingObjective(
                settings, keep_checkpoints=False, stop_if_not_learning=args.stop
            )
            backend = ProcessBackend(objective, workers=args.workers, threads_per_worker=1)
            try:
                waiting, running = list(mine), {}
                while waiting or running:
                    while waiting and backend.n_free:
                        row = waiting.pop(0)
                        running[(row["config_id"], row["budget"])] = row
                        backend.submit(row["trial"], Path(scratch) / str(row["evaluation"]))
                    for trial, result in backend.wait(timeout=None):
                        _report(running.pop((trial.config_id, trial.budget)), result, out)
            finally:
                backend.close()


def _report(row: dict, result, out) -> None:
    history = (result.metrics or {}).get("history") or []
    curve = [(h["epoch"], round(_error(h), 4)) for h in history if _error(h) is not None]
    loss = result.loss if result.ok else None
    rank = None if loss is None else sum(p < loss for p in row["peers"]) + 1
    record = {
        "run": row["run"], "config_id": row["config_id"], "budget": round(row["budget"], 1),
        "judged_epoch": row["judged_epoch"], "judged_seconds": round(row["judged_seconds"], 1),
        "judged_error": row["judged_error"], "status": result.status, "error_without_stop": loss,
        "rank_among_peers": rank, "n_peers": len(row["peers"]),
        "best_peer": row["peers"][0] if row["peers"] else None, "curve": curve,
        "reason": result.error, "seconds": result.seconds,
    }  # fmt: skip
    out.write(json.dumps(record) + "\n")
    out.flush()
    shown = (f"{result.status} after {result.seconds:.1f} s" if loss is None
             else f"{loss:.3f} (rank {rank} of {len(row['peers']) + 1})")  # fmt: skip
    print(f"{row['run']} config {row['config_id']} at {row['budget']:.0f} s: stopped at epoch "
          f"{row['judged_epoch']} ({row['judged_seconds']:.1f} s), trained again {shown}; "
          f"curve {curve[:12]}")  # fmt: skip


if __name__ == "__main__":
    main()
