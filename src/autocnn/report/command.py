"""``autocnn report``: argument parsing only; the work is :func:`autocnn.report.report`.

The lead wires :func:`add_commands` into ``autocnn.cli``::

    from autocnn.report.command import add_commands
    add_commands(commands)   # the sub-parsers object of the main parser
"""

from __future__ import annotations

import argparse


def cmd_report(args: argparse.Namespace) -> int:
    from autocnn.report.build import report

    result = report(args.source, args.out, metrics=args.metrics, top=args.top, force=args.force)
    print(f"wrote {result.html} ({len(result.images)} figures, images embedded)")
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the CLI's sub-commands."""
    p = subparsers.add_parser(
        "report",
        help="plots, hyperparameter importance and one self-contained report.html",
        description="Write PNGs and one self-contained report.html (images embedded, opens "
        "offline) for a run folder, a study folder or a metrics JSON: incumbent trajectory, "
        "losses and workers over time, per-budget histograms and rank correlations, learning "
        "curves of the top configurations, hyperparameter importance, confusion matrices and "
        "per-class accuracy. Example: autocnn report runs/kmnist --out runs/kmnist/report",
    )
    p.add_argument("source", help="run folder (run.db), study folder, or metrics JSON file")
    p.add_argument("--out", default=None, help="output folder (default SOURCE/report)")
    p.add_argument(
        "--metrics",
        action="append",
        default=None,
        metavar="JSON",
        help="also show the confusion matrix in this metrics JSON (repeatable), e.g. a "
        "test-set evaluation of the incumbent",
    )
    p.add_argument("--top", type=int, default=5, help="configurations tabled and plotted (5)")
    p.add_argument("--force", action="store_true", help="replace an existing report in --out")
    p.set_defaults(func=cmd_report)
