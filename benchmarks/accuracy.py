"""The accuracy target: BOHB search + final training on kmnist10k within one wall-time budget.

Per seed, one clock for everything:

1. ``optimize`` BOHB on the extended space (kmnist10k's 8,000 train images split 6,400 / 1,600;
   budgets in epochs, each with its complete LR schedule: ``--fidelity annealed``) until
   ``--search-seconds`` have passed (evaluations still running then are stopped: one big net
   at the max budget could otherwise take longer than the whole budget);
2. ``evaluate`` the incumbent: retrain it ``--final-seeds`` times (default once; seeds ``seed,
   seed + 1, ...``) on all 8,000 train images and test it on the 2,000 held-out test images (the
   only read of the test part); with 2+ models also as one ensemble, their class probabilities
   averaged (the single models' accuracies are reported too). The epoch count is chosen to fill
   what is left of ``--total-seconds``: from the incumbent's own measured seconds per epoch
   during the search (one thread, two workers side by side; the final run has both threads:
   divided by ``--thread-speedup``; in BENCHMARKS.md section 7 the final runs trained 1.6-2.1 times
   faster than that, so the default 1.7 keeps a margin), capped to
   ``[--min-final-epochs, --max-final-epochs]``.

BENCHMARKS.md section 7's run (the defaults):

    python benchmarks/accuracy.py --data-dir ../shared/data/kmnist --seeds 0,1,2 \\
        --total-seconds 1800 --search-seconds 780 --min-budget 3 --final-seeds 1 \\
        --thread-speedup 1.7 --out OUT

Writes ``OUT/summary.json`` and ``OUT/summary.md``; the run and evaluation folders stay under OUT.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from autocnn import api
from autocnn.optimize.store import Store

SAFETY_SECONDS = 30.0  # process start, data loading
EVAL_SECONDS_PER_MODEL = 15.0  # each final model's train + test passes and saving (measured)


def seconds_per_epoch(run_dir: Path, config_id: int) -> float:
    """The incumbent's training seconds per epoch of the search's train split."""
    with Store.open(run_dir, readonly=True) as store:
        rows = [r for r in store.evaluations() if r.config_id == config_id and r.status == "ok"]
    seconds = sum(r.seconds or 0.0 for r in rows)
    epochs = sum(r.cost or 0.0 for r in rows)
    if epochs <= 0:
        raise RuntimeError(f"no timed evaluation of config {config_id} in {run_dir}")
    return seconds / epochs


def final_epochs(left: float, per_epoch: float, low: int, high: int) -> int:
    """Whole epochs that fit in ``left`` seconds, clamped to [low, high]."""
    fit = math.floor(max(0.0, left - SAFETY_SECONDS) / per_epoch) if per_epoch > 0 else high
    return int(min(high, max(low, fit)))


def one_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    out = Path(args.out) / f"seed-{seed}"
    started = time.monotonic()
    summary = api.optimize(
        "kmnist10k",
        out=out / "search",
        space="extended",
        data_dir=args.data_dir,
        eta=args.eta,
        fidelity=args.fidelity,
        min_budget=args.min_budget,
        max_budget=args.max_budget,
        iterations=None,
        workers=args.workers,
        seed=seed,
        time_limit=args.search_seconds,
        hard_time_limit=not args.soft_time_limit,
        start_with_default=not args.no_default_first,
    )
    search_wall = time.monotonic() - started
    incumbent = summary.incumbent
    if incumbent is None:
        raise SystemExit(f"seed {seed}: no evaluation finished within --search-seconds; raise it")
    # Full-data epochs are 8,000 / 6,400 = 1.25 times the search's epochs; one process with two
    # threads trains faster than one of two single-thread workers (--thread-speedup).
    per_epoch = 1.25 * seconds_per_epoch(out / "search", incumbent.config_id) / args.thread_speedup
    left = args.total_seconds - search_wall - args.final_seeds * EVAL_SECONDS_PER_MODEL
    epochs = final_epochs(
        left, per_epoch * args.final_seeds, args.min_final_epochs, args.max_final_epochs
    )
    final = api.evaluate(
        out / "search", out=out / "final", epochs=epochs, seeds=args.final_seeds, seed=seed
    )
    total_wall = time.monotonic() - started
    test = final.per_seed[0]
    together = final.summary.get("ensemble", test)  # one final seed: that model
    return {
        "seed": seed,
        "evaluations": summary.n_evaluations,
        "search_seconds": round(search_wall, 1),
        "incumbent_val_loss": incumbent.loss,
        "incumbent_budget": incumbent.budget,
        "incumbent": incumbent.config,
        "estimated_final_seconds_per_epoch": round(per_epoch, 2),
        "final_epochs": epochs,
        "final_seconds": round(total_wall - search_wall, 1),
        "total_seconds": round(total_wall, 1),
        "final_models": len(final.per_seed),
        "test_accuracy": together["test_acc"],
        "test_balanced_accuracy": together["test_balanced_acc"],
        "single_model_test_accuracies": [r.get("test_acc") for r in final.per_seed],
        "train_accuracy": test["train_acc"],
        "parameters": test["n_params"],
    }


def describe(config: dict[str, Any]) -> str:
    """A short name for an extended-space config: the space default, or its main traits."""
    from autocnn.space import default_config

    default = default_config("extended")
    same = config.keys() == default.keys() and all(
        math.isclose(v, default[k]) if isinstance(v, float) else v == default[k]
        for k, v in config.items()
    )
    if same:
        return "the space's default"
    widths = [config.get("stage1_channels", 0)]
    for stage in range(2, int(config.get("n_stages", 1)) + 1):
        widths.append(widths[-1] * config.get(f"stage{stage}_channel_multiplier", 1.0))
    convs = [config.get(f"stage{s}_n_convs", 1) for s in range(1, len(widths) + 1)]
    return (
        f"{'x'.join(map(str, convs))} convs, {'/'.join(str(round(w)) for w in widths)} ch"
        f"{', residual' if config.get('residual') else ''}, {config.get('optimizer')} "
        f"{config.get('lr_schedule')}"
    )


def markdown(rows: list[dict[str, Any]], mean: float, header: str) -> str:
    lines = [
        header,
        "",
        "| seed | evaluations | search s | incumbent | val. bal. error | final models x epochs "
        "| final s "
        "| total s | single models' test acc. | test acc. | test bal. acc. |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        singles = r.get("single_model_test_accuracies", [r["test_accuracy"]])
        models = r.get("final_models", 1)
        lines.append(
            f"| {r['seed']} | {r['evaluations']} | {r['search_seconds']:.0f} "
            f"| {describe(r['incumbent'])} "
            f"| {r['incumbent_val_loss']:.4f} @ {r['incumbent_budget']:g} ep "
            f"| {models} x {r['final_epochs']} | {r['final_seconds']:.0f} "
            f"| {r['total_seconds']:.0f} | {' / '.join(f'{100 * a:.2f}' for a in singles)} % "
            f"| {100 * r['test_accuracy']:.2f} % | {100 * r['test_balanced_accuracy']:.2f} % |"
        )
    lines.append(
        f"\nMean test accuracy over {len(rows)} seeds: **{100 * mean:.2f} %** (of the final "
        "models' ensemble where there are several)."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/kmnist")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--total-seconds", type=float, default=1800.0)
    parser.add_argument("--search-seconds", type=float, default=780.0)
    parser.add_argument("--min-budget", type=float, default=3.0)
    parser.add_argument("--max-budget", type=float, default=9.0)
    parser.add_argument("--eta", type=float, default=3.0)
    parser.add_argument("--fidelity", default="annealed", choices=["epochs", "annealed"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-final-epochs", type=int, default=9)
    parser.add_argument("--max-final-epochs", type=int, default=60)
    parser.add_argument(
        "--final-seeds",
        type=int,
        default=1,
        help="final models, ensembled when 2+ (one model trained longer did better, §7)",
    )
    parser.add_argument("--thread-speedup", type=float, default=1.7)
    parser.add_argument(
        "--soft-time-limit",
        action="store_true",
        help="let evaluations running at --search-seconds finish (default: stop them)",
    )
    parser.add_argument(
        "--no-default-first",
        action="store_true",
        help="do not evaluate the space's default first: what BOHB finds from its own proposals",
    )
    parser.add_argument("--out", default="benchmarks/results/accuracy")
    parser.add_argument(
        "--render", default=None, metavar="SUMMARY_JSON", help="only re-print a summary's table"
    )
    args = parser.parse_args(argv)
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        print(markdown(saved["rows"], saved["mean_test_accuracy"], saved.get("header", "")))
        return
    torch.set_num_threads(2)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        rows.append(one_seed(args, seed))
        print(json.dumps(rows[-1]), flush=True)
    mean = statistics.mean(r["test_accuracy"] for r in rows)
    header = (
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}; {vars(args)}"
    )
    out = Path(args.out)
    text = markdown(rows, mean, header)
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(
        json.dumps(
            {"header": header, "args": vars(args), "rows": rows, "mean_test_accuracy": mean},
            indent=2,
        )
    )
    print(text)


if __name__ == "__main__":
    main()
