"""The public API behind every CLI command: one function per command, same name, same parameters.

The CLI (``autocnn.cli``) only parses arguments and prints; everything a command does happens here,
so a notebook or script gets exactly what the command line gets::

    from autocnn import api
    result = api.train("kmnist10k", "default", epochs=3, out="runs/default",
                       data_dir="../shared/data/kmnist")
    print(result.val_acc)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from autocnn import data, space
from autocnn.errors import ConfigError, RunError


def datasets(data_dir: str | Path | None = None) -> list[data.FileStatus]:
    """What autocnn knows, where each file was found, and whether its md5 matches."""
    return data.dataset_status(data_dir)


def resolve_config(config: str | Path | dict, space_name: str) -> dict[str, Any]:
    """``"default"`` -> the space's default; a dict or JSON file -> validated against the space."""
    config_space = space.get_space(space_name)
    if isinstance(config, dict):
        return space.validate_config(config, config_space)
    if str(config) == "default":
        return space.default_config(space_name)
    return space.load_config(Path(config), config_space)


def prepare_out_dir(out: str | Path, marker: str) -> Path:
    """Create ``out``; refuse to overwrite a folder that already holds a result (``marker``)."""
    out = Path(out)
    if (out / marker).exists():
        raise RunError(
            f"{out} already holds a result ({marker}); choose another --out folder "
            "or delete it first (nothing was overwritten)"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically (temp file + rename) so a killed process leaves no half file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)


