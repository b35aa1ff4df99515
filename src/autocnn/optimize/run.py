"""A BOHB run from its settings: build the search space, the optimizer and the training objective,
then drive them with the runner. ``--resume`` rebuilds all three from the settings stored in the
run's database, so a resumed run needs nothing but its folder.

Example::

    summary = optimize("kmnist10k", out="runs/a", data_dir="../shared/data/kmnist", iterations=2)
    print(summary.incumbent)
"""

from __future__ import annotations

from pathlib import Path

from autocnn import space
from autocnn.artifacts import write_json
from autocnn.errors import ConfigError, RunError
from autocnn.optimize.bohb import BOHB, make_optimizer
from autocnn.optimize.evaluate import TrainingObjective
from autocnn.optimize.export import export_hpbandster
from autocnn.optimize.runner import RunSummary, run_optimizer, summarize
from autocnn.optimize.runner import warm_start as feed_earlier_run
from autocnn.optimize.store import STORE_NAME, Store, StoreSummary

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


def run_settings(
    dataset: str,
    *,
    data_dir: str | Path | None = None,
    space_name: str = "seed",
    method: str = "bohb",
    eta: float = 3,
    min_budget: float = 1,
    max_budget: float = 9,
    iterations: int | None = 4,
    schedule: str = "paper",
    fidelity: str = "epochs",
    epochs: float = 0.0,
    seed: int = 0,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    metric: str = "balanced_accuracy",
    continue_training: bool = True,
    start_with_default: bool = True,
) -> dict:
    """The settings that define a run (stored in its database, read back by ``--resume``)."""
    return {
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
        "start_with_default": start_with_default,
    }


def stored_settings(out: Path) -> dict:
    """Everything a run folder's database says about its settings (RunError if it has none)."""
    if not (Path(out) / STORE_NAME).is_file():
        raise RunError(f"cannot resume {out}: it holds no run ({STORE_NAME} is missing)")
    with Store.open(Path(out) / STORE_NAME, readonly=True) as store:
        return dict(store.settings)


def optimizer_from_settings(settings: dict, config_space) -> BOHB:
    """The optimizer a run's stored settings describe (also used by configuration transfer)."""
    return make_optimizer(
        settings["method"],
        config_space,
        min_budget=settings["min_budget"],
        max_budget=settings["max_budget"],
        eta=settings["eta"],
        n_iterations=settings["iterations"],
        seed=settings["seed"],
        # absent in runs made before the option existed: they started with a random config
        start_with_default=settings.get("start_with_default", False),
        **({} if settings["method"] == "random" else {"schedule": settings["schedule"]}),
    )


