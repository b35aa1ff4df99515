"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model and optimizer state, the global step and epoch, every random
state the loop uses (torch CPU, CUDA, the augmentation generator), the running epoch
accumulators, the history so far, the input normalisation, and the config with its hash. Only
tensors and plain Python values are stored, so it loads with ``torch.load(weights_only=True)``:
a checkpoint file is data, never code. Files are written to a temporary name in the same
folder and renamed, so a killed process never leaves a half-written checkpoint behind.

Example::

    model, normalization, config = load_model("runs/default/model.pt")
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from autocnn.errors import CheckpointError
from autocnn.train.inputs import Normalization
from autocnn.train.results import EpochRecord, EpochSums

FORMAT = "autocnn-checkpoint"
VERSION = 1
REQUIRED_KEYS = (
    "format",
    "version",
    "config",
    "config_hash",
    "seed",
    "horizon_steps",
    "steps_per_epoch",
    "step",
    "model",
    "optimizer",
    "rng",
    "accumulators",
    "history",
    "normalization",
    "input_shape",
    "n_classes",
    "n_train",
)


def config_json(config: Mapping[str, Any]) -> str:
    """A config as sorted-key JSON (numpy scalars, which should not be there, become Python)."""
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":"), default=_plain)


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable hash of a config: the first 16 hex digits of the sha256 of its JSON."""
    return hashlib.sha256(config_json(config).encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    raise TypeError(f"config value {value!r} of type {type(value).__name__} is not JSON")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (temp file in the same folder + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as tmp:
            torch.save({"format": FORMAT, "version": VERSION, **payload}, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read a checkpoint (tensors on CPU); with ``config``, check that it belongs to that config.

    Raises CheckpointError for a missing, truncated or foreign file, or a config mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; check the path, or train without resuming"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # zip/pickle/EOF errors all mean the same to the user
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {error}); the file is "
            "corrupt or truncated: delete it and retrain"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not an autocnn checkpoint; pass a file written by autocnn"
        )
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {payload.get('version')!r}, this autocnn reads "
            f"version {VERSION}; retrain to make a new checkpoint"
        )
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} lacks {missing}; it is damaged: delete it and retrain"
        )
    if config is not None and payload["config_hash"] != config_hash(config):
        stored = json.loads(payload["config"])
        changed = sorted(
            key for key in set(stored) | set(config) if stored.get(key) != config.get(key)
        )
        raise CheckpointError(
            f"checkpoint {path} belongs to another config (keys that differ: {changed[:8]}); "
            "resume only with the config it was trained with"
        )
    return payload


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, Normalization, dict[str, Any]]:
    """Rebuild the trained model of a checkpoint: ``(model in eval mode, normalization, config)``.

    Example::

        model, norm, config = load_model("runs/default/model.pt")
        metrics = evaluate_model(model, test_set, normalization=norm)
    """
    return model_from_checkpoint(load_checkpoint(path), device, where=path)


def model_from_checkpoint(
    payload: dict[str, Any], device: str | torch.device = "cpu", *, where: str | Path = "checkpoint"
) -> tuple[torch.nn.Module, Normalization, dict[str, Any]]:
    """``load_model`` for a payload already read by ``load_checkpoint`` (no second read)."""
    from autocnn.model import build_model
    from autocnn.train.inputs import to_device

    config = json.loads(payload["config"])
    model = build_model(config, tuple(payload["input_shape"]), int(payload["n_classes"]))
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise CheckpointError(
            f"checkpoint {where} does not fit the model its config builds ({error}); "
            "it was written by an incompatible autocnn version: retrain"
        ) from error
    to_device(model, device).eval()
    return model, Normalization.from_dict(payload["normalization"]), config


# ----------------------------------------------------------------------------- a run's state


def run_identity(
    config: Mapping[str, Any], seed: int, horizon_steps: int, steps_per_epoch: int, train_set: Any
) -> dict[str, Any]:
    """What a checkpoint must share with a run that continues it (checked in this order)."""
    return {
        "config": config_json(config),
        "config_hash": config_hash(config),
        "n_train": len(train_set),
        "n_classes": int(train_set.n_classes),
        "input_shape": list(train_set.input_shape),
        # not checked on resume (the counts are); what predict and exports call each label
        "class_names": _class_names(train_set),
        "steps_per_epoch": steps_per_epoch,
        "seed": seed,
        "horizon_steps": horizon_steps,
    }


def _class_names(train_set: Any) -> list[str] | None:
    names = getattr(train_set, "class_names", None)
    return list(names) if names is not None else None


def check_resumable(
    payload: Mapping[str, Any], path: Path, expected: Mapping[str, Any], total_steps: int
) -> None:
    """A checkpoint continues a run only under the settings that make the prefix exact."""
    for key, value in expected.items():
        if key.startswith("config") or key == "class_names":
            continue  # load_checkpoint compared the configs, naming the keys that differ
        stored = list(payload[key]) if key == "input_shape" else payload[key]
        if stored != value:
            raise CheckpointError(
                f"checkpoint {path} was trained with {key}={stored!r}, this run has {value!r}; "
                "resume with the same dataset, seed, batch size and horizon, or train from scratch"
            )
    if int(payload["step"]) > total_steps:
        steps_per_epoch = expected["steps_per_epoch"]
        raise CheckpointError(
            f"checkpoint {path} is already at epoch {payload['step'] / steps_per_epoch:g}, beyond "
            f"the requested budget of {total_steps / steps_per_epoch:g} epochs"
        )


def restore_run(
    payload: Mapping[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    augment_rng: torch.Generator,
    device: torch.device,
) -> tuple[int, EpochSums, list[EpochRecord]]:
    """Load a checkpoint's weights and random states in place; ``(step, sums, history)``."""
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng"]["torch"])
    if device.type == "cuda" and payload["rng"]["cuda"] is not None:
        torch.cuda.set_rng_state(payload["rng"]["cuda"], device)
    augment_rng.set_state(payload["rng"]["augment"])
    sums = EpochSums.from_state(payload["accumulators"], device)
    history = [EpochRecord(**record) for record in payload["history"]]
    return int(payload["step"]), sums, history


def save_run(
    path: Path,
    identity: Mapping[str, Any],
    *,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    augment_rng: torch.Generator,
    device: torch.device,
    sums: EpochSums,
    history: list[EpochRecord],
    normalization: Normalization,
) -> None:
    """Write everything :func:`restore_run` needs to continue exactly at ``step``."""
    save_checkpoint(
        path,
        {
            **identity,
            "step": step,
            "epoch": step / identity["steps_per_epoch"],
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "augment": augment_rng.get_state(),
                "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            },
            "accumulators": sums.state(),
            "history": [asdict(record) for record in history],
            "normalization": normalization.to_dict(),
        },
    )
