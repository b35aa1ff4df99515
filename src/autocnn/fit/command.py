"""``autocnn fit``: argument parsing and printing only (wired into ``autocnn.cli``).

Example::

    autocnn fit kmnist10k --data-dir ../shared/data/kmnist --time 5m --out fits/k10k
    autocnn fit --resume fits/k10k --baseline
"""

from __future__ import annotations

import argparse

from autocnn.errors import AutocnnError


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``fit`` to the CLI's sub-parsers."""
    p = subparsers.add_parser(
        "fit",
        help="a dataset and a time budget in, the best model it buys out (plans everything)",
        description="Measure this machine, plan the search (fidelity, budgets, workers, "
        "search/final split), search with BOHB, train the incumbent for the rest of the "
        "budget, test it once, export it and write a report. Example: autocnn fit kmnist10k "
        "--data-dir ../shared/data/kmnist --time 5m --out fits/k10k",
    )
    p.add_argument(
        "dataset",
        nargs="?",
        default=None,
        help="a name `autocnn datasets` lists, npz:PATH, idx:DIR, dir:DIR",
    )
    p.add_argument("--time", default=None, help="wall-clock budget: 30m, 90s, 1.5h, 1h30m")
    p.add_argument("--out", default=None, help="new fit folder")
    p.add_argument("--resume", default=None, metavar="DIR", help="continue a killed fit")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    p.add_argument("--space", default="extended", help="search space: extended (default), seed")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, search and training")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="afterwards, also train the space's default for the same budget (the bar to beat)",
    )
    p.add_argument("--no-portfolio", action="store_true", help="start from the default alone")
    p.add_argument(
        "--no-imbalance", action="store_true",
        help="no class-imbalance handling on imbalanced data: the search fixes it to none and "
        "the default trains with plain cross-entropy (to measure what the handling brings)",
    )  # fmt: skip
    p.add_argument(
        "--image-size", default="auto", metavar="PIXELS",
        help="the longer side to train on: auto (default: the images' own unless the budget "
        "cannot train at that size; large images are scaled down) or a number of pixels",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="measure and print the plan only")
    p.add_argument("--backend", default="local", choices=["local", "ray"], help="local or ray")
    p.add_argument("--address", default=None, help="Ray cluster address (with --backend ray)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="Ray: CPUs per evaluation")
    p.add_argument("--gpus-per-trial", type=float, default=0.0, help="Ray: GPUs per evaluation")
    p.add_argument("--quiet", action="store_true", help="no live progress display")
    p.set_defaults(func=cmd_fit)


def cmd_fit(args: argparse.Namespace) -> int:
    from autocnn import api
    from autocnn.fit.report_page import versus_baseline
    from autocnn.progress import RunProgress

    resume = args.resume is not None
    out = args.resume if resume else args.out
    if out is None:
        raise AutocnnError("fit needs --out DIR (a new fit) or --resume DIR")
    if not resume and (args.dataset is None or args.time is None):
        raise AutocnnError("fit needs a DATASET and --time, e.g. autocnn fit kmnist10k --time 5m")
    with RunProgress(enabled=not args.quiet) as progress:
        state = api.fit(
            args.dataset,
            time=args.time,
            out=out,
            data_dir=args.data_dir,
            space=args.space,
            seed=args.seed,
            portfolio=not args.no_portfolio,
            imbalance=not args.no_imbalance,
            image_size=args.image_size,
            baseline=args.baseline,
            dry_run=args.dry_run,
            resume=resume,
            backend=args.backend,
            address=args.address,
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            on_event=progress.on_event,
            log=lambda line: print(line, flush=True),
        )
    if args.dry_run:
        return 0
    s = state["summary"]
    print(
        f"done in {s['seconds']:.0f} s of {s['budget_seconds']:.0f} s ({s['budget_used']:.0%}): "
        f"{s['search_evaluations']} evaluations searched; {_kept(state)} trained "
        f"{s['final_epochs']:g} epochs"
    )
    print(
        f"test accuracy {100 * s['test_accuracy']:.2f} %, balanced accuracy "
        f"{100 * s['test_balanced_accuracy']:.2f} % ({s['n_params']} parameters)"
    )
    if "baseline_test_accuracy" in s:
        print(
            f"baseline (the default trained {s['baseline_epochs']:g} epochs, the same budget): "
            f"test accuracy {100 * s['baseline_test_accuracy']:.2f} %, balanced accuracy "
            f"{100 * s['baseline_test_balanced_accuracy']:.2f} %"
        )
        if s.get("vs_baseline"):
            print(versus_baseline(s["vs_baseline"]))
    members = s.get("final_members") or []
    if members:
        nets = ", ".join(
            f"seed {m['seed']}: {_percent(m['test_accuracy'])} alone, "
            f"{m['epochs_trained']:g} epochs"
            for m in members
        )
        print(
            f"config {s['incumbent_config_id']} as an ensemble of {len(members)} nets, "
            f"probabilities averaged ({nets})"
        )
        print(
            f"model: {out} (autocnn predict {out} IMAGES --out labels.npz averages the nets, "
            "IMAGES an .npz or a folder of image files; "
            f"{out}/export/ holds the ensemble as one model, {out}/model.pt its first net); "
            f"report: {out}/report/report.html; summary: {out}/fit.json"
        )
        return 0
    print(
        f"model: {out} (autocnn predict {out} IMAGES --out labels.npz, IMAGES an .npz or a "
        "folder of image files); "
        f"report: {out}/report/report.html; summary: {out}/fit.json"
    )
    return 0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def _kept(state: dict) -> str:
    """What the final trained, with the search's evidence for it: the validation error is from
    the config's largest budget, which can be a small rung (the default kept over a config not
    clearly better), so the budget is named."""
    s = state["summary"]
    config = s["incumbent_config_id"]
    which = "the default" if config in (0, None) else f"config {config}"
    if s["incumbent_val_loss"] is None:
        return f"{which} (no search result)"
    budget = s["incumbent_budget"]
    where = f"{budget:.0f} s" if state["plan"]["fidelity"] == "time" else f"{budget:g} epochs"
    return (
        f"{which} (validation error {s['incumbent_val_loss']:.4f} at its largest budget, {where})"
    )
