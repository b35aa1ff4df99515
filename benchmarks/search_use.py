"""How finished fits used their search time: planned, used, handed to the final, lost to killed
evaluations, and how many configs reached the largest budget.

Reads each fit folder's ``fit.json`` and its search's run store (read-only); prints one Markdown
row per fit. For BENCHMARKS.md §9 (issue #13: "several configs reach the max budget"):

    python benchmarks/search_use.py OUT/seed-0 OUT/seed-1 ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autocnn.optimize.records import PENDING
from autocnn.optimize.store import Store


def search_use(fit: Path) -> dict:
    state = json.loads((fit / "fit.json").read_text())
    plan, stage = state["plan"], state["stages"]["search"]
    with Store.open(fit / "search" / "run.db", readonly=True) as store:
        rows = store.evaluations()
    if not rows:
        return {"fit": str(fit), "planned": plan["search_seconds"], "evaluations": 0}
    start = min(r.started for r in rows if r.started is not None)
    killed = [r for r in rows if r.status == PENDING and r.started is not None]
    top = {r.config_id for r in rows if r.status == "ok" and r.budget >= plan["max_budget"]}
    return {
        "fit": str(fit),
        "planned": plan["search_seconds"],
        "max_budget": plan["max_budget"],
        "evaluations": sum(r.done for r in rows),
        "last_result": max(r.finished for r in rows if r.finished is not None) - start,
        "handed_to_final": max(0.0, plan["search_seconds"] - stage["seconds"]),
        "killed": len(killed),
        "killed_worker_seconds": sum(start + plan["search_seconds"] - r.started for r in killed),
        "configs_at_the_top": len(top),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fits", nargs="+", type=Path)
    args = parser.parse_args(argv)
    print("| fit | search planned | last result | to the final | killed (worker-s) "
          "| evaluations | configs at the largest budget |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for fit in args.fits:
        u = search_use(fit)
        if not u["evaluations"]:
            print(f"| {u['fit']} | {u['planned']:.0f} s | no search | | | 0 | |")
            continue
        print(f"| {u['fit']} | {u['planned']:.0f} s (largest budget {u['max_budget']:.0f} s) "
              f"| {u['last_result']:.0f} s | {u['handed_to_final']:.0f} s | {u['killed']} "
              f"({u['killed_worker_seconds']:.0f}) | {u['evaluations']} "
              f"| {u['configs_at_the_top']} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
