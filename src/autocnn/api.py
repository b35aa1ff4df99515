"""The public API behind every CLI command: one function per command, same name, same parameters.

The CLI (``autocnn.cli``) only parses arguments and prints; everything a command does happens in
the function it calls, so a notebook or script gets exactly what the command line gets::

    from autocnn import api
    result = api.train("kmnist10k", "default", epochs=3, out="runs/default",
                       data_dir="../shared/data/kmnist")
    summary = api.optimize("kmnist10k", out="runs/bohb", data_dir="../shared/data/kmnist")

The later pipeline stages (evaluate, predict, transfer, study, report) are imported on first use:
they build on ``optimize`` and importing them eagerly would make every command pay for all.
"""

from __future__ import annotations

import importlib
import math
import time
from pathlib import Path
from typing import Any

from autocnn import data
from autocnn import space as spaces
from autocnn.artifacts import prepare_out_dir, write_json
from autocnn.errors import ConfigError
from autocnn.optimize.run import continuation_savings, export, optimize, status
from autocnn.optimize.settings import RunSettings

# Later stages resolve through __getattr__, hence the noqa.
__all__ = [  # noqa: F822
    "continuation_savings",
    "datasets",
    "evaluate",  # noqa: F822
    "export",
    "fit",  # noqa: F822
    "make_synthetic",
    "optimize",
    "predict",  # noqa: F822
    "report",  # noqa: F822
    "status",
    "study",  # noqa: F822
    "train",
    "transfer_config",  # noqa: F822
    "transfer_weights",  # noqa: F822
]

# name -> module that defines it (imported lazily, see the module docstring)
_LATER_STAGES = {
    "evaluate": "autocnn.final.evaluation",
    "predict": "autocnn.final.predict",
    "transfer_weights": "autocnn.transfer.weight_transfer",
    "transfer_config": "autocnn.transfer.search",
    "study": "autocnn.study.pipeline",
    "fit": "autocnn.fit.job",
    "report": "autocnn.report",
}


def __getattr__(name: str) -> Any:
    if name in _LATER_STAGES:
        return getattr(importlib.import_module(_LATER_STAGES[name]), name)
    raise AttributeError(f"module 'autocnn.api' has no attribute {name!r}")


def datasets(data_dir: str | Path | None = None) -> list[data.DatasetRow]:
    """Every dataset name a command takes: official sets (their files: where each was found,
    whether its md5 matches), sets derived from them, and the npz:PATH / idx:DIR / dir:DIR
    patterns."""
    return data.dataset_list(data_dir)


def make_synthetic(
    like: str = "k49",
    *,
    out: str | Path,
    scale: float = 0.01,
    seed: int = 0,
    image_size: int = 28,
) -> dict[str, Path]:
    """A synthetic stand-in of release ``like`` (k49, kmnist) at ``scale`` of its size, written
    in its official npz file names into ``out``; use it as ``npz:OUT``. The class shape and where
    it comes from: :mod:`autocnn.data.synthetic`. Refuses to overwrite such files."""
    from autocnn.data.synthetic import LIKE, write_like

    prefix = LIKE[like].prefix if like in LIKE else like
    existing = sorted(Path(out).glob(f"{prefix}-*-*.npz"))
    if existing:
        raise ConfigError(f"{out} already holds {existing[0].name}; choose another --out")
    return write_like(out, like, scale=scale, seed=seed, image_size=image_size)


def train(
    dataset: str,
    config: str | Path | dict = "default",
    *,
    out: str | Path,
    space: str = "seed",
    epochs: float = 10.0,
    data_dir: str | Path | None = None,
    val_fraction: float = RunSettings.val_fraction,
    seed: int = 0,
    split_seed: int = RunSettings.split_seed,
    device: str = "auto",
    precision: str = "auto",
    progress: bool = False,
):
    """Train one configuration on the train split of ``dataset``; validate on a held-out split.

    Writes ``out/config.json``, ``out/metrics.json`` (per-epoch train/validation loss, accuracy,
    balanced accuracy, time) and ``out/model.pt`` (a checkpoint). The test part is not read.
    """
    from autocnn.train import train as run_training
    from autocnn.train.precision import check_precision

    # Everything is checked, the data loaded and split, before the output folder is made.
    if not (isinstance(epochs, (int, float)) and math.isfinite(epochs) and epochs > 0):
        raise ConfigError(f"--epochs must be a positive number, got {epochs}")
    RunSettings(dataset, data_dir=data_dir, val_fraction=val_fraction, split_seed=split_seed)
    check_precision(precision)
    resolved = spaces.resolve_config(config, space)
    full = data.load(dataset, "train", data_dir=data_dir)
    train_set, val_set = data.train_val_split(full, val_fraction, seed=split_seed)
    out_dir = prepare_out_dir(out, "metrics.json")
    write_json(out_dir / "config.json", resolved)
    started = time.time()
    result = run_training(
        resolved,
        train_set,
        val_set,
        epochs=epochs,
        seed=seed,
        save_to=out_dir / "model.pt",
        device=device,
        precision=precision,
        progress=progress,
    )
    write_json(
        out_dir / "metrics.json",
        {
            "dataset": dataset,
            "space": space,
            "epochs": epochs,
            "seed": seed,
            "split_seed": split_seed,
            "val_fraction": val_fraction,
            "n_train": len(train_set),
            "n_val": len(val_set),
            "started": started,
            **result.to_dict(),
        },
    )
    return result
