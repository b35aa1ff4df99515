"""`autocnn fit` under a wall-clock budget: test accuracy, budget used, and the honest baseline.

Runs ``autocnn fit DATASET --time T --seed S [--baseline]`` for each seed (one after the other,
in this process's Python, nothing else should run on the machine) and writes each fit's folder
under ``--out``, plus ``summary.json`` and a markdown table (``summary.md``) with the date,
machine, commit and command.

Example::

    python benchmarks/fit.py --dataset kmnist10k --data-dir ../shared/data/kmnist --time 5m \
        --seeds 0,1,2 --baseline --out /tmp/bench-fit-5m
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="kmnist10k")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--time", default="5m")
    parser.add_argument("--space", default="extended")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--no-portfolio", action="store_true")
    parser.add_argument("--no-imbalance", action="store_true")
    parser.add_argument("--image-size", default=None, help="fit's --image-size (default auto)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        command = [sys.executable, "-m", "autocnn.cli", "fit", args.dataset, "--time", args.time,
                   "--space", args.space, "--seed", str(seed), "--quiet",
                   "--out", str(out / f"seed-{seed}")]  # fmt: skip
        if args.data_dir:
            command += ["--data-dir", args.data_dir]
        if args.baseline:
            command.append("--baseline")
        if args.no_portfolio:
            command.append("--no-portfolio")
        if args.no_imbalance:
            command.append("--no-imbalance")
        if args.image_size:
            command += ["--image-size", args.image_size]
        started = time.monotonic()
        subprocess.run(command, check=True)
        wall = time.monotonic() - started
        state = json.loads((out / f"seed-{seed}" / "fit.json").read_text())
        s = state["summary"]
        planned = ("search_seconds", "final_seconds", "fidelity", "max_budget", "workers")
        plan = {k: state["plan"][k] for k in planned}
        rows.append({"seed": seed, "wall_seconds_with_baseline": wall, **s, "plan": plan})
        print(json.dumps(rows[-1]), flush=True)
    header = (
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()} "
        f"({platform.machine()}), commit {commit}: python benchmarks/fit.py "
        + " ".join(argv if argv is not None else sys.argv[1:])
    )
    accuracy = [r["test_accuracy"] for r in rows]
    summary = {
        "header": header,
        "rows": rows,
        "mean_test_accuracy": statistics.fmean(accuracy),
        "std_test_accuracy": statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0,
    }
    if args.baseline:
        summary["mean_baseline_test_accuracy"] = statistics.fmean(
            r["baseline_test_accuracy"] for r in rows
        )
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    columns = ("seed", "fit test acc.", "budget used", "search evals", "trained config",
               "final epochs", "baseline test acc.", "baseline epochs",
               "images right only with the fit / the baseline (McNemar p)")  # fmt: skip
    lines = [header, "", "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {100 * r['test_accuracy']:.2f} % | {100 * r['budget_used']:.1f} % "
            f"| {r['search_evaluations']} | {_trained(r)} | {r['final_epochs']:.1f} | "
            f"{100 * r.get('baseline_test_accuracy', float('nan')):.2f} % | "
            f"{r.get('baseline_epochs', float('nan')):.1f} | {_paired(r)} |"
        )
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _paired(row: dict) -> str:
    """The fit against its baseline image by image (autocnn.final.paired), or "-"."""
    paired = row.get("vs_baseline")
    if not paired:
        return "-"
    return f"{paired['only_first']} / {paired['only_second']} (p = {paired['p_value']:.2f})"


def _trained(row: dict) -> str:
    """Which config the final training got: the default, or the search's config N."""
    chosen = row.get("incumbent_config_id")
    name = "default" if chosen in (0, None) else f"config {chosen}"
    beaten = row.get("not_beaten")
    name = f"{name} (kept over config {beaten['config_id']})" if beaten else name
    size, own = row.get("input_size"), row.get("original_size")
    if size and own and list(size) != list(own):  # fit scaled the images
        name = f"{name} at {size[1]}x{size[0]} (images {own[1]}x{own[0]})"
    members = row.get("final_members") or []
    if len(members) > 1:  # an ensemble: each net's own test accuracy and epochs
        alone = ", ".join(
            f"{100 * (m['test_accuracy'] or float('nan')):.2f} % x {m['epochs_trained']:.0f} ep"
            for m in members
        )
        name = f"{name} x {len(members)} seeds ({alone})"
    return name


if __name__ == "__main__":
    sys.exit(main())
