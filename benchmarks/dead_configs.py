"""Dead regions of a search space: the share of random configs that do not learn at all.

Samples ``--n`` random configs of ``--space`` (fixed ``--seed``) and trains each on a stratified
``--subset``-image part of kmnist10k's training split, validated on a stratified ``--val`` part
of the split's 1,600 validation images, the way a search's smallest budget judges it: for the
fewest whole epochs (at least ``--epochs``) that give ``--min-steps`` optimizer steps, with the
learning-rate schedule's horizon at those epochs (``--fidelity annealed``: every budget a
complete schedule) and the trainer's own stop rule on (``stop_if_not_learning``: judged after a
whole epoch with 50 steps and a third of the schedule behind it; here that is the schedule's
end or near it, so the count is of configs still at chance when their schedule is done). It
counts the configs that diverged or are still at chance (``autocnn.train.trainer.not_learning``:
train accuracy and validation balanced accuracy below 14.5 % for 10 classes). One line per
config shows the hyperparameters that usually decide it.
A config costs about 50 x batch-size training images (~15 CPU-seconds on average).

    nice python benchmarks/dead_configs.py --data-dir /work/shared/data/kmnist --n 24 --seed 0 \
        --val 400

``--min-steps 0 --epochs 1 --horizon 9`` is the first protocol (1 epoch of a 9-epoch schedule,
no stop rule): with batches of 200+ that is under 10 steps, fewer than the trainer itself waits
before it calls a net dead, so it overstated the dead share (31/40 for the extended space).

Results for the extended space with the command above (24 configs, ~10 CPU-minutes each):
10/24 = 42 % dead with one learning rate for every optimizer (1e-4..0.3) and batchnorm a fair
coin, every one of them without batchnorm; 3/24 = 12 % with a learning-rate range per optimizer
and batchnorm drawn 9 times in 10 (the three: SGD, one without batchnorm).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from autocnn import data
from autocnn.space import get_space, sample_configs
from autocnn.train import train
from autocnn.train.trainer import NOT_LEARNING_MIN_STEPS, not_learning

SHOWN = ("optimizer", "learning_rate", "sgd_learning_rate", "batch_size", "lr_schedule",
         "weight_decay", "batchnorm", "n_stages", "residual", "head", "dropout_rate",
         "label_smoothing")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/work/shared/data/kmnist")
    parser.add_argument("--space", default="extended")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--val", type=int, default=1600, help="validation images (stratified)")
    parser.add_argument("--epochs", type=float, default=1.0, help="at least this many epochs")
    parser.add_argument(
        "--min-steps",
        type=int,
        default=NOT_LEARNING_MIN_STEPS,
        help="train the fewest whole epochs with this many steps (0: --epochs)",
    )
    parser.add_argument(
        "--horizon",
        type=float,
        default=None,
        help="LR schedule length in epochs (default: the epochs trained)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="JSON file for the per-config results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    full = data.load("kmnist10k", "train", data_dir=args.data_dir)
    train_full, val_set = data.train_val_split(full, 0.2, seed=0)
    train_set = data.stratified_subset(train_full, args.subset / len(train_full), seed=0)
    if args.val < len(val_set):
        val_set = data.stratified_subset(val_set, args.val / len(val_set), seed=0)
    configs = sample_configs(get_space(args.space), args.n, seed=args.seed)
    rows, started, n_classes = [], time.time(), train_set.n_classes
    for index, config in enumerate(configs):
        steps_per_epoch = len(train_set) // min(config["batch_size"], len(train_set))
        epochs = max(args.epochs, math.ceil(args.min_steps / steps_per_epoch))
        result = train(config, train_set, val_set, epochs=epochs, horizon=args.horizon,
                       seed=0, device="cpu", stop_if_not_learning=args.min_steps > 0)  # fmt: skip
        if result.status != "ok":  # the stop rule's "not learning" ends a run as "diverged"
            why = "not learning" if (result.error or "").startswith("not") else "diverged"
        else:
            why = "not learning" if not_learning(result.history[-1], n_classes) else "ok"
        last = result.history[-1] if result.history else None
        row = {
            "index": index,
            "outcome": why,
            "train_acc": last.train_acc if last else None,
            "val_balanced_acc": result.val_balanced_acc,
            "steps": result.steps,
            "seconds": round(result.seconds, 1),
            **{k: config.get(k) for k in SHOWN},
            "config": config,
        }
        rows.append(row)
        shown = " ".join(f"{k}={config.get(k)}" for k in SHOWN if k in config)
        print(f"{index:3d} {why:12s} train {row['train_acc'] or 0:.2f} "
              f"val {result.val_balanced_acc or 0:.2f} steps {result.steps:3d} "
              f"{result.seconds:4.1f}s {shown}",
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
