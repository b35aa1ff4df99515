"""Run BOHB on a reduced space (configuration transfer), with the optimize package's machinery.

The optimizer works on the reduced space; :class:`TransferObjective` merges each proposed config
into a full one and trains it exactly like ``autocnn optimize`` does
(:class:`autocnn.optimize.evaluate.TrainingObjective`: same fidelities, checkpoint continuation,
train/validation split; the test part is never read). With ``init_weights`` every trial starts
from the source network's weights (the head fresh), the widths and FC layers stay the source's
unless ``search`` names them (:func:`~autocnn.transfer.config.default_searched`; a layer whose
width changed would start fresh), and the run's final evaluation starts from the same weights
(:func:`autocnn.final.sources.init_weights_of`): the search is a search of how to fine-tune.

The run folder is a normal run folder (``run.db``, ``space.json`` = the reduced space,
``trials/``, ``incumbent.json`` with the merged full config) plus ``transfer.json``; the store's
settings carry the fixed values under ``"transfer"``, so ``autocnn status``/``evaluate``/``report``
and ``--resume`` work on it as on any run.

Example::

    summary = transfer_config("runs/kmnist", "npz:data/k49-small", out="runs/k49-transfer",
                              max_budget=9, iterations=2, workers=2)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autocnn.errors import AutocnnError, RunError
from autocnn.optimize.evaluate import TrainingObjective
from autocnn.optimize.folder import RunFolder
from autocnn.optimize.settings import Execution, RunSettings
from autocnn.optimize.trial import FAILED, Result, Trial
from autocnn.space.imbalance import default_method
from autocnn.transfer.config import merge_config, reduce_space, source_config

# Per-process cache of source weights for init_weights: path -> state dict.
_SOURCE_STATES: dict[str, Any] = {}


@dataclass(frozen=True)
class TransferObjective(TrainingObjective):
    """``TrainingObjective`` on the reduced space: merge each config into a full one, and start
    every trial from the source model's weights when ``init_weights`` names one."""

    anchor: dict[str, Any] = field(default_factory=dict, repr=False)
    searched: tuple[str, ...] = ()
    init_weights: str | None = None  # checkpoint whose weights start every trial

    def __call__(self, trial: Trial, workdir: Path) -> Result:
        try:
            config = merge_config(trial.config, self.settings.space, self.anchor, self.searched)
        except AutocnnError as error:  # cannot happen by construction; never stop the run
            return Result(FAILED, error=f"merge failed: {error}", seconds=0.0)
        return super().__call__(dataclasses.replace(trial, config=config), Path(workdir))

    def initial_state(self, config: dict[str, Any], train_set: Any) -> tuple[Any, dict]:
        """The source's weights for every tensor whose shape still fits (the rest: fresh)."""
        if self.init_weights is None:
            return None, {}
        from autocnn.model.weights import start_state
        from autocnn.transfer.weights import load_source

        if self.init_weights not in _SOURCE_STATES:
            _SOURCE_STATES[self.init_weights] = load_source(self.init_weights).state
        init_state, copied = start_state(
            config, train_set.input_shape, train_set.n_classes,
            _SOURCE_STATES[self.init_weights], self.settings.seed,
        )  # fmt: skip
        return init_state, {"init_copied": len(copied)}


def transfer_config(
    source: str | Path | None = None,
    dataset: str | None = None,
    *,
    out: str | Path,
    search: list[str] | str | None = None,
    init_weights: bool | str | Path = False,
    resume: bool = False,
    on_event: Any = None,
    settings: RunSettings | None = None,
    execution: Execution | None = None,
    **options: Any,
):
    """BOHB on the reduced space around ``source``'s config, on ``dataset``; lands in ``out``.

    ``source``: a run folder (its incumbent), an evaluate folder or a config JSON file.
    ``search``: extra hyperparameters to search ("HP1,HP2" or a list). ``init_weights``: True
    starts every trial from ``source``'s model (an evaluate folder, or a run that kept its
    incumbent's checkpoint), a path from that model. ``options`` / ``settings`` /
    ``execution``: as for :func:`autocnn.optimize.run.optimize` (the space is the source's).
    ``resume=True`` continues ``out`` with its stored settings. Returns
    :class:`autocnn.optimize.runner.RunSummary`.
    """
    from autocnn.artifacts import write_json
    from autocnn.optimize.run import resolve_settings, run_search
    from autocnn.transfer.weights import source_checkpoint

    folder = RunFolder(out)
    if not resume and (source is None or dataset is None):
        raise RunError("transfer config needs --from SOURCE and --dataset DEST (or --resume)")
    if not resume and folder.exists():
        raise RunError(f"{out} already holds a run; pass --resume or another --out folder")
    if resume:
        run, execution, stored = resolve_settings(
            folder, True, dataset, settings, execution, options
        )
        if "transfer" not in stored:
            raise RunError(f"cannot resume {out}: it is not a configuration-transfer run")
        info = stored["transfer"]
        reduced = reduce_space(
            info["source_config"], run.space, info["extra_search"],
            dest_class_counts=info.get("dest_class_counts"),  # absent: a run from before
            imbalance=run.imbalance,
            imbalance_start=info.get("imbalance_start"),  # absent: a run from before (source's)
            architecture=info.get("architecture", True),  # absent: a run from before (searched)
        )  # fmt: skip
    else:
        config, space_name = source_config(source)
        if options.setdefault("space", space_name) != space_name:
            raise RunError(
                f"{source} is a config of the {space_name!r} space, not {options['space']!r}"
            )
        run, execution, _ = resolve_settings(folder, False, dataset, settings, execution, options)
        extra = search.split(",") if isinstance(search, str) else list(search or [])
        extra = [s.strip() for s in extra if s.strip()]
        # the destination's imbalance decides whether its handling is searched
        counts = TrainingObjective(run).splits()[0].class_counts().tolist()
        # ... and, searched, starts from the destination's default handling, not the source's
        start = default_method(counts)
        weights = None
        if init_weights is True:
            weights = str(source_checkpoint(source).resolve())
        elif init_weights:
            weights = str(source_checkpoint(init_weights).resolve())
        # trials that start from the source's weights keep the architecture those fit
        architecture = weights is None
        reduced = reduce_space(
            config, space_name, extra, dest_class_counts=counts, imbalance=run.imbalance,
            imbalance_start=start, architecture=architecture,
        )  # fmt: skip
        info = {
            "source": str(source),
            "source_config": config,
            "extra_search": extra,
            "searched": list(reduced.searched),
            "anchor": reduced.anchor,
            "init_weights": weights,
            "dest_class_counts": counts,
            "imbalance_start": start,
            "architecture": architecture,
        }
    objective = TransferObjective(
        run,
        anchor=reduced.anchor,
        searched=tuple(reduced.searched),
        init_weights=info["init_weights"],
    )
    return run_search(
        folder,
        run,
        execution,
        config_space=reduced.space,
        objective=objective,
        resume=resume,
        on_event=on_event,
        stored_extra={"transfer": info},
        full_config=reduced.merge,
        on_start=lambda: write_json(
            folder.transfer_file, {**info, "fixed": reduced.fixed, "dataset": run.dataset}
        ),
    )
