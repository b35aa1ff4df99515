"""Which class-imbalance handling should a search on imbalanced data start from? Paired runs.

Issue #16: a search on an imbalanced dataset starts from one handling
(:data:`autocnn.space.imbalance.IMBALANCED_DEFAULT`), the default config's and the prior's
centre; ``fit`` trains the default with it when there is no search. That choice was made on one
small seed-space net (BENCHMARKS §10). Here every handling is applied to the *same* nets with
the *same* seeds, so the differences are the handling's alone: for each net (a space's portfolio
entries, plus configs given as JSON files, e.g. the incumbents of earlier studies), each method
and each seed, the net trains on the seed's stratified train/validation split of ``--dataset``
for ``--epochs`` and is measured on the validation part (what a rule may be chosen by) and on
the test part (reported beside it, as every final evaluation in BENCHMARKS is; the choice here
is made on validation). Each line of ``--out`` (JSON lines) is one run; the summary prints, per
method, the mean balanced accuracy and the mean paired difference to ``none`` with its standard
error over all (net, seed) pairs.

Example::

    python benchmarks/imbalance_methods.py --dataset kmnist10k-dest-longtail \\
        --data-dir ../shared/data/kmnist --space extended --epochs 9 --seeds 0,1,2 \\
        --config OUT/with/final/bohb-dest/metrics.json --out results/imbalance.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np


def _configs(space_name: str, files: list[str]) -> list[tuple[str, dict]]:
    """The space's portfolio, then each file's config (a config JSON or a metrics.json)."""
    from autocnn.space import resolve_config
    from autocnn.space.portfolio import portfolio

    nets = list(portfolio(space_name))
    for name in files:
        stored = json.loads(Path(name).read_text())
        config = stored.get("config", stored)
        nets.append((name, resolve_config(config, space_name)))
    return nets


def run_one(config: dict, method: str, seed: int, splits, test, epochs: float) -> dict:
    """Train ``config`` with ``method`` on the seed's split; validation and test metrics."""
    from autocnn.space.imbalance import with_imbalance
    from autocnn.train import Normalization, evaluate_model, train

    train_set, val_set = splits
    result = train(with_imbalance(config, method), train_set, val_set, epochs=epochs, seed=seed)
    tested = evaluate_model(
        result.model, test, normalization=Normalization.from_dict(result.normalization)
    )
    return {
        "status": result.status,
        "val_balanced_acc": result.val_balanced_acc,
        "val_acc": result.val_acc,
        "test_balanced_acc": tested.balanced_accuracy,
        "test_acc": tested.accuracy,
        "test_worst_class": min(a for a in tested.per_class_acc if a is not None),
        "seconds": result.seconds,
    }


def summarize(rows: list[dict], key: str) -> list[dict]:
    """Per method: mean ``key`` and the paired difference to ``none`` (mean, standard error).

    >>> rows = [{"net": n, "seed": 0, "method": m, "v": v}
    ...         for n, m, v in [("a", "none", 0.8), ("a", "x", 0.9), ("b", "none", 0.7),
    ...                         ("b", "x", 0.7)]]
    >>> [(r["method"], round(r["mean"], 2), round(r["diff"], 2)) for r in summarize(rows, "v")]
    [('none', 0.75, 0.0), ('x', 0.8, 0.05)]
    """
    by = {(r["net"], r["seed"], r["method"]): r[key] for r in rows if r.get(key) is not None}
    methods = list(dict.fromkeys(r["method"] for r in rows))
    out = []
    for method in methods:
        pairs = [
            (value, by[(net, seed, "none")])
            for (net, seed, m), value in by.items()
            if m == method and (net, seed, "none") in by
        ]
        values = [v for (_, _, m), v in by.items() if m == method]
        diffs = np.array([a - b for a, b in pairs]) if pairs else np.zeros(0)
        out.append({
            "method": method,
            "n": len(values),
            "mean": float(np.mean(values)),
            "diff": float(diffs.mean()) if len(diffs) else math.nan,
            "stderr": float(diffs.std(ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else 0.0,
            "wins": int((diffs > 0).sum()),
            "losses": int((diffs < 0).sum()),
        })  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="kmnist10k-dest-longtail")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--space", default="extended")
    parser.add_argument("--epochs", type=float, default=9.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--methods", default="none,balanced_sampling,logit_adjustment,weighted_loss"
    )
    parser.add_argument("--config", action="append", default=[], help="a config or metrics JSON")
    parser.add_argument("--portfolio", default=None, help="portfolio entries to use (comma list)")
    parser.add_argument("--out", required=True, help="JSON lines, appended; finished runs skipped")
    args = parser.parse_args(argv)

    from autocnn import data
    from autocnn.optimize.settings import RunSettings

    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    nets = _configs(args.space, args.config)
    if args.portfolio is not None:
        keep = set(args.portfolio.split(",")) if args.portfolio else set()
        nets = [(n, c) for n, c in nets if n in keep or n in args.config]
    full = data.load(args.dataset, "train", data_dir=args.data_dir)
    test = data.load(args.dataset, "test", data_dir=args.data_dir)
    out = Path(args.out)
    done = []
    if out.exists():
        done = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    seen = {(r["net"], r["seed"], r["method"], r["epochs"]) for r in done}
    for seed in seeds:
        splits = data.train_val_split(full, RunSettings.val_fraction, seed=seed)
        for name, config in nets:
            for method in methods:
                if (name, seed, method, args.epochs) in seen:
                    continue
                row = {"net": name, "seed": seed, "method": method, "epochs": args.epochs,
                       "dataset": args.dataset, "space": args.space,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S")}  # fmt: skip
                row.update(run_one(config, method, seed, splits, test, args.epochs))
                print(json.dumps(row), flush=True)
                with out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                done.append(row)
    rows = [r for r in done if r["epochs"] == args.epochs and r["dataset"] == args.dataset]
    print("\nper net and method: balanced accuracy, validation / test (mean over seeds)")
    for name in dict.fromkeys(r["net"] for r in rows):
        cells = []
        for method in methods:
            mine = [r for r in rows if r["net"] == name and r["method"] == method]
            if mine:
                val = np.mean([r["val_balanced_acc"] or 0.0 for r in mine])
                test = np.mean([r["test_balanced_acc"] for r in mine])
                cells.append(f"{method} {100 * val:.2f} / {100 * test:.2f} (n={len(mine)})")
        print(f"  {name[-40:]:<40} " + "; ".join(cells))
    for key in ("val_balanced_acc", "test_balanced_acc", "test_worst_class"):
        print(f"\n{key} (mean over nets x seeds; paired difference to none ± s.e.)")
        for r in summarize(rows, key):
            print(
                f"  {r['method']:<18} {100 * r['mean']:6.2f}  {100 * r['diff']:+6.2f} ± "
                f"{100 * r['stderr']:.2f}  wins/losses {r['wins']}/{r['losses']}  n={r['n']}"
            )


if __name__ == "__main__":
    main()
