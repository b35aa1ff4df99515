"""``autocnn transfer weights|config``: argument parsing only (wired into ``autocnn.cli``).

Example::

    autocnn transfer weights --from runs/kmnist-final --dataset k49 --out runs/k49-weights \
        --epochs 9 --freeze-epochs 1 --backbone-lr-factor 0.1
    autocnn transfer config --from runs/kmnist --dataset k49 --out runs/k49-config --iterations 2
"""

from __future__ import annotations

import argparse
import json

from autocnn.optimize.settings import add_search_options
from autocnn.space.imbalance import IMBALANCE_CHOICES


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``transfer`` with its two sub-commands to the CLI's sub-parsers."""
    parser = subparsers.add_parser(
        "transfer", help="transfer weights or a configuration to another dataset"
    )
    commands = parser.add_subparsers(dest="transfer_command", required=True)

    p = commands.add_parser(
        "weights",
        help="new head for the destination, copy all other weights, fine-tune, test",
        description="Rebuild a trained network with a new head for DEST's classes, copy every "
        "other weight and BatchNorm statistic, fine-tune on DEST's training data and report "
        "test metrics over seeds as `autocnn evaluate` does.",
    )
    p.add_argument(
        "--from", dest="source", required=True, metavar="RUN_OR_MODEL",
        help="model.pt, an evaluate folder, or a run folder whose incumbent checkpoint was kept",
    )  # fmt: skip
    _data_options(p)
    p.add_argument("--out", required=True, help="output folder (must not hold a result yet)")
    p.add_argument("--epochs", type=float, default=9.0, help="fine-tuning epochs (9)")
    p.add_argument(
        "--freeze-epochs", type=int, default=0,
        help="train only the new head for this many epochs first (0)",
    )  # fmt: skip
    p.add_argument(
        "--backbone-lr-factor", type=float, default=1.0,
        help="learning-rate factor of the copied layers, e.g. 0.1 (1.0)",
    )  # fmt: skip
    p.add_argument("--learning-rate", type=float, default=None, help="override the source config's")
    p.add_argument(
        "--imbalance", default="auto", choices=IMBALANCE_CHOICES,
        help="class-imbalance handling of the fine-tuning: auto (logit adjustment on an "
        "imbalanced destination, else none), source (the source config's) or a method (auto)",
    )  # fmt: skip
    p.add_argument("--seeds", type=int, default=3, help="models trained and tested (3)")
    p.add_argument("--seed", type=int, default=0, help="first training seed (0)")
    p.add_argument(
        "--validate", action="store_true", help="also fine-tune on train/val and report val"
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.set_defaults(func=cmd_transfer_weights)

    p = commands.add_parser(
        "config",
        help="BOHB on a reduced space around the source incumbent, on DEST",
        description="Keep the source incumbent's architecture type; search widths, FC layers, "
        "batch size and learning rate (plus --search HP,...) with BOHB on DEST.",
    )
    p.add_argument(
        "--from", dest="source", metavar="RUN", help="a run folder, evaluate folder or config JSON"
    )
    p.add_argument("--search", default=None, metavar="HP,...", help="also search these")
    p.add_argument(
        "--init-weights", nargs="?", const=True, default=False, metavar="MODEL",
        help="start every trial from the source model's weights (or from MODEL's)",
    )  # fmt: skip
    add_search_options(p, skip=("space",))  # the space is the source's
    p.add_argument("--out", required=True, help="run folder (new, or the one to --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--quiet", action="store_true", help="no live progress display")
    p.set_defaults(func=cmd_transfer_config)


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="destination: k49, npz:PATH, ...")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    p.add_argument("--val-fraction", type=float, default=0.2, help="validation share (0.2)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/val split")


def cmd_transfer_weights(args: argparse.Namespace) -> int:
    from autocnn import api
    from autocnn.final.command import print_final

    result = api.transfer_weights(
        args.source,
        args.dataset,
        out=args.out,
        epochs=args.epochs,
        freeze_epochs=args.freeze_epochs,
        backbone_lr_factor=args.backbone_lr_factor,
        learning_rate=args.learning_rate,
        imbalance=args.imbalance,
        seeds=args.seeds,
        seed=args.seed,
        data_dir=args.data_dir,
        val_fraction=args.val_fraction,
        split_seed=args.split_seed,
        validate=args.validate,
        device=args.device,
    )
    print_final(result, args.out)
    return 0


def cmd_transfer_config(args: argparse.Namespace) -> int:
    from autocnn import api
    from autocnn.optimize.settings import Execution, RunSettings, given
    from autocnn.progress import RunProgress

    options = {**given(args, RunSettings), **given(args, Execution)}
    with RunProgress(enabled=not args.quiet) as progress:
        summary = api.transfer_config(
            args.source,
            out=args.out,
            search=args.search,
            init_weights=args.init_weights,
            resume=args.resume,
            on_event=progress.on_event,
            **options,
        )
    print(f"stopped ({summary.stopped}) after {summary.n_evaluations} evaluations")
    if summary.incumbent is None:
        print("no evaluation finished successfully: no incumbent")
        return 1
    incumbent = json.loads((summary.run_dir / "incumbent.json").read_text())
    print(
        f"incumbent: validation error {summary.incumbent.loss:.4f} at budget "
        f"{summary.incumbent.budget:g}; full config in {args.out}/incumbent.json"
    )
    print(json.dumps(incumbent["reduced_config"], indent=1, sort_keys=True))
    return 0
