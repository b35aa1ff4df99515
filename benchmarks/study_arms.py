"""Two arms of `autocnn study` over several study seeds: the destination's test balanced accuracy.

Reads each study folder's ``study.json`` (one folder per study seed and arm, e.g. with and
without the imbalance handling) and prints a markdown table: per seed the mean over the study's
final seeds, then mean ± std over the study seeds, the paired difference (by study seed) and the
worst class. It reads finished studies only; it trains nothing.

Example::

    python benchmarks/study_arms.py --a OUT/with OUT/with-s1 OUT/with-s2 \\
        --b OUT/without OUT/without-s1 OUT/without-s2
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def destination_rows(folder: Path) -> tuple[int, dict[str, dict]]:
    """(study seed, method -> its destination row) of one study folder."""
    study = json.loads((folder / "study.json").read_text())
    rows = {r["method"]: r for r in study["rows"] if r["dataset"] == "dest"}
    return study["settings"]["seed"], rows


def _spread(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {std:.2f}"


def table(arm_a: list[Path], arm_b: list[Path]) -> str:
    a = sorted((destination_rows(f) for f in arm_a), key=lambda seed_rows: seed_rows[0])
    b = sorted((destination_rows(f) for f in arm_b), key=lambda seed_rows: seed_rows[0])
    seeds = [s for s, _ in a]
    if seeds != [s for s, _ in b]:
        raise SystemExit(f"the arms' study seeds differ: {seeds} vs {[s for s, _ in b]}")
    lines = [
        "| destination method | "
        + " | ".join(f"seed {s} a / b" for s in seeds)
        + " | mean a | mean b | difference a - b | worst class a / b |",
        "|---|" + "---|" * (len(seeds) + 4),
    ]
    # the methods in the study's own order, with the labels its table uses (autocnn.study)
    labels = {method: row["label"] for method, row in a[0][1].items()}
    for method, label in labels.items():
        acc_a = [100 * rows[method]["test_balanced_acc"]["mean"] for _, rows in a]
        acc_b = [100 * rows[method]["test_balanced_acc"]["mean"] for _, rows in b]
        worst_a = [100 * rows[method]["test_worst_class_acc"]["mean"] for _, rows in a]
        worst_b = [100 * rows[method]["test_worst_class_acc"]["mean"] for _, rows in b]
        cells = " | ".join(f"{x:.2f} / {y:.2f}" for x, y in zip(acc_a, acc_b, strict=True))
        difference = [x - y for x, y in zip(acc_a, acc_b, strict=True)]
        lines.append(
            f"| {label} | {cells} | {_spread(acc_a)} | {_spread(acc_b)} | "
            f"{_spread(difference)} | {statistics.mean(worst_a):.1f} / "
            f"{statistics.mean(worst_b):.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", nargs="+", type=Path, required=True, help="arm a's study folders")
    parser.add_argument("--b", nargs="+", type=Path, required=True, help="arm b's study folders")
    args = parser.parse_args(argv)
    print(table(args.a, args.b))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
