"""A BOHB run from its settings: build the search space, the optimizer and the training objective,
then drive them with the runner. ``--resume`` rebuilds all three from the settings stored in the
run's database, so a resumed run needs nothing but its folder.

The same orchestration (:func:`run_search`) runs configuration transfer, the study's searches and
``fit``'s; they differ only in the search space and the objective they hand it.

Example::

    summary = optimize("kmnist10k", out="runs/a", data_dir="../shared/data/kmnist", iterations=2)
    print(summary.incumbent)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from autocnn import space
from autocnn.errors import ConfigError, RunError
from autocnn.optimize.bohb import BOHB
from autocnn.optimize.evaluate import TrainingObjective
from autocnn.optimize.export import export_hpbandster
from autocnn.optimize.folder import RunFolder
from autocnn.optimize.methods import make_optimizer
from autocnn.optimize.replay import warm_start as feed_earlier_run
from autocnn.optimize.runner import EventHook, RunSummary, run_optimizer, summarize
from autocnn.optimize.settings import Execution, RunSettings, split_options
from autocnn.optimize.store import Store, StoreSummary
from autocnn.space.imbalance import default_method, with_imbalance
from autocnn.space.portfolio import portfolio

# The stored setting naming the imbalance handling of a run's default config (search_space).
IMBALANCE_DEFAULT_KEY = "imbalance_default"


def stored_run_settings(folder: RunFolder) -> tuple[RunSettings, dict[str, Any]]:
    """``(RunSettings, everything else stored)`` of a run folder, for a resume or a reader."""
    with Store.open(folder.require("read").db, readonly=True) as store:
        stored = dict(store.settings)
    run = stored.get("run")
    if not isinstance(run, dict) or not run:
        raise RunError(f"{folder.path}: its database holds no autocnn run settings")
    return RunSettings.from_dict(run), stored


def optimizer_from_settings(settings: RunSettings, config_space) -> BOHB:
    """The optimizer a run's settings describe (also used by configuration transfer)."""
    return make_optimizer(
        settings.method,
        config_space,
        min_budget=settings.min_budget,
        max_budget=settings.max_budget,
        eta=settings.eta,
        n_iterations=settings.iterations,
        seed=settings.seed,
        start_with_default=settings.start_with_default,
        initial_configs=_portfolio(settings, config_space) if settings.portfolio else (),
        sampler=settings.sampler,
        **({} if settings.method == "random" else {"schedule": settings.schedule}),
    )


def _portfolio(settings: RunSettings, config_space: Any) -> list[dict[str, Any]]:
    """The space's portfolio, each entry with the imbalance handling of the space's default (an
    imbalanced dataset's: see :func:`search_space`)."""
    entries = [config for _, config in portfolio(settings.space)]
    if "imbalance" not in config_space:  # a reduced space that does not search it
        return entries
    method = config_space["imbalance"].default_value
    return [c if c["imbalance"] == method else with_imbalance(c, method) for c in entries]


def resolve_settings(
    folder: RunFolder,
    resume: bool,
    dataset: str | None,
    settings: RunSettings | None,
    execution: Execution | None,
    options: dict[str, Any],
) -> tuple[RunSettings, Execution, dict[str, Any]]:
    """``(run settings, execution, other stored settings)`` of a new or resumed run, checked
    before anything is written: options that contradict a resumed run's stored settings are an
    error, and so is a run without any limit."""
    run_options, exec_options = split_options(options)
    if execution is not None and exec_options:
        raise ConfigError(f"pass either execution= or {sorted(exec_options)}, not both")
    execution = execution or Execution(**exec_options)
    if dataset is not None:
        run_options["dataset"] = dataset
    if resume:
        stored, extra = stored_run_settings(folder.require("resume"))
        # what the caller asked, normalised like the stored settings (0 iterations is None, ...)
        asked = (settings or stored.replace(**run_options)).to_dict()
        changed = [k for k, v in stored.to_dict().items() if asked[k] != v]
        if changed:
            key = changed[0]
            raise ConfigError(
                f"{folder.path} was made with {key}={stored.to_dict()[key]!r}, not "
                f"{asked[key]!r}: a resume keeps the run's settings (drop the option, or start "
                "a new --out)"
            )
        return stored, execution, extra
    if settings is not None and run_options:
        raise ConfigError(f"pass either settings= or {sorted(run_options)}, not both")
    settings = settings or RunSettings(**run_options)
    if settings.iterations is None and execution.time_limit is None:
        if execution.max_evaluations is None:
            raise ConfigError(
                "--iterations 0 runs until --time-limit or --max-evaluations; give one of them"
            )
    return settings, execution, {}


