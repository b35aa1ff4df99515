"""What a finished run or a model folder holds: the incumbent's full config, the model file.

The final evaluation, prediction and export read these, and so do weight and configuration
transfer (one stage later), which re-export them (:func:`autocnn.transfer.run_incumbent`,
:func:`autocnn.transfer.source_checkpoint`).

- :func:`run_incumbent`: a run folder's incumbent as a full config (a configuration-transfer
  run searched a reduced space: its config is merged back with :func:`merge_config`).
- :func:`init_weights_of`: the source model a configuration-transfer run started from.
- :func:`model_file`: the checkpoint a model argument names (a file, an ``evaluate`` /
  ``transfer weights`` / ``train`` folder, or a run folder's incumbent).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from autocnn import space
from autocnn.errors import CheckpointError, ConfigError, RunError
from autocnn.optimize.folder import STORE_NAME, RunFolder
from autocnn.space.configs import LEGACY_KEYS
from autocnn.space.imbalance import LEGACY_VALUES


def condition_holds(condition: Any, values: Mapping[str, Any]) -> bool:
    """Whether a ConfigSpace condition holds for ``values`` (False if a parent is missing)."""
    try:
        return bool(condition.satisfied_by_value(values))
    except KeyError:  # a parent that is itself inactive
        return False


def merge_config(
    values: Mapping[str, Any],
    space_name: str,
    anchor: Mapping[str, Any],
    searched: Iterable[str],
) -> dict[str, Any]:
    """A full, validated config of space ``space_name``: the ``searched`` hyperparameters from
    ``values`` (a reduced space's config), every other active one from ``anchor``."""
    full = space.get_space(space_name)
    searched = set(searched)
    values = space.to_plain(values)
    result: dict[str, Any] = {}
    for name in full:  # topological order: a parent is decided before its children
        conditions = full.parent_conditions_of[name]
        if not all(condition_holds(c, result) for c in conditions):
            continue
        if name in searched and name in values:
            result[name] = values[name]
        elif name in anchor:
            result[name] = anchor[name]
        elif name in LEGACY_VALUES:  # an anchor stored before the hyperparameter existed
            result[name] = LEGACY_VALUES[name]
        elif LEGACY_KEYS.get(name) in anchor:  # ... or before it was split off an old key
            old = LEGACY_KEYS[name]
            result[name] = values[old] if old in searched and old in values else anchor[old]
        else:
            raise ConfigError(f"no value for {name!r}; the reduced space is incomplete")
    return space.validate_config(result, full)


def run_incumbent(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """``(full config, run settings, Incumbent)`` of a run folder (a transfer run is merged)."""
    from autocnn.optimize.store import Store

    run_dir = Path(run_dir)
    if not (run_dir / STORE_NAME).is_file():
        raise RunError(f"{run_dir} is not a run folder ({STORE_NAME} is missing)")
    with Store.open(run_dir / STORE_NAME, readonly=True) as store:
        settings = store.settings
        incumbent = store.incumbent()
    run = settings.get("run")
    if not isinstance(run, dict) or "space" not in run:
        raise RunError(f"{run_dir}: its database holds no autocnn run settings")
    if incumbent is None:
        raise RunError(
            f"run {run_dir} has no successful evaluation yet, so no incumbent; resume it first"
        )
    transfer = settings.get("transfer")
    if isinstance(transfer, dict) and "anchor" in transfer:
        config = merge_config(
            incumbent.config, run["space"], transfer["anchor"], transfer["searched"]
        )
    else:
        config = space.validate_config(incumbent.config, space.get_space(run["space"]))
    return config, run, incumbent


def trained_epochs(run_dir: str | Path, evaluation_id: int) -> float:
    """The epochs an evaluation of a run trained (under the time fidelity its budget is
    seconds; the final training of its config trains as many epochs on all the data)."""
    from autocnn.optimize.store import Store

    with Store.open(Path(run_dir) / STORE_NAME, readonly=True) as store:
        epochs = store.evaluation(evaluation_id).metrics.get("epochs")
    if not isinstance(epochs, (int, float)) or not epochs > 0:
        raise RunError(f"{run_dir}: evaluation {evaluation_id} records no epochs; give --epochs")
    return float(epochs)


def init_weights_of(run_dir: str | Path) -> Path | None:
    """The source model a configuration-transfer run started its trials from
    (``--init-weights``), or None. Its final models start from the same weights: the
    search ranked configs by how they learn from there, not from a fresh network."""
    from autocnn.optimize.store import Store

    with Store.open(Path(run_dir) / STORE_NAME, readonly=True) as store:
        transfer = store.settings.get("transfer")
    named = transfer.get("init_weights") if isinstance(transfer, dict) else None
    return Path(named) if named else None


def model_file(source: str | Path) -> Path:
    """The checkpoint file a model argument (``--from``, ``predict MODEL``) names.

    Accepted: a checkpoint file; a folder written by ``autocnn evaluate`` / ``transfer weights``
    (its ``metrics.json`` names the model) or by ``autocnn train`` (``model.pt``); a run folder
    (the incumbent's checkpoint, kept by the runner).
    """
    path = Path(source)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(
            f"{path} does not exist; pass a model file (model.pt), an evaluate folder or a run"
        )
    metrics = path / "metrics.json"
    if metrics.is_file():
        try:
            named = json.loads(metrics.read_text()).get("model")
        except (OSError, json.JSONDecodeError, AttributeError):
            named = None
        if isinstance(named, str) and (path / named).is_file():
            return path / named
    if (path / "model.pt").is_file():
        return path / "model.pt"
    if RunFolder(path).exists():
        return _incumbent_checkpoint(path)
    raise CheckpointError(
        f"{path} holds no model: expected model.pt, an evaluate folder's metrics.json or a run "
        "folder's run.db; run `autocnn evaluate RUN` first to train the final model"
    )


def load_together(paths: Iterable[Path], fix: str) -> tuple[list[dict], tuple[int, ...], int]:
    """Checkpoints meant to be used as one ensemble, with the input shape and class count they
    share; CheckpointError naming them and ``fix`` (what the user should do) if they differ."""
    from autocnn.train import load_checkpoint

    paths = list(paths)
    payloads = [load_checkpoint(path) for path in paths]
    shapes = {tuple(int(v) for v in p["input_shape"]) for p in payloads}
    classes = {int(p["n_classes"]) for p in payloads}
    names = {tuple(p["class_names"]) for p in payloads if p.get("class_names") is not None}
    if len(shapes) != 1 or len(classes) != 1 or len(names) > 1:
        raise CheckpointError(
            f"{', '.join(str(p) for p in paths) or 'no models'}: the models take different "
            f"inputs or classes ({sorted(shapes)}, {sorted(classes)}"
            f"{', class names differ' if len(names) > 1 else ''}); {fix}"
        )
    return payloads, shapes.pop(), classes.pop()


def class_names(payloads: Iterable[dict]) -> list[str] | None:
    """What the checkpoints' training data called each label (``dir:`` folder names), or None
    when they do not say (sets whose labels are only numbers; checkpoints from before names)."""
    for payload in payloads:
        if payload.get("class_names") is not None:
            return [str(n) for n in payload["class_names"]]
    return None


def _incumbent_checkpoint(run_dir: Path) -> Path:
    from autocnn.optimize.store import Store

    with Store.open(RunFolder(run_dir).db, readonly=True) as store:
        incumbent = store.incumbent()
    if incumbent is None:
        raise RunError(f"run {run_dir} has no successful evaluation: there is no model to transfer")
    path = RunFolder(run_dir).checkpoint(incumbent.config_id, incumbent.budget)
    if not path.is_file():
        raise CheckpointError(
            f"the incumbent's checkpoint {path} is missing (the run kept no checkpoints); run "
            f"`autocnn evaluate {run_dir}` and transfer from its folder instead"
        )
    return path
