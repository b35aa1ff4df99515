"""What the duel (autocnn.fit.duel) decides on a finished fit's search: the default and the
search's choice trained again at the choice's budget, side by side, with a fresh seed.

For fits made before the duel existed, or to see a duel's spread: reads ``FIT/fit.json`` and its
search's store, takes the search's choice by the fit's own rules (``choose``, then
``keep_reference_unless_beaten``), and runs :func:`autocnn.fit.duel.duel` for it in
``FIT/search/duel`` (nothing else of the fit is changed). Prints one JSON line. Nothing else
should run on the machine (budgets are seconds of training).

Example::

    python benchmarks/duel_again.py OUT/seed-0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autocnn.fit.duel import REFERENCE_ID, duel, duel_seconds, local_workers
from autocnn.fit.plan import FitPlan
from autocnn.optimize.folder import RunFolder
from autocnn.optimize.incumbent import choose, keep_reference_unless_beaten
from autocnn.optimize.store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit", type=Path, help="a finished fit's folder")
    args = parser.parse_args(argv)
    plan = FitPlan.from_dict(json.loads((args.fit / "fit.json").read_text())["plan"])
    run = RunFolder(args.fit / "search")
    with Store.open(run.db, readonly=True) as store:
        rows = store.scored()
        kept = keep_reference_unless_beaten(rows, choose(rows), reference_id=REFERENCE_ID,
                                            n_val=plan.n_val)  # fmt: skip
        configs = {c: store.config(c) for c in {REFERENCE_ID, kept.config_id}}
    if kept.config_id == REFERENCE_ID:
        print(json.dumps({"fit": str(args.fit), "duel": None, "why": "the default was kept"}))
        return 0
    workers = local_workers(plan.threads_per_worker)
    planned = duel_seconds(kept.budget, plan.largest_evaluation_seconds - plan.max_budget, workers)
    verdict = duel(run, configs, challenger=kept.config_id, budget=kept.budget,
                   n_val=plan.n_val, workers=workers, threads=plan.threads_per_worker,
                   timeout=3 * planned)  # fmt: skip
    search = {r.config_id: r.loss for r in rows if r.budget == kept.budget}
    print(json.dumps({"fit": str(args.fit), "challenger": kept.config_id, "budget": kept.budget,
                      "search_losses": search,
                      "duel": None if verdict is None else verdict.to_dict()}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
