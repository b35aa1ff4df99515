"""The training loop: one function, ``train``, readable top to bottom.

Design choices, and why:

- The budget is in epochs and may be fractional: ``epochs=0.5`` runs the first half of the
  steps of epoch 0. An epoch is ``len(train_set) // batch_size`` full batches (the remainder
  is dropped; each epoch's shuffle drops different images).
- Everything random is a pure function of the seed or is checkpointed: the data order of epoch
  ``e`` comes from a generator seeded with ``(seed, e)``; augmentation draws from its own
  generator; dropout from the torch RNG, seeded once. The learning rate is a function of the
  global step over a fixed horizon. So ``train(epochs=b, save_to=ck)`` followed by
  ``train(epochs=b', resume_from=ck)`` gives bit-identical weights and metrics to
  ``train(epochs=b')`` (same seed and horizon): BOHB promotes a config by continuing it.
- Data stay uint8 tensors on the device; a step gathers a batch with one index, converts and
  augments it as a whole (no DataLoader, no per-image Python). Loss and accuracy accumulate as
  device tensors and are read once per epoch; a divergence check syncs every 50 steps.
- A NaN/inf or exploding loss stops the run with status "diverged"; it never raises.
- On CUDA (``device="auto"`` picks it when present) the forward pass runs under bf16 autocast.
- The global torch RNG is forked: training does not disturb the caller's random state.

Example::

    result = train(default_config("seed"), train_set, val_set, epochs=3)
    print(result.val_balanced_acc, result.history[-1])
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from autocnn.errors import CheckpointError, ConfigError, DataError
from autocnn.model import build_model, count_parameters
from autocnn.train.checkpoint import config_hash, config_json, load_checkpoint, save_checkpoint
from autocnn.train.inputs import Normalization, prepare_batch, to_device
from autocnn.train.metrics import EvalMetrics, evaluate_model
from autocnn.train.results import DIVERGENCE_LOSS, EpochRecord, EpochSums, TrainResult
from autocnn.train.schedules import learning_rate_at
from autocnn.train.settings import TrainSettings

OK, DIVERGED = "ok", "diverged"
CHECK_EVERY = 50  # steps between divergence checks (each one is a device sync)
# "Not learning": after a whole epoch, train accuracy and validation balanced accuracy both below
# chance + this share of the way to 100 % (10 classes: 14.5 %). Such a net (dead ReLUs, a
# learning rate that collapsed it to one class) stays there; a search should not pay for more.
NOT_LEARNING_MARGIN = 0.05
NOT_LEARNING_MIN_STEPS = 50  # judged at the first whole epoch with this many steps behind it
EVAL_BATCH_SIZE = 2048
_AUGMENT_SEED = 0x5EED  # keeps the augmentation stream apart from the data-order stream


def train(
    config: Mapping[str, Any],
    train_set: Any,
    val_set: Any | None,
    *,
    epochs: float,
    horizon: float | None = None,
    seed: int = 0,
    resume_from: Path | None = None,
    save_to: Path | None = None,
    device: str = "auto",
    progress: bool = False,
    init_state: Mapping[str, torch.Tensor] | None = None,
    param_groups: Callable[[torch.nn.Module], list[dict[str, Any]]] | None = None,
    before_epoch: Callable[[torch.nn.Module, int], None] | None = None,
    stop_if_not_learning: bool = False,
) -> TrainResult:
    """Train the network of ``config`` on ``train_set`` for ``epochs`` epochs.

    ``horizon`` (epochs, default ``epochs``) is the length of the learning-rate schedule;
    ``resume_from`` continues a checkpoint of the same config, seed and horizon; ``save_to``
    writes a checkpoint at the end (not after divergence). Validation runs after every whole
    epoch and at the end. ``device``: "auto" (CUDA if available), "cpu", "cuda", "cuda:1".

    Fine-tuning hooks (all optional; ``autocnn.transfer`` uses them): ``init_state`` is a state
    dict loaded (strictly) into the fresh model before the optimizer is made (a resumed
    checkpoint overrides it); ``param_groups(model)`` gives the optimizer's parameter groups, each
    may carry an ``"lr_factor"`` that scales the scheduled learning rate; ``before_epoch(model,
    epoch)`` runs before the steps of each epoch (e.g. to freeze layers). Pass the same hooks when
    resuming: a run stays an exact prefix only if they are pure functions of the epoch.

    ``stop_if_not_learning`` ends a run whose net is still at chance level after a whole epoch
    and at least ``NOT_LEARNING_MIN_STEPS`` steps (see ``NOT_LEARNING_MARGIN``) with status
    "diverged" and the reason; BOHB's objective uses it so that dead configs cost an epoch or
    two, not their whole budget.

    Example::

        config = {**default_config("seed"), "optimizer": "sgd", "learning_rate": 0.05}
        first = train(config, train_set, val_set, epochs=1.5, horizon=9, save_to=Path("a.pt"))
        first.status, first.epochs                      # ('ok', 1.5)
        # Continuing gives exactly what train(config, ..., epochs=3, horizon=9) gives:
        longer = train(config, train_set, val_set, epochs=3, horizon=9, resume_from=Path("a.pt"))
    """
    started = time.perf_counter()
    settings = TrainSettings.from_config(config)
    if not (isinstance(epochs, numbers.Real) and math.isfinite(epochs) and epochs >= 0):
        raise ConfigError(f"epochs must be a finite number >= 0, got {epochs!r}")
    horizon = epochs if horizon is None else horizon
    if len(train_set) == 0:
        raise DataError("the training set is empty; pass a dataset with at least one image")
    dev = _resolve_device(device)
    amp = dev.type == "cuda"

    batch_size = min(settings.batch_size, len(train_set))
    steps_per_epoch = len(train_set) // batch_size
    total_steps = math.floor(epochs * steps_per_epoch + 0.5)
    horizon_steps = max(1, math.floor(horizon * steps_per_epoch + 0.5))
    normalization = Normalization.from_data(train_set)
    mean, std = normalization.tensors(dev)
    train_x, train_y = train_set.x.to(dev), train_set.y.to(dev)

    fork_devices = (
        [dev.index if dev.index is not None else torch.cuda.current_device()] if amp else []
    )
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        model = to_device(build_model(config, train_set.input_shape, train_set.n_classes), dev)
        if init_state is not None:
            model.load_state_dict(init_state)
        optimizer = _make_optimizer(model, settings, param_groups)
        augment_rng = torch.Generator().manual_seed(seed + _AUGMENT_SEED)
        sums = EpochSums.zeros(dev)
        history: list[EpochRecord] = []  # whole epochs only; a final partial one is added last
        step = 0
        if resume_from is not None:
            payload = load_checkpoint(resume_from, config)
            identity = _run_identity(config, seed, horizon_steps, steps_per_epoch, train_set)
            _check_compatible(payload, resume_from, identity, total_steps)
            model.load_state_dict(payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
            torch.set_rng_state(payload["rng"]["torch"])
            if amp and payload["rng"]["cuda"] is not None:
                torch.cuda.set_rng_state(payload["rng"]["cuda"], dev)
            augment_rng.set_state(payload["rng"]["augment"])
            sums = EpochSums.from_state(payload["accumulators"], dev)
            history = [EpochRecord(**record) for record in payload["history"]]
            step = int(payload["step"])
        start_step = step

        status, error, last_eval, final_record = OK, None, None, None
        train_seconds = 0.0  # lr: the rate of the last step taken (for the records)
        lr = learning_rate_at(
            settings.lr_schedule, settings.learning_rate, max(step - 1, 0), horizon_steps
        )
        bar = _progress_bar(progress, total_steps - start_step)
        autocast = torch.autocast("cuda", torch.bfloat16) if amp else contextlib.nullcontext()
        model.train()
        while step < total_steps and status == OK:
            epoch = step // steps_per_epoch
            order = _epoch_order(seed, epoch, len(train_set)).to(dev)
            stop = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
            if before_epoch is not None:
                before_epoch(model, epoch)
            segment_start = time.perf_counter()
            for position in range(step - epoch * steps_per_epoch, stop):
                lr = learning_rate_at(
                    settings.lr_schedule, settings.learning_rate, step, horizon_steps
                )
                for group in optimizer.param_groups:
                    group["lr"] = lr * group.get("lr_factor", 1.0)
                index = order[position * batch_size : (position + 1) * batch_size]
                labels = train_y[index]
                x = prepare_batch(train_x[index], mean, std, settings.augmentation, augment_rng)
                with autocast:
                    logits = model(x)
                loss = F.cross_entropy(
                    logits.float(), labels, label_smoothing=settings.label_smoothing
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                sums.add(loss.detach(), (logits.detach().argmax(dim=1) == labels).sum())
                step += 1
                if step % CHECK_EVERY == 0 and sums.diverged():
                    status = DIVERGED
                    break
                if bar is not None and step % 10 == 0:
                    bar.update(bar.task_ids[0], completed=step - start_step)
            if status == OK and sums.diverged():
                status = DIVERGED
            train_seconds += time.perf_counter() - segment_start
            if status == DIVERGED:
                error = (
                    f"training loss diverged (non-finite or > {DIVERGENCE_LOSS:g}) by epoch "
                    f"{step / steps_per_epoch:.3g} (step {step}) at lr {lr:.3g}"
                )
                break
            last_eval = _validate(model, val_set, normalization, dev, amp)
            record = sums.record(
                step / steps_per_epoch,
                batch_size,
                last_eval,
                time.perf_counter() - segment_start,
                lr,
            )
            if step % steps_per_epoch == 0:
                history.append(record)
                sums = EpochSums.zeros(dev)
                judged = stop_if_not_learning and step >= NOT_LEARNING_MIN_STEPS
                if judged and _not_learning(record, train_set.n_classes):
                    status = DIVERGED
                    error = (
                        f"not learning: train accuracy {record.train_acc:.1%} and validation "
                        f"balanced accuracy {_percent(record.val_balanced_acc)} after epoch "
                        f"{record.epoch:g} (chance: {1 / train_set.n_classes:.1%}); stopped early"
                    )
            else:
                final_record = record
            if bar is not None:
                bar.update(
                    bar.task_ids[0], completed=step - start_step, description=_describe(record)
                )
        if bar is not None:
            bar.stop()

        if status == OK and last_eval is None:  # nothing left to train (resumed at the end)
            last_eval = _validate(model, val_set, normalization, dev, amp)
            if step % steps_per_epoch != 0 and step > 0:
                final_record = sums.record(step / steps_per_epoch, batch_size, last_eval, 0.0, lr)
        if status == OK and save_to is not None:
            rng = {
                "torch": torch.get_rng_state(),
                "augment": augment_rng.get_state(),
                "cuda": torch.cuda.get_rng_state(dev) if amp else None,
            }
            save_checkpoint(
                save_to,
                {
                    **_run_identity(config, seed, horizon_steps, steps_per_epoch, train_set),
                    "step": step,
                    "epoch": step / steps_per_epoch,
                    "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                    "optimizer": optimizer.state_dict(),
                    "rng": rng,
                    "accumulators": sums.state(),
                    "history": [asdict(r) for r in history],
                    "normalization": normalization.to_dict(),
                },
            )

    if final_record is not None:
        history = [*history, final_record]
    trained_images = (step - start_step) * batch_size
    final = last_eval if status == OK else None
    return TrainResult(
        status=status,
        epochs=step / steps_per_epoch,
        start_epoch=start_step / steps_per_epoch,
        history=history,
        val_loss=final.loss if final else None,
        val_acc=final.accuracy if final else None,
        val_balanced_acc=final.balanced_accuracy if final else None,
        per_class_acc=final.per_class_acc if final else None,
        confusion=final.confusion if final else None,
        n_params=count_parameters(model),
        seconds=time.perf_counter() - started,
        images_per_second=trained_images / train_seconds if train_seconds > 0 else 0.0,
        steps=step,
        device=str(dev),
        normalization=normalization.to_dict(),
        error=error,
        model=model,
    )


def _not_learning(record: EpochRecord, n_classes: int) -> bool:
    chance = 1.0 / max(n_classes, 1)
    threshold = chance + NOT_LEARNING_MARGIN * (1.0 - chance)
    val = record.val_balanced_acc
    return record.train_acc < threshold and (val is None or val < threshold)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The shuffled order of epoch ``epoch``: a pure function of (seed, epoch)."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63))
    return torch.randperm(n, generator=generator)


def _make_optimizer(
    model: torch.nn.Module,
    settings: TrainSettings,
    param_groups: Callable[[torch.nn.Module], list[dict[str, Any]]] | None = None,
) -> torch.optim.Optimizer:
    params: Any = model.parameters() if param_groups is None else param_groups(model)
    lr, decay = settings.learning_rate, settings.weight_decay
    if settings.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    if settings.optimizer == "sgd":
        momentum = settings.momentum
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=decay
        )
    return torch.optim.Adadelta(params, lr=lr, weight_decay=decay)


def _validate(
    model: torch.nn.Module, val_set: Any | None, norm: Normalization, dev: torch.device, amp: bool
) -> EvalMetrics | None:
    if val_set is None or len(val_set) == 0:
        return None
    metrics = evaluate_model(
        model, val_set, EVAL_BATCH_SIZE, normalization=norm, device=dev, amp=amp
    )
    model.train()
    return metrics


def _run_identity(
    config: Mapping[str, Any], seed: int, horizon_steps: int, steps_per_epoch: int, train_set: Any
) -> dict[str, Any]:
    """What a checkpoint must share with a run that continues it (checked in this order)."""
    return {
        "config": config_json(config),
        "config_hash": config_hash(config),
        "n_train": len(train_set),
        "n_classes": int(train_set.n_classes),
        "input_shape": list(train_set.input_shape),
        "steps_per_epoch": steps_per_epoch,
        "seed": seed,
        "horizon_steps": horizon_steps,
    }


def _check_compatible(
    payload: Mapping[str, Any], path: Path, expected: Mapping[str, Any], total_steps: int
) -> None:
    """A checkpoint continues a run only under the settings that make the prefix exact."""
    for key, value in expected.items():
        if key.startswith("config"):
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


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available; use 'cpu'")
    return dev


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    bar.add_task("training", total=max(total, 1))
    bar.start()
    return bar


def _describe(record: EpochRecord) -> str:
    text = f"epoch {record.epoch:g} loss {record.train_loss:.3f}"
    if record.val_acc is not None:
        text += f" val acc {record.val_acc:.4f}"
    return text
