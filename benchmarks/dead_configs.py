"""Dead regions of a search space: the share of random configs that do not learn at all.

Samples ``--n`` random configs of ``--space`` (fixed ``--seed``), trains each for ``--epochs``
on a stratified ``--subset``-image part of kmnist10k's training split (validated on the split's
1,600 validation images), with the learning-rate schedule's horizon at ``--horizon`` epochs as in
a BOHB run (max budget 9), and counts the configs that diverged or are still at chance
(``autocnn.train.trainer.not_learning``: train accuracy and validation balanced accuracy below
14.5 % for 10 classes). One line per config shows the hyperparameters that usually decide it.

    nice python benchmarks/dead_configs.py --data-dir /work/shared/data/kmnist --n 40 --seed 0
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from autocnn import data
from autocnn.space import get_space, sample_configs
from autocnn.train import train
from autocnn.train.trainer import not_learning

SHOWN = ("optimizer", "learning_rate", "batch_size", "lr_schedule", "weight_decay", "batchnorm",
         "n_stages", "residual", "head", "dropout_rate", "label_smoothing")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/work/shared/data/kmnist")
    parser.add_argument("--space", default="extended")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--horizon", type=float, default=9.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="JSON file for the per-config results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    full = data.load("kmnist10k", "train", data_dir=args.data_dir)
    train_full, val_set = data.train_val_split(full, 0.2, seed=0)
    train_set = data.stratified_subset(train_full, args.subset / len(train_full), seed=0)
    configs = sample_configs(get_space(args.space), args.n, seed=args.seed)
    rows, started = [], time.time()
    for index, config in enumerate(configs):
        result = train(config, train_set, val_set, epochs=args.epochs, horizon=args.horizon,
                       seed=0, device="cpu")  # fmt: skip
        dead = result.status != "ok" or not_learning(result.history[-1], train_set.n_classes)
        why = "diverged" if result.status != "ok" else "not learning" if dead else "ok"
        last = result.history[-1] if result.history else None
        row = {
            "index": index,
            "outcome": why,
            "train_acc": last.train_acc if last else None,
            "val_balanced_acc": result.val_balanced_acc,
            "steps": result.steps,
            **{k: config.get(k) for k in SHOWN},
            "config": config,
        }
        rows.append(row)
        shown = " ".join(f"{k}={config.get(k)}" for k in SHOWN if k in config)
        print(f"{index:3d} {why:12s} train {row['train_acc'] or 0:.2f} "
              f"val {result.val_balanced_acc or 0:.2f} steps {result.steps:3d} {shown}",
              flush=True)  # fmt: skip
    n_dead = sum(r["outcome"] != "ok" for r in rows)
    print(f"{args.space}: {n_dead}/{len(rows)} = {n_dead / len(rows):.0%} do not learn "
          f"({sum(r['outcome'] == 'diverged' for r in rows)} diverged); "
          f"{time.time() - started:.0f} s")  # fmt: skip
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