def train(
    dataset: str,
    config: str | Path | dict = "default",
    *,
    out: str | Path,
    space_name: str = "seed",
    epochs: float = 10.0,
    data_dir: str | Path | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    split_seed: int = 0,
    device: str = "auto",
    progress: bool = False,
):
    """Train one configuration on the train split of ``dataset``; validate on a held-out split.

    Writes ``out/config.json``, ``out/metrics.json`` (per-epoch train/validation loss, accuracy,
    balanced accuracy, time) and ``out/model.pt`` (a checkpoint). The test part is not read.
    """
    from autocnn.train import train as run_training

    resolved = resolve_config(config, space_name)
    out_dir = prepare_out_dir(out, "metrics.json")
    full = data.load(dataset, "train", data_dir=data_dir)
    train_set, val_set = data.train_val_split(full, val_fraction, seed=split_seed)
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
        progress=progress,
    )
    write_json(
        out_dir / "metrics.json",
        {
            "dataset": dataset,
            "space": space_name,
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


# Settings that define a run; stored in its database, read back by --resume.
RUN_SETTINGS = (
    "dataset",
    "data_dir",
    "space",
    "method",
    "eta",
    "min_budget",
    "max_budget",
    "iterations",
    "schedule",
    "fidelity",
    "epochs",
    "seed",
    "val_fraction",
    "split_seed",
    "metric",
    "continue_training",
)


def optimize(
    dataset: str | None = None,
    *,
    out: str | Path,
    space_name: str = "seed",
    method: str = "bohb",
    eta: float = 3,
    min_budget: float = 1,
    max_budget: float = 9,
    iterations: int | None = 4,
    schedule: str = "paper",
    fidelity: str = "epochs",
    epochs: float = 0.0,
    workers: int = 1,
    seed: int = 0,
    time_limit: float | None = None,
    max_evaluations: int | None = None,
    resume: bool = False,
    warm_start: str | Path | None = None,
    continue_training: bool = True,
    data_dir: str | Path | None = None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    metric: str = "balanced_accuracy",
    on_event=None,
):
    """Run BOHB (or Hyperband / random search) on ``dataset``; everything lands in ``out``.

    ``out`` gets ``run.db`` (SQLite: settings, every config and evaluation), ``space.json``
    (ConfigSpace JSON), ``trials/`` (checkpoints of configs that can still be promoted) and, at
    the end, ``incumbent.json``. With ``resume=True`` the settings are read from ``out/run.db``
    (only ``workers``, ``time_limit`` and ``max_evaluations`` may change) and the run goes on
    where it stopped. Returns :class:`autocnn.optimize.runner.RunSummary`.
    """
    from autocnn.optimize.bohb import make_optimizer
    from autocnn.optimize.evaluate import TrainingObjective
    from autocnn.optimize.runner import run_optimizer
    from autocnn.optimize.runner import warm_start as feed_earlier_run
    from autocnn.optimize.store import STORE_NAME, Store

    out = Path(out)
    if resume:
        if not (out / STORE_NAME).exists():
            raise RunError(f"cannot resume {out}: it holds no run ({STORE_NAME} is missing)")
        with Store.open(out / STORE_NAME, readonly=True) as store:
            settings = dict(store.settings.get("run", {}))
        if not settings:
            raise RunError(f"cannot resume {out}: its database holds no autocnn run settings")
    else:
        if dataset is None:
            raise ConfigError("optimize needs a dataset (--dataset) unless it resumes a run")
        settings = {
            "dataset": dataset,
            "data_dir": None if data_dir is None else str(data_dir),
            "space": space_name,
            "method": method,
            "eta": eta,
            "min_budget": float(min_budget),
            "max_budget": float(max_budget),
            "iterations": iterations,
            "schedule": schedule,
            "fidelity": fidelity,
            "epochs": float(epochs),
            "seed": seed,
            "val_fraction": val_fraction,
            "split_seed": split_seed,
            "metric": metric,
            "continue_training": continue_training,
        }
    config_space = space.get_space(settings["space"])
    optimizer = make_optimizer(
        settings["method"],
        config_space,
        min_budget=settings["min_budget"],
        max_budget=settings["max_budget"],
        eta=settings["eta"],
        n_iterations=settings["iterations"],
        seed=settings["seed"],
        **({} if settings["method"] == "random" else {"schedule": settings["schedule"]}),
    )
    objective = TrainingObjective(
        dataset=settings["dataset"],
        data_dir=settings["data_dir"],
        max_budget=settings["max_budget"],
        fidelity=settings["fidelity"],
        epochs=settings["epochs"],
        val_fraction=settings["val_fraction"],
        split_seed=settings["split_seed"],
        seed=settings["seed"],
        metric=settings["metric"],
        continue_training=settings["continue_training"],
    )
    # Fail fast on a bad dataset before any worker starts (the load is cached for workers=1).
    objective.splits()
    if not resume:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / STORE_NAME).exists():
            space.space_to_json(config_space, out / "space.json")
    for message in optimizer.warnings:
        if on_event is not None:
            on_event("warning", {"message": message})
    if warm_start is not None and not resume:
        feed_earlier_run(optimizer, Path(warm_start))
    summary = run_optimizer(
        optimizer,
        objective,
        out,
        workers=workers,
        time_limit=time_limit,
        max_evaluations=max_evaluations,
        resume=resume,
        on_event=on_event,
        settings={"run": settings},
    )
    if summary.incumbent is not None:
        incumbent = summary.incumbent
        write_json(
            out / "incumbent.json",
            {
                "config_id": incumbent.config_id,
                "budget": incumbent.budget,
                "loss": incumbent.loss,
                "config": incumbent.config,
            },
        )
    return summary


def continuation_savings(run: str | Path) -> tuple[float, float]:
    """(epochs trained, epochs a retrain-from-scratch run would have trained) for the
    evaluations of ``run``: what checkpoint continuation saved."""
    from autocnn.optimize.store import STORE_NAME, Store

    trained = from_scratch = 0.0
    with Store.open(Path(run) / STORE_NAME, readonly=True) as store:
        for row in store.evaluations():
            if row.cost is None:
                continue
            trained += row.cost
            from_scratch += row.cost + float(row.metrics.get("continued_from") or 0.0)
    return trained, from_scratch


def status(run: str | Path):
    """A finished or running run's progress: counts by status, incumbent, compute used."""
    from autocnn.optimize.runner import summarize

    return summarize(Path(run))


def export(run: str | Path, out: str | Path):
    """Write HpBandSter's configs.json / results.json for a run, for its ecosystem's tools."""
    from autocnn.optimize.export import export_hpbandster

    return export_hpbandster(Path(run), Path(out))
