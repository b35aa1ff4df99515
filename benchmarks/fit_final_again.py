"""A finished fit's final stage again, with another number of nets: the same search, paired.

Copies ``FIT``'s folder without its final stage (final/, export/, report/, model.pt, baseline/)
to ``--out``, sets the search stage's ``nets`` (how many seeds of the kept config the final
trains, :mod:`autocnn.fit.job`), rewinds the fit's clock to the end of its search, and resumes it:
the final stage then gets exactly the time it had in the original fit. Compares final-stage
rules on one search, which a second fit cannot (time budgets are not reproducible step for
step, so a second search differs). Nothing else should run on the machine.

``--no-search`` is the control for "did the search pay?": the clock goes back to the end of the
probe instead, so the final gets the search's time too (the fit's whole budget less the probe);
the fit must have kept the space's default (config 0), which the final then trains as ``--nets``
seeds. With ``--nets 1`` that is the fit's own ``--baseline``; with 2, a deep ensemble of the
default and no search at all.

``--keep N``: the final trains the search's config N instead, with the clock at the end of the
search (before any duel, :mod:`autocnn.fit.duel`): what the fit would have tested had the search's
choice stood, e.g. the config a duel overturned.

Example::

    python benchmarks/fit_final_again.py OUT/seed-0 --nets 2 --out OUT2/seed-0
    python benchmarks/fit_final_again.py OUT/seed-0 --nets 2 --no-search --out OUT3/seed-0
    python benchmarks/fit_final_again.py OUT/seed-1 --nets 2 --keep 2 --out OUT4/seed-1
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

FINAL_STAGE = ("final", "export", "report", "model.pt", "baseline")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit", help="a finished fit's folder")
    parser.add_argument("--nets", type=int, default=2)
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--no-search", action="store_true", help="the final also gets the search's time"
    )
    parser.add_argument(
        "--keep", type=int, metavar="N", help="the final trains the search's config N (no duel)"
    )
    args = parser.parse_args(argv)
    if args.keep is not None and args.no_search:
        sys.exit("--keep and --no-search exclude each other: --no-search trains the default")
    source, out = Path(args.fit), Path(args.out)
    if out.exists():
        sys.exit(f"{out} exists; choose another --out")
    state = json.loads((source / "fit.json").read_text())
    if not state.get("done"):
        sys.exit(f"{source}: not a finished fit")
    search = state["stages"]["search"]
    if args.no_search and search["incumbent"]["config_id"] != 0:
        sys.exit(
            f"{source}: the fit kept config {search['incumbent']['config_id']}, not the default"
        )
    search = {**search, "nets": args.nets}
    if args.keep is not None:  # read from the source: a bad N exits before anything is copied
        search = _keeping(search, source, args.keep)
    shutil.copytree(source, out, ignore=shutil.ignore_patterns(*FINAL_STAGE))
    state["stages"] = {"search": search}
    for key in ("summary", "done", "baseline"):
        state.pop(key, None)
    (out / "fit.json").write_text(json.dumps(state, indent=1))
    spent = state["plan"]["spent_before_plan"] if args.no_search else search["elapsed"]
    if args.keep is not None:  # the search's end, before a duel took the final's time
        spent = state["plan"]["spent_before_plan"] + search["seconds"]
    (out / "clock.json").write_text(json.dumps({"spent": spent}))
    subprocess.run([sys.executable, "-m", "autocnn.cli", "fit", "--resume", str(out)], check=True)
    summary = json.loads((out / "fit.json").read_text())["summary"]
    print(
        json.dumps({"fit": str(source), "nets": args.nets, "no_search": args.no_search, **summary})
    )
    return 0


def _keeping(search: dict, fit: Path, config_id: int) -> dict:
    """The search stage as if config ``config_id`` had been kept: its config and its score at
    its largest budget, from the search's store; no duel."""
    from autocnn.fit.folder import FitFolder
    from autocnn.optimize.store import Store

    with Store.open(FitFolder(fit).search.db, readonly=True) as store:
        rows = [r for r in store.scored() if r.config_id == config_id]
        if not rows:
            sys.exit(f"{fit}: the search scored no config {config_id}")
        top = max(rows, key=lambda r: r.budget)
        config = store.config(config_id)
    incumbent = {"config_id": config_id, "budget": top.budget, "val_loss": top.loss,
                 "config": config}  # fmt: skip
    kept = {k: v for k, v in search.items() if k not in ("duel", "not_beaten")}
    return {**kept, "incumbent": incumbent}


if __name__ == "__main__":
    sys.exit(main())
