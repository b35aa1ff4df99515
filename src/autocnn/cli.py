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
from autocnn.optimize.settings import DATA_OPTIONS, add_search_options


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """--dataset, --data-dir, --val-fraction, --split-seed: as a search declares them."""
    from autocnn.optimize.settings import RunSettings, add_arguments

    add_arguments(parser, RunSettings, only=DATA_OPTIONS)


def cmd_datasets(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from autocnn import api

    rows = api.datasets(args.data_dir)
    names = Table(
        title="autocnn datasets: names for DATASET / --dataset",
        caption="missing official files are downloaded on first use",
    )
    names.add_column("name", no_wrap=True)
    for column in ("train", "test", "classes"):
        names.add_column(column, justify="right", no_wrap=True)
    names.add_column("status")
    for row in rows:
        sizes = ("-" if n is None else f"{n:,}" for n in (row.n_train, row.n_test, row.n_classes))
        names.add_row(row.name, *sizes, row.status or "-")
    files = Table(title="official files")
    for column in ("dataset", "file", "status"):
        files.add_column(column, no_wrap=True)
    files.add_column("where", overflow="fold")
    seen = set()
    for f in (f for row in rows if row.kind == "official" for f in row.files):
        if f.file not in seen:
            seen.add(f.file)
            files.add_row(f.dataset, f.file, f.status, str(f.path or "-"))
    console = Console(highlight=False)
    console.print(names)
    for row in rows:
        console.print(f"[bold]{row.name}[/bold]: {escape(row.description)}")
    console.print(files)
    return 0


def cmd_make_synthetic(args: argparse.Namespace) -> int:
    from autocnn import api
    from autocnn.data import load

    paths = api.make_synthetic(
        args.like, out=args.out, scale=args.scale, seed=args.seed, image_size=args.image_size
    )
    name = f"npz:{args.out}"
    counts = load(name, "train").class_counts()
    n_test = len(load(name, "test"))
    print(
        f"wrote {len(paths)} files to {args.out}: {int(counts.sum()):,} train / {n_test:,} test "
        f"images, {len(counts)} classes, {int(counts.max())} -> {int(counts.min())} training "
        f"images per class; use it as {name}"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from autocnn import api
    from autocnn.optimize.settings import RunSettings, given

    data_options = {k: v for k, v in given(args, RunSettings).items() if k in DATA_OPTIONS}
    result = api.train(
        config=args.config,
        out=args.out,
        space=args.space,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        progress=not args.quiet,
        **data_options,
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
    from autocnn.optimize.settings import Execution, RunSettings, given
    from autocnn.progress import RunProgress

    resume = args.resume is not None
    out = args.resume if resume else args.out
    if out is None:
        raise AutocnnError("optimize needs --out RUN_DIR (a new run) or --resume RUN_DIR")
    options = {**given(args, RunSettings), **given(args, Execution)}
    with RunProgress(enabled=not args.quiet) as progress:
        summary = api.optimize(
            out=out,
            resume=resume,
            warm_start=args.warm_start,
            on_event=progress.on_event,
            **options,
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
    from autocnn.optimize.store import Store

    with Store.open(args.run, readonly=True) as store:
        stopped = store.n_stopped_early()
    if stopped:
        print(f"stopped early by their learning curve: {stopped} (counted as ok)")
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

    p = commands.add_parser(
        "datasets",
        help="every dataset name the commands take: sizes, where the files are, md5 status",
    )
    p.add_argument("--data-dir", default=None, help="also look in this folder")
    p.set_defaults(func=cmd_datasets)

    p = commands.add_parser(
        "make-synthetic",
        help="a small synthetic stand-in of k49 / kmnist in the official npz file names",
        description="Write learnable synthetic images with a release's class shape (K49: 49 "
        "classes, long tail 6,000 -> 400 at full scale) at a fraction of its size, as "
        "<prefix>-{train,test}-{imgs,labels}.npz; pass the folder as npz:DIR. Example: autocnn "
        "make-synthetic --like k49 --scale 0.01 --out data/k49-synthetic",
    )
    p.add_argument("--like", default="k49", choices=["k49", "kmnist"], help="release to imitate")
    p.add_argument("--out", required=True, help="folder for the four .npz files")
    p.add_argument("--scale", type=float, default=0.01, help="fraction of the release's size")
    p.add_argument("--seed", type=int, default=0, help="seed of the class patterns and images")
    p.add_argument("--image-size", type=int, default=28, help="image height and width")
    p.set_defaults(func=cmd_make_synthetic)

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
    p.add_argument(
        "--precision",
        default="auto",
        help="auto (bf16 autocast where the hardware runs it natively), fp32 or bf16",
    )
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
    add_search_options(p)
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
    p.add_argument("--quiet", action="store_true", help="no live progress display")
    p.set_defaults(func=cmd_optimize)
    from autocnn.fit.command import add_commands as add_fit_commands

    add_fit_commands(commands)  # the main command: listed beside optimize

    p = commands.add_parser("status", help="progress and incumbent of a run (also while it runs)")
    p.add_argument("run", help="run folder")
    p.set_defaults(func=cmd_status)

    p = commands.add_parser("export", help="write HpBandSter's configs.json / results.json")
    p.add_argument("run", help="run folder")
    p.add_argument("--out", required=True, help="folder for the two files")
    p.set_defaults(func=cmd_export)
    # Commands of the later pipeline stages live beside their code (argparse only, as here).
    from autocnn.final.command import add_commands as add_final_commands
    from autocnn.report.command import add_commands as add_report_commands
    from autocnn.study.command import add_commands as add_study_commands
    from autocnn.transfer.command import add_commands as add_transfer_commands

    add_final_commands(commands)
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
