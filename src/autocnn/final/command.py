"""``autocnn evaluate | predict``: argument parsing and printing only (wired into ``autocnn.cli``).

Example::

    autocnn evaluate runs/kmnist --out runs/kmnist-final --seeds 3
    autocnn predict runs/kmnist-final images.npz --out labels.npz [--ensemble]
"""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` and ``predict`` to the CLI's sub-parsers."""
    p = subparsers.add_parser(
        "evaluate",
        help="retrain the incumbent on all training data over seeds; report TEST metrics",
        description="The final evaluation, the only command that reads a test set: retrain "
        "RUN's incumbent (or --config) on train + validation data, once per seed, and test it.",
    )
    p.add_argument("run", nargs="?", default=None, help="run folder (its incumbent, dataset, ...)")
    p.add_argument("--config", default=None, help="a config JSON file or 'default' instead")
    p.add_argument("--dataset", default=None, help="dataset (default: the run's)")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    p.add_argument("--space", default=None, help="space of --config (default: the run's / seed)")
    p.add_argument("--epochs", type=float, default=None, help="default: the run's max budget")
    p.add_argument("--seeds", type=int, default=3, help="models trained and tested (3)")
    p.add_argument("--seed", type=int, default=0, help="first training seed (0)")
    p.add_argument(
        "--validate", action="store_true", help="also train on train/val and report validation"
    )
    p.add_argument("--out", required=True, help="output folder (must not hold a result yet)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument(
        "--precision",
        default="auto",
        help="auto (bf16 autocast where the hardware runs it natively), fp32 or bf16",
    )
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser(
        "predict", help="labels for an .npz or a folder of images with a saved model"
    )
    p.add_argument(
        "model",
        help="model.pt, an export (model.ts / model.onnx), or an evaluate / transfer / fit folder",
    )
    p.add_argument(
        "images",
        help=".npz with x (or arr_0): uint8 or float images; or a folder of image files "
        "(PNG, JPEG, ...; sub-folders too)",
    )
    p.add_argument(
        "--out", required=True, help="output .npz (labels, probabilities; files for a folder)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="average the probabilities of every model of an evaluate / transfer folder (a fit "
        "folder always predicts with its whole final ensemble)",
    )
    p.set_defaults(func=cmd_predict)


def print_final(result: Any, out: str) -> None:
    from autocnn.final.evaluation import format_mean_std

    s = result.summary
    print(
        f"test accuracy {format_mean_std(s['test_acc'])} %, balanced accuracy "
        f"{format_mean_std(s['test_balanced_acc'])} % over {s['n_ok']} seed(s); train accuracy "
        f"{format_mean_std(s['train_acc'])} %; {s['n_params']} parameters; {s['seconds']:.0f} s"
    )
    if "ensemble" in s:
        e = s["ensemble"]
        print(
            f"the {e['n_models']} models as one ensemble: test accuracy {100 * e['test_acc']:.2f} "
            f"%, balanced accuracy {100 * e['test_balanced_acc']:.2f} % (autocnn predict "
            f"{out} IMAGES.npz --ensemble)"
        )
    print(f"wrote {out}/metrics.json and {out}/{result.model}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from autocnn import api

    result = api.evaluate(
        args.run,
        out=args.out,
        config=args.config,
        dataset=args.dataset,
        space=args.space,
        epochs=args.epochs,
        seeds=args.seeds,
        seed=args.seed,
        data_dir=args.data_dir,
        validate=args.validate,
        device=args.device,
        precision=args.precision,
    )
    print_final(result, args.out)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from autocnn import api
    from autocnn.final.predict import ensemble_size

    labels = api.predict(
        args.model,
        args.images,
        out=args.out,
        overwrite=args.overwrite,
        device=args.device,
        ensemble=args.ensemble,
    )
    counts = np.bincount(labels).tolist()
    with np.load(args.out, allow_pickle=False) as written:
        names = written["class_names"].tolist() if "class_names" in written else None
    if names:  # the training folders' names: say which label is which
        counts = ", ".join(f"{k} {names[k]}: {n}" for k, n in enumerate(counts) if n)
    print(f"wrote {len(labels)} labels to {args.out}; per class: {counts}")
    if not args.ensemble and (n := ensemble_size(args.model)) > 1:
        print(f"note: {args.model} holds {n} models; these labels are its first model's alone "
              "(--ensemble averages all of them)")  # fmt: skip
    return 0
