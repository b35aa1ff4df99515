"""Does the search pay for itself? Time to a good net, plain BOHB vs portfolio vs prior sampling.

Issue #13 item 4. Each (variant, seed) is one ``autocnn optimize`` run on kmnist10k with the
seed space, budgets 1-9 epochs, eta 3, no bracket limit, a wall-clock limit and 2 workers; runs
are interleaved by seed (seed 0 of every variant, then seed 1, ...) so that slow phases of a
noisy machine hit every variant alike. Needs a quiet machine: 3 seeds x 3 variants x 600 s is
90 minutes.

    python benchmarks/search_gain.py --data-dir ../shared/data/kmnist --seeds 0,1,2 \\
        --variants plain,portfolio,prior --time-limit 600 --out benchmarks/results/search_gain

Variants (extra ``autocnn optimize`` flags on top of the common command):

- ``plain``: ``--sampler random``, BOHB as it is by default (the space's default first, then
  uniform samples): the issue's command as it is;
- ``portfolio``: ``--portfolio --sampler random`` (the space's portfolio first);
- ``prior``: ``--sampler prior`` (prior-guided sampling around the default: PriorBand's mix and
  πBO's weight, :mod:`autocnn.optimize.sampling`);
- ``portfolio+prior``: both (the prior is then a mixture over the portfolio's entries).
- ``prior+stop``: ``prior`` plus learning-curve early stopping (the default; the other variants
  pass ``--no-early-stopping``,
  :mod:`autocnn.optimize.early_stopping`).

Per run, from its ``run.db`` (loss = 1 - validation balanced accuracy, the default ``--metric``;
accuracy below means that score):

- ``seconds_to_target``: seconds from the run's first evaluation until the first max-budget
  result with accuracy >= ``--target`` (0.93) finished (None: never);
- ``best_at_limit``: the best max-budget accuracy among results finished by ``--time-limit``;
- ``best_at_end``: the same including evaluations that were running at the limit (they finish).

Writes ``OUT/summary.json`` and ``OUT/summary.md``; each run's folder (``OUT/VARIANT-seedS``)
and log (``OUT/VARIANT-seedS.log``) stay for ``autocnn status`` / ``autocnn report``. A run that
exists already is read, not rerun, unless ``--rerun``; ``--dry-run`` prints the commands.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from autocnn.optimize.store import Store

VARIANTS: dict[str, list[str]] = {  # name -> extra `autocnn optimize` flags (explicit, so that
    # the variants keep their meaning if a default changes)
    "plain": ["--sampler", "random", "--no-early-stopping"],
    "portfolio": ["--portfolio", "--sampler", "random", "--no-early-stopping"],
    "prior": ["--sampler", "prior", "--no-early-stopping"],
    "portfolio+prior": ["--portfolio", "--sampler", "prior", "--no-early-stopping"],
    "prior+stop": ["--sampler", "prior"],  # early stopping: the default since BENCHMARKS §3.2
}
# The issue's "before" numbers: plain BOHB, seeds 0-2, 600 s, 2 workers (measured earlier).
BEFORE = {"seconds_to_target": [75, 153, 509], "best_at_limit": [0.949, 0.956, 0.942]}


def command(args: argparse.Namespace, variant: str, seed: int, run_dir: Path) -> list[str]:
    """The ``autocnn optimize`` command of one run (through this Python interpreter)."""
    return [
        sys.executable,
        "-c",
        "import sys; from autocnn.cli import main; sys.exit(main())",
        "optimize",
        "--dataset",
        args.dataset,
        "--data-dir",
        args.data_dir,
        "--space",
        args.space,
        "--eta",
        f"{args.eta:g}",
        "--min-budget",
        f"{args.min_budget:g}",
        "--max-budget",
        f"{args.max_budget:g}",
        "--iterations",
        "0",
        "--time-limit",
        f"{args.time_limit:g}",
        "--workers",
        str(args.workers),
        "--seed",
        str(seed),
        "--out",
        str(run_dir),
        *VARIANTS[variant],
    ]


def measure(run_dir: Path, max_budget: float, time_limit: float, target: float) -> dict[str, Any]:
    """The run's numbers (module docstring) from its run.db."""
    with Store.open(run_dir / "run.db", readonly=True) as store:
        rows = store.evaluations()
        settings = store.settings
        model_based = sum(c.model_based for c in store.configs())
        n_configs = len(store.configs())
    start = min(r.submitted for r in rows) if rows else 0.0
    done = [r for r in rows if r.finished is not None]
    top = [
        (r.finished - start, 1.0 - r.loss)
        for r in done
        if r.status == "ok" and r.loss is not None and math.isclose(r.budget, max_budget)
    ]
    top.sort()
    hits = [t for t, accuracy in top if accuracy >= target]
    by_limit = [accuracy for t, accuracy in top if t <= time_limit]
    return {
        "seconds_to_target": hits[0] if hits else None,
        "best_at_limit": max(by_limit) if by_limit else None,
        "best_at_end": max(a for _, a in top) if top else None,
        "evaluations": len(done),
        "max_budget_results": len(top),
        "configs": n_configs,
        "model_based_configs": model_based,
        "statuses": {s: sum(r.status == s for r in rows) for s in sorted({r.status for r in rows})},
        "last_finished_s": max((r.finished - start for r in done), default=0.0),
        "max_budget_trajectory": top,
        "sampler": _setting(settings, "sampler", "random"),
        "portfolio": _setting(settings, "portfolio", False),
    }


