"""Command line: argument parsing and printing only; every command calls ``autocnn.api``.

User errors (:class:`autocnn.errors.AutocnnError`) are printed without a traceback and exit 2.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence

from autocnn import __version__
from autocnn.errors import AutocnnError, Terminated


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", required=True, help="kmnist, k49, kmnist10k, npz:PATH or idx:DIR"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder holding the official files (else $AUTOCNN_DATA_DIR, else the "
        "download cache ~/.cache/autocnn)",
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="stratified validation share of the training data (default 0.2)",
    )
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the train/val split")


def cmd_datasets(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from autocnn import api

    table = Table(title="autocnn datasets")
    for column in ("dataset", "file", "status", "where"):
        table.add_column(column)
    for row in api.datasets(args.data_dir):
        table.add_row(row.dataset, row.file, row.status, str(row.path or "-"))
    Console().print(table)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from autocnn import api

    result = api.train(
        args.dataset,
        args.config,
        out=args.out,
        space_name=args.space,
        epochs=args.epochs,
        data_dir=args.data_dir,
        val_fraction=args.val_fraction,
        seed=args.seed,
        split_seed=args.split_seed,
        device=args.device,
        progress=not args.quiet,
    )
    if result.status != "ok":
        print(
            f"status {result.status} after {result.epochs:g} epochs: {result.error}; "
            f"wrote {args.out}/metrics.json"
        )
        return 1
    print(
        f"status ok: validation accuracy {result.val_acc:.4f}, balanced accuracy "
        f"{result.val_balanced_acc:.4f} after {result.epochs:g} epochs in {result.seconds:.1f} s "
        f"({result.n_params} parameters); wrote {args.out}/metrics.json"
    )
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from autocnn import api
    from autocnn.progress import RunProgress

    resume = args.resume is not None
    out = args.resume if resume else args.out
    if out is None:
        raise AutocnnError("optimize needs --out RUN_DIR (a new run) or --resume RUN_DIR")
    iterations = args.iterations
    if iterations == 0:  # no bracket limit: the run ends at --time-limit / --max-evaluations
        if args.time_limit is None and args.max_evaluations is None and not resume:
            raise AutocnnError(
                "--iterations 0 runs until --time-limit or --max-evaluations; give one of them"
            )
        iterations = None
    with RunProgress(enabled=not args.quiet) as progress:
        summary = api.optimize(
            args.dataset,
            out=out,
            space_name=args.space,
            method=args.method,
            eta=args.eta,
            min_budget=args.min_budget,
            max_budget=args.max_budget,
            iterations=iterations,
            schedule=args.schedule,
            fidelity=args.fidelity,
            epochs=args.epochs,
            workers=args.workers,
            seed=args.seed,
            time_limit=args.time_limit,
            hard_time_limit=args.hard_time_limit,
            max_evaluations=args.max_evaluations,
            resume=resume,
            warm_start=args.warm_start,
            continue_training=not args.no_continue,
            start_with_default=not args.no_default_first,
            data_dir=args.data_dir,
            val_fraction=args.val_fraction,
            split_seed=args.split_seed,
            metric=args.metric,
            on_event=progress.on_event,
            backend=args.backend,
            address=args.address,
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            max_retries=args.max_retries,
            storage=args.storage,
        )
    print(
        f"stopped ({summary.stopped}) after {summary.n_evaluations} evaluations "
        f"({summary.n_this_call} in this call, {summary.seconds:.0f} s); by status: "
        f"{summary.counts}"
    )
    trained, from_scratch = api.continuation_savings(out)
    if from_scratch > trained:
        print(
            f"checkpoint continuation: trained {trained:g} epochs instead of {from_scratch:g} "
            f"({1 - trained / from_scratch:.0%} saved)"
        )
    if summary.incumbent is None:
        print("no evaluation finished successfully: no incumbent")
        return 1
    inc = summary.incumbent
    print(
        f"incumbent: config {inc.config_id}, validation error {inc.loss:.4f} at budget "
        f"{inc.budget:g}; written to {out}/incumbent.json"
    )
    print(json.dumps(inc.config, indent=1, sort_keys=True))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from autocnn import api

    summary = api.status(args.run)
    print(
        f"run {args.run}: {summary.n_done} evaluations finished, {summary.n_configs} configs; "
        f"by status {summary.counts}"
    )
    print(f"compute: {summary.seconds:.0f} s of evaluations, {summary.cost:g} epochs trained")
    if summary.incumbent is not None:
        inc = summary.incumbent
        print(
            f"incumbent: config {inc.config_id}, validation error {inc.loss:.4f} "
            f"at budget {inc.budget:g}"
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from autocnn import api

    paths = api.export(args.run, args.out)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autocnn", description="Configure a CNN (architecture + training) with BOHB."
    )
    parser.add_argument("--version", action="version", version=f"autocnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("datasets", help="known datasets, where their files are, md5 status")
    p.add_argument("--data-dir", default=None, help="also look in this folder")
    p.set_defaults(func=cmd_datasets)

    p = commands.add_parser("train", help="train one configuration and record its metrics")
    add_data_options(p)
    p.add_argument(
        "--config", default="default", help="'default' (the space's default config) or a JSON file"
    )
    p.add_argument(
        "--space", default="seed", help="search space the config belongs to: seed, extended"
    )
    p.add_argument("--epochs", type=float, default=10.0, help="epochs (fractions allowed)")
    p.add_argument("--out", required=True, help="output folder (must not hold a result yet)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = commands.add_parser(
        "optimize",
        help="BOHB over a search space; records every evaluation in RUN/run.db",
        description="Search a configuration with BOHB (or Hyperband / random search). Budgets "
        "are epochs (or data fractions with --fidelity data). Example: autocnn optimize "
        "--dataset kmnist10k --data-dir ../shared/data/kmnist --eta 3 --min-budget 1 "
        "--max-budget 9 --iterations 4 --workers 2 --out runs/kmnist",
    )
    p.add_argument(
        "--dataset", help="kmnist, k49, kmnist10k, npz:PATH or idx:DIR (not needed with --resume)"
    )
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    p.add_argument("--val-fraction", type=float, default=0.2, help="validation share (0.2)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/val split")
    p.add_argument("--space", default="seed", help="search space: seed (default) or extended")
    p.add_argument(
        "--method",
        default="bohb",
        choices=["bohb", "bohb-kde", "hyperband", "random"],
        help="bohb: TPE-style model (default); bohb-kde: HpBandSter's KDE model; "
        "hyperband: no model; random: random search at --max-budget",
    )
    p.add_argument("--eta", type=float, default=3, help="successive-halving rate (3)")
    p.add_argument("--min-budget", type=float, default=1, help="smallest budget, epochs (1)")
    p.add_argument("--max-budget", type=float, default=9, help="largest budget, epochs (9)")
    p.add_argument(
        "--iterations",
        type=int,
        default=4,
        help="Hyperband brackets to run (4); 0: no limit, stop at --time-limit/--max-evaluations",
    )
    p.add_argument(
        "--schedule",
        default="paper",
        choices=["paper", "hpbandster"],
        help="bracket sizes: the BOHB paper's (default) or HpBandSter's exact grid",
    )
    p.add_argument(
        "--fidelity",
        default="epochs",
        choices=["epochs", "annealed", "data", "both"],
        help="what a budget buys: epochs (default; the LR schedule spans the max budget, promoted "
        "configs continue), annealed (epochs, each with its own complete LR schedule), a data "
        "fraction, or both",
    )
    p.add_argument(
        "--epochs",
        type=float,
        default=0.0,
        help="with --fidelity data/both: epochs at the full budget (default max-budget)",
    )
    p.add_argument(
        "--metric",
        default="balanced_accuracy",
        choices=["balanced_accuracy", "accuracy"],
        help="validation metric to maximise; loss = 1 - metric",
    )
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the optimizer and of training")
    p.add_argument(
        "--time-limit", type=float, default=None, help="seconds; no new evaluation starts after it"
    )
    p.add_argument(
        "--hard-time-limit",
        action="store_true",
        help="at --time-limit, stop running evaluations too (they stay pending; --resume re-runs "
        "them) instead of letting them finish",
    )
    p.add_argument("--max-evaluations", type=int, default=None, help="stop after this many")
    p.add_argument(
        "--no-continue",
        action="store_true",
        help="retrain promoted configs from scratch (as HpBandSter does) instead of "
        "continuing their checkpoints",
    )
    p.add_argument(
        "--no-default-first",
        action="store_true",
        help="sample the first config at random instead of starting with the space's default",
    )
    p.add_argument(
        "--warm-start",
        default=None,
        metavar="RUN",
        help="feed an earlier run's results to the model",
    )
    p.add_argument("--out", default=None, help="new run folder")
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN",
        help="continue RUN where it stopped (its settings are read from RUN/run.db)",
    )
    ray = p.add_argument_group(
        "distributed (Ray)",
        "run each evaluation as a Ray task; needs pip install 'autocnn[ray]'. Example: "
        "autocnn optimize --dataset k49 --backend ray --address HEAD:6379 --out runs/k49",
    )
    ray.add_argument(
        "--backend",
        default="local",
        choices=["local", "ray"],
        help="local: this process or --workers processes (default); ray: a Ray cluster, where "
        "--workers > 1 caps the trials in flight (default: as many as its resources fit)",
    )
    ray.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join: auto (on a node of it) or HOST:PORT of its head; "
        "default: start a local Ray instance",
    )
    ray.add_argument(
        "--cpus-per-trial", type=float, default=1.0, help="CPUs each evaluation reserves (1)"
    )
    ray.add_argument(
        "--gpus-per-trial", type=float, default=0.0, help="GPUs each evaluation reserves (0)"
    )
    ray.add_argument(
        "--max-retries",
        type=int,
        default=2,
        help="re-runs of an evaluation whose worker or node died before it is recorded as "
        "crashed (2)",
    )
    ray.add_argument(
        "--storage",
        default=None,
        metavar="DIR",
        help="folder every node sees at the same path, for the checkpoints (RUN/trials links "
        "to DIR/trials); default: the run folder",
    )
    p.add_argument("--quiet", action="store_true", help="no live progress display")
    p.set_defaults(func=cmd_optimize)

    p = commands.add_parser("status", help="progress and incumbent of a run (also while it runs)")
    p.add_argument("run", help="run folder")
    p.set_defaults(func=cmd_status)

    p = commands.add_parser("export", help="write HpBandSter's configs.json / results.json")
    p.add_argument("run", help="run folder")
    p.add_argument("--out", required=True, help="folder for the two files")
    p.set_defaults(func=cmd_export)
    # Commands of the later pipeline stages live beside their code (argparse only, as here).
    from autocnn.report.command import add_commands as add_report_commands
    from autocnn.study.command import add_commands as add_study_commands
    from autocnn.transfer.command import add_commands as add_transfer_commands

    add_transfer_commands(commands)
    add_study_commands(commands)
    add_report_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def terminate(signum: int, frame: object) -> None:  # SIGTERM: stop as on Ctrl-C
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends the process at once
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals to the host program
        previous = None
    try:
        return args.func(args)
    except AutocnnError as error:
        print(f"autocnn: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print(
            "autocnn: terminated (SIGTERM); evaluations that were running stay pending, "
            "continue a run with: autocnn optimize --resume RUN",
            file=sys.stderr,
        )
        return 143
    except KeyboardInterrupt:
        print("autocnn: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
