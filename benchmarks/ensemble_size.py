"""How much does each more net of one config add? Test accuracy of k-net ensembles, from nets
already trained.

Issue #13: a fit's final stage trains the kept config as ``MAX_MEMBERS`` nets of different seeds
(:mod:`autocnn.fit.plan`). This reads finished nets (checkpoints of the same config trained on
the same data, e.g. ``FIT/final/models/*.pt`` of several fits and baselines), computes each
net's test probabilities once, and reports for every k the accuracy of the averaged
probabilities over **all** k-subsets of the nets (mean, min, max): the value of a k-th member at
the epochs these nets had, without training anything. Nets of different lengths can be given as
groups (``--group NAME PATH...``); subsets are drawn within a group, so "k nets of ~250 epochs"
and "k nets of ~800 epochs" are compared at equal k.

This reads the test split (an analysis of finished final models, as ``autocnn predict``
would; no search reads it). Refuses nets whose configs, input shapes or classes differ.

Example::

    python benchmarks/ensemble_size.py --dataset kmnist10k --data-dir ../shared/data/kmnist \\
        --group fit /work/out/fit30h/seed-*/final/models/*.pt \\
        --group ctl /work/out/ctl13/seed-*/final/models/*.pt
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np


def _probabilities(paths: list[Path], images) -> tuple[list[np.ndarray], list[dict]]:
    import torch

    from autocnn.final.sources import load_together
    from autocnn.train import class_probabilities, model_from_checkpoint

    checkpoints, _, _ = load_together(paths, "give nets of one dataset")
    configs = {c["config"] for c in checkpoints}
    if len(configs) != 1:
        sys.exit("the nets have different configs; compare nets of one config")
    x = torch.from_numpy(images)
    out, meta = [], []
    for path, checkpoint in zip(paths, checkpoints, strict=True):
        net, norm, _ = model_from_checkpoint(checkpoint, where=path)
        out.append(class_probabilities(net, x, normalization=norm).numpy())
        epochs = int(checkpoint["step"]) / int(checkpoint["steps_per_epoch"])
        meta.append({"path": str(path), "epochs": epochs})
    return out, meta


def ensemble_table(probs: list[np.ndarray], labels: np.ndarray) -> list[dict]:
    """For k = 1..len(probs): accuracy of averaged probabilities over all k-subsets.

    >>> labels = np.array([0, 1, 1])
    >>> a = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])  # 2 of 3 right
    >>> b = np.array([[0.4, 0.6], [0.1, 0.9], [0.3, 0.7]])  # 2 of 3 right, another mistake
    >>> [round(r["mean"], 3) for r in ensemble_table([a, b], labels)]
    [0.667, 1.0]
    """
    rows = []
    for k in range(1, len(probs) + 1):
        accs = [
            float((np.mean([probs[i] for i in subset], axis=0).argmax(1) == labels).mean())
            for subset in itertools.combinations(range(len(probs)), k)
        ]
        rows.append({"k": k, "subsets": len(accs), "mean": float(np.mean(accs)),
                     "min": min(accs), "max": max(accs)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir")
    parser.add_argument(
        "--group", nargs="+", action="append", required=True, metavar=("NAME", "MODEL"),
        help="a name, then its nets' .pt files",
    )  # fmt: skip
    parser.add_argument("--json", help="also write the tables here")
    args = parser.parse_args(argv)
    from autocnn import data

    test = data.load(args.dataset, "test", data_dir=args.data_dir)
    images, labels = test.x.numpy(), test.y.numpy()
    report = {}
    for name, *models in args.group:
        if not models:
            sys.exit(f"--group {name}: no model files")
        probs, meta = _probabilities([Path(m) for m in models], images)
        report[name] = {"nets": meta, "table": ensemble_table(probs, labels)}
        epochs = [m["epochs"] for m in meta if m["epochs"] is not None]
        span = f", {min(epochs):.0f}-{max(epochs):.0f} epochs" if epochs else ""
        print(f"\n{name}: {len(models)} nets{span}, {len(labels)} test images")
        print("| nets | subsets | mean | min | max |\n|---|---|---|---|---|")
        for r in report[name]["table"]:
            print(f"| {r['k']} | {r['subsets']} | {100 * r['mean']:.2f} % | "
                  f"{100 * r['min']:.2f} % | {100 * r['max']:.2f} % |")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
