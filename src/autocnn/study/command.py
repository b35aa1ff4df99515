"""``autocnn study``: argument parsing only (wired into ``autocnn.cli``).

Example::

    autocnn study --source kmnist10k-source --dest kmnist10k-dest-longtail \
        --data-dir ../shared/data/kmnist --preset small --out studies/local
"""

from __future__ import annotations

import argparse


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``study`` to the CLI's sub-parsers."""
    p = subparsers.add_parser(
        "study",
        help="the whole experiment: default, BOHB, evaluation, weight + config transfer, table",
        description="Default config on source and destination, BOHB on the source, final "
        "evaluation, weight transfer, configuration transfer (and BOHB) on the destination, "
        "final table in OUT/study.md and OUT/study.json. Resumable with --resume.",
    )
    p.add_argument("--source", default="kmnist", help="source dataset (kmnist)")
    p.add_argument("--dest", default="k49", help="destination dataset (k49)")
    p.add_argument("--out", required=True, help="study folder")
    p.add_argument("--preset", default="small", choices=["smoke", "small", "paper"])
    p.add_argument("--space", default="seed", help="search space: seed or extended")
    p.add_argument("--data-dir", default=None, help="folder holding the datasets' files")
    p.add_argument("--workers", type=int, default=1, help="parallel workers for searches (1)")
    p.add_argument("--seed", type=int, default=0, help="seed of searches and training")
    p.add_argument(
        "--init-weights", action="store_true", help="config transfer starts from source weights"
    )
    p.add_argument(
        "--no-dest-bohb", action="store_true", help="skip BOHB from scratch on the destination"
    )
    p.add_argument(
        "--no-imbalance", action="store_true",
        help="no class-imbalance handling on the destination: its searches fix it to none and "
        "weight transfer fine-tunes without (to measure what the handling brings)",
    )  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue the study in --out")
    p.add_argument("--quiet", action="store_true", help="print no stage progress")
    p.set_defaults(func=cmd_study)


def cmd_study(args: argparse.Namespace) -> int:
    from autocnn.study.pipeline import study

    def on_stage(stage: str, event: str) -> None:
        if not args.quiet:
            print(f"[study] {stage}: {event}", flush=True)

    result = study(
        args.source,
        args.dest,
        out=args.out,
        preset=args.preset,
        resume=args.resume,
        space=args.space,
        data_dir=args.data_dir,
        workers=args.workers,
        seed=args.seed,
        init_weights=args.init_weights,
        dest_bohb=not args.no_dest_bohb,
        imbalance=not args.no_imbalance,
        on_stage=on_stage,
    )
    print(result["markdown"])
    return 0