def objective_arguments(settings: dict) -> dict:
    """``TrainingObjective`` keyword arguments from a run's stored settings."""
    return {
        "dataset": settings["dataset"],
        "data_dir": settings["data_dir"],
        "max_budget": settings["max_budget"],
        "fidelity": settings.get("fidelity", "epochs"),
        "epochs": settings.get("epochs", 0.0),
        "val_fraction": settings["val_fraction"],
        "split_seed": settings["split_seed"],
        "seed": settings["seed"],
        "metric": settings["metric"],
        "continue_training": settings.get("continue_training", True),
    }


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
    hard_time_limit: bool = False,
    max_evaluations: int | None = None,
    resume: bool = False,
    warm_start: str | Path | None = None,
    continue_training: bool = True,
    start_with_default: bool = True,
    data_dir: str | Path | None = None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    metric: str = "balanced_accuracy",
    on_event=None,
    backend: str = "local",
    address: str | None = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    max_retries: int = 2,
    storage: str | Path | None = None,
) -> RunSummary:
    """Run BOHB (or Hyperband / random search) on ``dataset``; everything lands in ``out``.

    ``out`` gets ``run.db`` (SQLite: settings, every config and evaluation), ``space.json``
    (ConfigSpace JSON), ``trials/`` (checkpoints of configs that can still be promoted) and, at
    the end, ``incumbent.json``. With ``resume=True`` the settings are read from ``out/run.db``
    (only ``workers``, the limits and the backend options may change) and the run goes on where
    it stopped. ``hard_time_limit``: at ``time_limit``, stop the running evaluations too (they
    stay pending for a resume) instead of waiting for them. Returns a :class:`RunSummary`.

    ``backend="local"`` (default) evaluates in this process (``workers=1``) or in ``workers``
    processes. ``backend="ray"`` runs each evaluation as a Ray task (see
    :mod:`autocnn.optimize.ray_backend`) on the cluster at ``address`` (None: a local Ray
    instance) with ``cpus_per_trial`` / ``gpus_per_trial``, re-running an evaluation whose worker
    died up to ``max_retries`` times; ``workers`` > 1 then caps the trials in flight, and
    ``storage`` is a folder every node sees that keeps the checkpoints (default: ``out``).
    """
    out = Path(out)
    _check_backend(backend, address, storage, workers)
    if resume:
        settings = dict(stored_settings(out).get("run", {}))
        if not settings:
            raise RunError(f"cannot resume {out}: its database holds no autocnn run settings")
    else:
        if dataset is None:
            raise ConfigError("optimize needs a dataset (--dataset) unless it resumes a run")
        settings = run_settings(
            dataset,
            data_dir=data_dir,
            space_name=space_name,
            method=method,
            eta=eta,
            min_budget=min_budget,
            max_budget=max_budget,
            iterations=iterations,
            schedule=schedule,
            fidelity=fidelity,
            epochs=epochs,
            seed=seed,
            val_fraction=val_fraction,
            split_seed=split_seed,
            metric=metric,
            continue_training=continue_training,
            start_with_default=start_with_default,
        )
    config_space = space.get_space(settings["space"])
    optimizer = optimizer_from_settings(settings, config_space)
    objective = TrainingObjective(**objective_arguments(settings))
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
    evaluator = None
    if backend == "ray":
        from autocnn.optimize.ray_backend import RayBackend, prepare_storage

        if resume or not (out / STORE_NAME).exists():  # else the runner refuses: touch nothing
            prepare_storage(out, storage)
        evaluator = RayBackend(
            objective,
            address=address,
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
            max_retries=max_retries,
            max_concurrent=workers if workers > 1 else None,
        )
    try:
        summary = run_optimizer(
            optimizer,
            objective,
            out,
            workers=workers,
            time_limit=time_limit,
            hard_time_limit=hard_time_limit,
            max_evaluations=max_evaluations,
            resume=resume,
            on_event=on_event,
            settings={"run": settings},
            backend=evaluator,
        )
    finally:
        if evaluator is not None:
            evaluator.close()
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


BACKENDS = ("local", "ray")


def _check_backend(
    backend: str, address: str | None, storage: str | Path | None, workers: int
) -> None:
    """ConfigError for backend options that do not fit together (before anything is written)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if backend != "ray":
        for name, value in (("--address", address), ("--storage", storage)):
            if value is not None:
                raise ConfigError(f"{name} is for the Ray backend: add --backend ray")


def continuation_savings(run: str | Path) -> tuple[float, float]:
    """(epochs trained, epochs a retrain-from-scratch run would have trained) for the
    evaluations of ``run``: what checkpoint continuation saved."""
    trained = from_scratch = 0.0
    with Store.open(Path(run) / STORE_NAME, readonly=True) as store:
        for row in store.evaluations():
            if row.cost is None:
                continue
            trained += row.cost
            from_scratch += row.cost + float(row.metrics.get("continued_from") or 0.0)
    return trained, from_scratch


def status(run: str | Path) -> StoreSummary:
    """A finished or running run's progress: counts by status, incumbent, compute used."""
    return summarize(Path(run))


def export(run: str | Path, out: str | Path):
    """Write HpBandSter's configs.json / results.json for a run, for its ecosystem's tools."""
    return export_hpbandster(Path(run), Path(out))