def _setting(settings: dict[str, Any], name: str, default: Any) -> Any:
    run = settings.get("run")
    if isinstance(run, dict) and name in run:
        return run[name]
    return settings.get(name, settings.get(f"run.{name}", default))


def _fmt(value: float | None, spec: str) -> str:
    """``value`` formatted by ``spec`` (a unit may follow it: ".0f s"); None: "never"."""
    spec, _, unit = spec.partition(" ")
    return "never" if value is None else format(value, spec) + (f" {unit}" if unit else "")


def _median(values: list[float | None], missing: float) -> float | None:
    """Median with a missing value (never reached) counted as ``missing``."""
    if not values:
        return None
    return statistics.median(missing if v is None else v for v in values)


def summarise(args: argparse.Namespace, results: dict[str, list[dict]]) -> str:
    header = (
        f"{date.today()}, {platform.machine()}, {args.workers} workers, seeds {args.seeds}, "
        f"{args.time_limit:g} s per run, {args.dataset} / {args.space} space, budgets "
        f"{args.min_budget:g}-{args.max_budget:g} epochs, eta {args.eta:g}; accuracy = validation "
        f"balanced accuracy at the max budget; target {args.target:g}"
    )
    lines = [
        header,
        "",
        "| variant | seconds to >= target (per seed) | median | best at limit (per seed) | "
        "median | best at end (median) | evaluations (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant, rows in results.items():
        to_target = [r["seconds_to_target"] for r in rows]
        best = [r["best_at_limit"] for r in rows]
        end = [r["best_at_end"] for r in rows if r["best_at_end"] is not None]
        med_t = _median(to_target, math.inf)
        med_b = _median([b for b in best if b is not None], 0.0)
        lines.append(
            f"| {variant} | {' / '.join(_fmt(t, '.0f') for t in to_target)} | "
            f"{_fmt(None if med_t in (None, math.inf) else med_t, '.0f')} | "
            f"{' / '.join(_fmt(b, '.3f') for b in best)} | {_fmt(med_b, '.3f')} | "
            f"{_fmt(statistics.median(end) if end else None, '.3f')} | "
            f"{statistics.median(r['evaluations'] for r in rows):.0f} |"
        )
    lines.append(
        f"| plain, issue's before (seeds 0-2, 600 s) | "
        f"{' / '.join(str(t) for t in BEFORE['seconds_to_target'])} | "
        f"{statistics.median(BEFORE['seconds_to_target']):.0f} | "
        f"{' / '.join(f'{b:.3f}' for b in BEFORE['best_at_limit'])} | "
        f"{statistics.median(BEFORE['best_at_limit']):.3f} | | |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--dataset", default="kmnist10k")
    parser.add_argument("--space", default="seed")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default="plain,portfolio,prior")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-budget", type=float, default=1)
    parser.add_argument("--max-budget", type=float, default=9)
    parser.add_argument("--eta", type=float, default=3)
    parser.add_argument("--target", type=float, default=0.93, help="validation accuracy")
    parser.add_argument("--out", default="benchmarks/results/search_gain")
    parser.add_argument("--rerun", action="store_true", help="delete and rerun existing runs")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for seed in seeds:
        for variant in variants:
            slug = variant.replace("+", "-")
            run_dir = out / f"{slug}-seed{seed}"
            cmd = command(args, variant, seed, run_dir)
            if args.dry_run:
                print(" ".join(["autocnn"] + cmd[3:]))  # the CLI form, for reading
                continue
            if args.rerun:
                shutil.rmtree(run_dir, ignore_errors=True)
            rc, wall = 0, None
            if not (run_dir / "run.db").exists():
                started = time.perf_counter()
                with open(out / f"{slug}-seed{seed}.log", "w") as log:
                    rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
                wall = time.perf_counter() - started
            if not (run_dir / "run.db").exists():
                print(f"seed {seed} {variant}: no run.db (exit {rc}); see the log", flush=True)
                results[variant].append({"seed": seed, "exit": rc, "seconds_to_target": None,
                                         "best_at_limit": None, "best_at_end": None,
                                         "evaluations": 0})  # fmt: skip
                continue
            row = {"seed": seed, "exit": rc, "wall_s": wall}
            row.update(measure(run_dir, args.max_budget, args.time_limit, args.target))
            results[variant].append(row)
            print(
                f"seed {seed} {variant:16s} exit {rc} evals {row['evaluations']:3d} "
                f"to >= {args.target:g}: {_fmt(row['seconds_to_target'], '.0f s')}, best at "
                f"{args.time_limit:g} s: {_fmt(row['best_at_limit'], '.4f')}",
                flush=True,
            )
    if args.dry_run:
        return
    table = summarise(args, results)
    (out / "summary.md").write_text(table)
    (out / "summary.json").write_text(
        json.dumps(
            {"date": str(date.today()), "args": vars(args), "before": BEFORE, "results": results},
            indent=1,
        )
    )
    print(table)


if __name__ == "__main__":
    main()
