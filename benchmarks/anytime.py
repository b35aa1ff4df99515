"""Anytime performance on kmnist10k: best validation error vs wall time, per method, same budget.

Methods (all through the same engine, runner and workers): random search, Hyperband, BOHB with
HpBandSter's KDE model (faithful), BOHB with the TPE model (autocnn's default), and the default
again without checkpoint continuation (``--no-continue``, i.e. retraining promoted configs as
HpBandSter does). Every (method, seed) run gets the same wall-clock limit and workers; the order
is interleaved by seed so that slow phases of a noisy machine hit every method alike.

    python benchmarks/anytime.py --data-dir ../shared/data/kmnist --seeds 0,1,2 \
        --time-limit 180 --workers 2 --out benchmarks/results/anytime

Writes ``OUT/summary.json`` and ``OUT/summary.md`` (the table for BENCHMARKS.md) and keeps each
run folder under OUT (run.db can be inspected with ``autocnn status`` / ``autocnn report``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import time
from datetime import date
from pathlib import Path

from autocnn import api
from autocnn.optimize.store import Store

VARIANTS = {  # name -> api.optimize keyword arguments
    "random": {"method": "random"},
    "hyperband": {"method": "hyperband"},
    "bohb-kde": {"method": "bohb-kde"},
    "bohb (tpe)": {"method": "bohb"},
    "bohb (tpe) no-continue": {"method": "bohb", "continue_training": False},
}


def trajectory(run_dir: Path) -> list[tuple[float, float, float]]:
    """(seconds since start, best validation error so far, epochs trained so far) per result."""
    with Store.open(run_dir, readonly=True) as store:
        rows = [r for r in store.evaluations() if r.finished is not None]
    if not rows:
        return []
    start = min(r.submitted or r.started or r.finished for r in rows)
    best, epochs, points = float("inf"), 0.0, []
    for row in sorted(rows, key=lambda r: r.finished):
        epochs += row.cost or 0.0
        if row.status == "ok" and row.loss is not None:
            best = min(best, row.loss)
        points.append((row.finished - start, best, epochs))
    return points


def best_at(points: list[tuple[float, float, float]], seconds: float) -> float:
    values = [best for t, best, _ in points if t <= seconds]
    return values[-1] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--time-limit", type=float, default=180.0, help="seconds per run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-budget", type=float, default=1)
    parser.add_argument("--max-budget", type=float, default=9)
    parser.add_argument("--eta", type=float, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names")
    parser.add_argument("--out", default="benchmarks/results/anytime")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for seed in seeds:
        for variant in variants:
            slug = "".join(c if c.isalnum() else "_" for c in variant).strip("_")
            run_dir = out / f"{slug}-seed{seed}"
            shutil.rmtree(run_dir, ignore_errors=True)
            started = time.perf_counter()
            summary = api.optimize(
                "kmnist10k",
                out=run_dir,
                data_dir=args.data_dir,
                eta=args.eta,
                min_budget=args.min_budget,
                max_budget=args.max_budget,
                iterations=None,
                workers=args.workers,
                seed=seed,
                time_limit=args.time_limit,
                **VARIANTS[variant],
            )
            points = trajectory(run_dir)
            row = {
                "seed": seed,
                "wall_s": time.perf_counter() - started,
                "evaluations": summary.n_evaluations,
                "counts": summary.counts,
                "incumbent_loss": summary.best_loss,
                "incumbent_budget": summary.incumbent.budget if summary.incumbent else None,
                "epochs_trained": points[-1][2] if points else 0.0,
                "trajectory": points,
            }
            results[variant].append(row)
            print(
                f"seed {seed} {variant:30s} evals {row['evaluations']:3d} epochs "
                f"{row['epochs_trained']:6.1f} incumbent {row['incumbent_loss']}",
                flush=True,
            )

    # The last mark is "at the end": evaluations running at the limit still finish and count.
    marks = [args.time_limit / 3, 2 * args.time_limit / 3, float("inf")]
    lines = [
        "| method | evaluations | epochs trained | "
        + " | ".join(f"best val. error @ {m:.0f} s" for m in marks[:-1])
        + " | best val. error at the end | incumbent's val. error (max budget) |",
        "|" + "---|" * (4 + len(marks)),
    ]
    for variant in variants:
        rows = results[variant]
        med = statistics.median
        cells = [f"{med(best_at(r['trajectory'], m) for r in rows):.4f}" for m in marks]
        incumbents = [r["incumbent_loss"] for r in rows if r["incumbent_loss"] is not None]
        lines.append(
            f"| {variant} | {med(r['evaluations'] for r in rows):.0f} | "
            f"{med(r['epochs_trained'] for r in rows):.0f} | "
            + " | ".join(cells)
            + f" | {med(incumbents):.4f} |"
        )
    header = (
        f"{date.today()}, {platform.machine()} ({args.workers} workers), seeds {seeds}, "
        f"{args.time_limit:.0f} s per run, budgets {args.min_budget:g}-{args.max_budget:g} "
        f"epochs, eta {args.eta:g}; medians over seeds"
    )
    (out / "summary.md").write_text(header + "\n\n" + "\n".join(lines) + "\n")
    (out / "summary.json").write_text(
        json.dumps({"date": str(date.today()), "args": vars(args), "results": results}, indent=1)
    )
    print(header)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