def run_search(
    folder: RunFolder,
    settings: RunSettings,
    execution: Execution,
    *,
    config_space: Any,
    objective: TrainingObjective,
    resume: bool = False,
    warm_start: str | Path | None = None,
    on_event: EventHook | None = None,
    stored_extra: dict[str, Any] | None = None,
    full_config: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    on_start: Callable[[], None] | None = None,
) -> RunSummary:
    """The one orchestration of a search (``optimize``, configuration transfer, study, fit):
    check the data, write the folder, run the optimizer on ``execution``'s backend, write
    ``incumbent.json`` (``full_config`` maps a searched config to a full one)."""
    optimizer = optimizer_from_settings(settings, config_space)
    objective.splits()  # fail fast on a bad dataset, before any worker starts or file is written
    if not resume and folder.exists():
        raise RunError(
            f"{folder.path} already holds a run; resume it (--resume) or choose another run folder"
        )
    if not resume:
        folder.path.mkdir(parents=True, exist_ok=True)
        space.space_to_json(config_space, folder.space_file)
        if on_start is not None:
            on_start()
    for message in optimizer.warnings:
        if on_event is not None:
            on_event("warning", {"message": message})
    if warm_start is not None and not resume:
        feed_earlier_run(optimizer, Path(warm_start))
    backend = None
    if execution.backend == "ray":
        from autocnn.optimize.ray_backend import RayBackend, prepare_storage

        prepare_storage(folder.path, execution.storage)
        backend = RayBackend(
            objective,
            address=execution.address,
            cpus_per_trial=execution.cpus_per_trial,
            gpus_per_trial=execution.gpus_per_trial,
            max_retries=execution.max_retries,
            max_concurrent=execution.workers if execution.workers > 1 else None,
        )
    try:
        summary = run_optimizer(
            optimizer,
            objective,
            folder.path,
            workers=execution.workers,
            time_limit=execution.time_limit,
            hard_time_limit=execution.hard_time_limit,
            early_stopping=settings.stops_early,
            max_evaluations=execution.max_evaluations,
            resume=resume,
            on_event=on_event,
            settings={"run": settings.to_dict(), **(stored_extra or {})},
            backend=backend,
        )
    finally:
        if backend is not None:
            backend.close()
    if summary.incumbent is not None:
        config = summary.incumbent.config
        extra = {} if full_config is None else {"reduced_config": config}
        folder.write_incumbent(
            summary.incumbent, full_config(config) if full_config else config, **extra
        )
    return summary


def optimize(
    dataset: str | None = None,
    *,
    out: str | Path,
    resume: bool = False,
    warm_start: str | Path | None = None,
    on_event: EventHook | None = None,
    settings: RunSettings | None = None,
    execution: Execution | None = None,
    **options: Any,
) -> RunSummary:
    """Run BOHB (or Hyperband / random search) on ``dataset``; everything lands in ``out``.

    ``options`` are the fields of :class:`~autocnn.optimize.settings.RunSettings` (what defines
    the run: space, method, eta, budgets, fidelity, seeds, ...) and of
    :class:`~autocnn.optimize.settings.Execution` (how this call runs it: workers, time limits,
    backend); or pass ``settings=`` / ``execution=`` objects. ``out`` gets the files of a
    :class:`~autocnn.optimize.folder.RunFolder`. With ``resume=True`` the settings are read from
    ``out/run.db`` and the run goes on where it stopped (only ``execution`` may change).
    ``hard_time_limit``: at ``time_limit``, stop the running evaluations too (they stay pending
    for a resume). ``backend="ray"`` runs each evaluation as a Ray task (see
    :mod:`autocnn.optimize.ray_backend`). Returns a :class:`RunSummary`.
    """
    folder = RunFolder(out)
    settings, execution, stored = resolve_settings(
        folder, resume, dataset, settings, execution, options
    )
    objective = TrainingObjective(settings)
    config_space, extra = search_space(settings, objective, stored if resume else None)
    return run_search(
        folder,
        settings,
        execution,
        config_space=config_space,
        objective=objective,
        resume=resume,
        warm_start=warm_start,
        on_event=on_event,
        stored_extra=extra,
    )


def search_space(
    settings: RunSettings, objective: TrainingObjective, stored: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """``(ConfigSpace, settings to store)`` of a run: its space, whose default (the first config,
    and the prior's centre) handles class imbalance when the training split is imbalanced
    (:func:`autocnn.space.imbalance.default_method`), unless ``--no-imbalance``. A resumed run
    (``stored``) gets the default it was made with; runs from before this rule: none."""
    if not settings.imbalance:
        return space.get_space(settings.space, imbalance=False), {}
    if stored is not None:
        method = stored.get(IMBALANCE_DEFAULT_KEY)
        extra = {} if method is None else {IMBALANCE_DEFAULT_KEY: method}
    else:
        method = default_method(objective.splits()[0].class_counts().tolist())
        extra = {IMBALANCE_DEFAULT_KEY: method}
    return space.get_space(settings.space, imbalance_default=method), extra


def continuation_savings(run: str | Path) -> tuple[float, float]:
    """(epochs trained, epochs a retrain-from-scratch run would have trained) for the
    evaluations of ``run``: what checkpoint continuation saved."""
    trained = from_scratch = 0.0
    with Store.open(RunFolder(run).require("read").db, readonly=True) as store:
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
