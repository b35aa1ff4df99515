"""``autocnn transfer weights|config``: argument parsing only (wired into ``autocnn.cli``).

Example::

    autocnn transfer weights --from runs/kmnist-final --dataset k49 --out runs/k49-weights \
        --epochs 9 --freeze-epochs 1 --backbone-lr-factor 0.1
    autocnn transfer config --from runs/kmnist --dataset k49 --out runs/k49-config --iterations 2
"""

from __future__ import annotations

import argparse
import json


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
    p.add_argument("--dataset", help="destination dataset (not needed with --resume)")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    p.add_argument("--val-fraction", type=float, default=0.2, help="validation share (0.2)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/val split")
    p.add_argument("--search", default=None, metavar="HP,...", help="also search these")
    p.add_argument(
        "--init-weights", nargs="?", const=True, default=False, metavar="MODEL",
        help="start every trial from the source model's weights (or from MODEL's)",
    )  # fmt: skip
    p.add_argument("--method", default="bohb", choices=["bohb", "bohb-kde", "hyperband", "random"])
    p.add_argument("--eta", type=float, default=3, help="successive-halving rate (3)")
    p.add_argument("--min-budget", type=float, default=1, help="smallest budget, epochs (1)")
    p.add_argument("--max-budget", type=float, default=9, help="largest budget, epochs (9)")
    p.add_argument("--iterations", type=int, default=4, help="Hyperband brackets (4)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the optimizer and training")
    p.add_argument("--time-limit", type=float, default=None, help="seconds")
    p.add_argument("--max-evaluations", type=int, default=None, help="stop after this many")
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
    from autocnn.progress import RunProgress

    with RunProgress(enabled=not args.quiet) as progress:
        summary = api.transfer_config(
            args.source,
            args.dataset,
            out=args.out,
            search=args.search,
            init_weights=args.init_weights,
            method=args.method,
            eta=args.eta,
            min_budget=args.min_budget,
            max_budget=args.max_budget,
            iterations=args.iterations,
            workers=args.workers,
            seed=args.seed,
            time_limit=args.time_limit,
            max_evaluations=args.max_evaluations,
            resume=args.resume,
            data_dir=args.data_dir,
            val_fraction=args.val_fraction,
            split_seed=args.split_seed,
            on_event=progress.on_event,
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
