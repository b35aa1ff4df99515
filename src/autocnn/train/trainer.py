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
- Class imbalance (config key ``imbalance``, see :mod:`autocnn.train.imbalance`) changes only
  the training loss (class weights, logit adjustment) or the data order (class-balanced draws,
  still a pure function of (seed, epoch)); validation is always plain.
- A NaN/inf or exploding loss stops the run with status "diverged"; it never raises.
- ``precision="auto"`` runs the forward pass (and validation) under bf16 autocast on CUDA and on
  CPUs with native bf16 (about 1.8x faster here; :mod:`autocnn.train.precision`).
- The global torch RNG is forked: training does not disturb the caller's random state.

Example::

    result = train(default_config("seed"), train_set, val_set, epochs=3)
    print(result.val_balanced_acc, result.history[-1])
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from autocnn.errors import ConfigError, DataError
from autocnn.model import build_model, count_parameters
from autocnn.train.checkpoint import (
    check_resumable,
    load_checkpoint,
    restore_run,
    run_identity,
    save_run,
)
from autocnn.train.device import resolve_device, rng_devices
from autocnn.train.imbalance import ImbalanceTerms, balanced_order
from autocnn.train.inputs import Normalization, prepare_batch, to_device
from autocnn.train.metrics import EvalMetrics, evaluate_model
from autocnn.train.precision import autocast_dtype, precision_name
from autocnn.train.results import DIVERGENCE_LOSS, EpochRecord, EpochSums, TrainResult
from autocnn.train.schedules import learning_rate_at
from autocnn.train.settings import TrainSettings

OK, DIVERGED, STOPPED = "ok", "diverged", "stopped"
CHECK_EVERY = 50  # steps between divergence checks (each one is a device sync)
# "Not learning": after a whole epoch, train accuracy and validation balanced accuracy both below
# chance + this share of the way to 100 % (10 classes: 14.5 %). Such a net (dead ReLUs, a
# learning rate that collapsed it to one class) stays there; a search should not pay for more.
NOT_LEARNING_MARGIN = 0.05
# Judged at the first whole epoch with this many steps behind it and this share of the learning-
# rate schedule done: past one-cycle's warm-up (its peak at 0.3), whose first steps run at a 25th
# of the learning rate. Judged at the first epoch instead, 13 of 19 runs that searches stopped
# learned when trained again without the stop (one to 0.035 validation error); at a third, 5 of
# the 6 that stayed at chance are still stopped (BENCHMARKS §11.1).
NOT_LEARNING_MIN_STEPS = 50
NOT_LEARNING_MIN_PROGRESS = 1 / 3
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
    stop_when: Callable[[EpochRecord], str | None] | None = None,
    deadline: float | None = None,
    precision: str = "auto",
) -> TrainResult:
    """Train the network of ``config`` on ``train_set`` for ``epochs`` epochs.

    ``horizon`` (epochs, default ``epochs``) is the length of the learning-rate schedule;
    ``resume_from`` continues a checkpoint of the same config, seed and horizon; ``save_to``
    writes a checkpoint at the end (not after divergence). Validation runs after every whole
    epoch and at the end. ``device``: "auto" (CUDA if available), "cpu", "cuda", "cuda:1";
    ``precision``: "auto" (bf16 autocast where native), "fp32" or "bf16" (see ``precision.py``).

    Fine-tuning hooks (all optional; ``autocnn.transfer`` uses them): ``init_state`` is a state
    dict loaded (strictly) into the fresh model before the optimizer is made (a resumed
    checkpoint overrides it); ``param_groups(model)`` gives the optimizer's parameter groups, each
    may carry an ``"lr_factor"`` that scales the scheduled learning rate; ``before_epoch(model,
    epoch)`` runs before the steps of each epoch (e.g. to freeze layers). Pass the same hooks when
    resuming: a run stays an exact prefix only if they are pure functions of the epoch.

    ``stop_if_not_learning`` ends a run whose net is still at chance level after a whole epoch,
    at least ``NOT_LEARNING_MIN_STEPS`` steps and ``NOT_LEARNING_MIN_PROGRESS`` of its schedule
    (see ``NOT_LEARNING_MARGIN``) with status "diverged" and the reason; BOHB's objective uses it
    so that dead configs cost a third of their budget, not all of it.

    ``stop_when(record)`` is asked after every whole epoch (that did not diverge); a reason it
    returns ends the run there with status "stopped" and that reason in ``error``, the metrics
    of that epoch, and no checkpoint (learning-curve early stopping in a search,
    :mod:`autocnn.optimize.early_stopping`).

    ``deadline`` (a ``time.monotonic()`` value) makes the wall clock part of the schedule, for a
    budget that must hold (``fit``'s final training): the learning rate follows whichever is
    further along, the steps or the time (so it has annealed by the deadline even when the
    machine is slower than planned), and training ends after the step that passes the deadline,
    status "ok", with fewer epochs than asked. Such a run is not reproducible step for step.

    Example::

        config = {**default_config("seed"), "optimizer": "sgd", "learning_rate": 0.05}
        first = train(config, train_set, val_set, epochs=1.5, horizon=9, save_to=Path("a.pt"))
        first.status, first.epochs                      # ('ok', 1.5)
        # Continuing gives exactly what train(config, ..., epochs=3, horizon=9) gives:
        longer = train(config, train_set, val_set, epochs=3, horizon=9, resume_from=Path("a.pt"))
    """
    started = time.perf_counter()
    settings = TrainSettings.from_config(config)
    _check_inputs(epochs, train_set)
    horizon = epochs if horizon is None else horizon
    dev = resolve_device(device)
    amp_dtype = autocast_dtype(dev, precision)
    batch_size = min(settings.batch_size, len(train_set))
    steps_per_epoch = len(train_set) // batch_size
    total_steps = math.floor(epochs * steps_per_epoch + 0.5)
    horizon_steps = max(1, math.floor(horizon * steps_per_epoch + 0.5))
    identity = run_identity(config, seed, horizon_steps, steps_per_epoch, train_set)
    normalization = Normalization.from_data(train_set)
    mean, std = normalization.tensors(dev)
    train_x, train_y = train_set.x.to(dev), train_set.y.to(dev)
    class_counts = train_set.class_counts()
    imbalance = ImbalanceTerms.build(settings.imbalance, class_counts, dev)

    with torch.random.fork_rng(devices=rng_devices(dev)):
        # --- the model, its optimizer and every random state (fresh, or from a checkpoint)
        torch.manual_seed(seed)
        model = to_device(build_model(config, train_set.input_shape, train_set.n_classes), dev)
        if init_state is not None:
            model.load_state_dict(init_state)
        optimizer = _make_optimizer(model, settings, param_groups)
        augment_rng = torch.Generator().manual_seed(seed + _AUGMENT_SEED)
        step, sums, history = 0, EpochSums.zeros(dev), []  # history: whole epochs only
        if resume_from is not None:
            payload = load_checkpoint(resume_from, config)
            check_resumable(payload, resume_from, identity, total_steps)
            step, sums, history = restore_run(payload, model, optimizer, augment_rng, dev)
        start_step = step

        # --- the step loop: one pass per (rest of an) epoch, then validate, record, judge
        error, last_eval, final_record, train_seconds, out_of_time = None, None, None, 0.0, False
        stopped = None  # why stop_when ended the run
        lr = _learning_rate(settings, max(step - 1, 0), horizon_steps)  # of the last step taken
        done = step / horizon_steps
        bar = _progress_bar(progress, total_steps - start_step)
        autocast = nullcontext() if amp_dtype is None else torch.autocast(dev.type, amp_dtype)
        model.train()
        clock_start = time.monotonic()
        while step < total_steps and error is None and stopped is None and not out_of_time:
            epoch = step // steps_per_epoch
            order = _epoch_order(seed, epoch, train_set, imbalance.balanced_sampling).to(dev)
            stop = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
            if before_epoch is not None:
                before_epoch(model, epoch)
            segment_start = time.perf_counter()
            for position in range(step - epoch * steps_per_epoch, stop):
                scheduled = step
                if deadline is not None:  # the schedule also advances with the time used
                    used = (time.monotonic() - clock_start) / max(deadline - clock_start, 1e-9)
                    scheduled = max(step, min(horizon_steps - 1, int(used * horizon_steps)))
                lr = _learning_rate(settings, scheduled, horizon_steps)
                done = (scheduled + 1) / horizon_steps  # share of the schedule after this step
                for group in optimizer.param_groups:
                    group["lr"] = lr * group.get("lr_factor", 1.0)
                index = order[position * batch_size : (position + 1) * batch_size]
                labels = train_y[index]
                x = prepare_batch(train_x[index], mean, std, settings.augmentation, augment_rng)
                with autocast:
                    logits = model(x)
                loss = imbalance.loss(logits.float(), labels, settings.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                sums.add(loss.detach(), (logits.detach().argmax(dim=1) == labels).sum())
                step += 1
                if step % CHECK_EVERY == 0 and sums.diverged():
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    out_of_time = True
                    break
                if bar is not None and step % 10 == 0:
                    bar.update(bar.task_ids[0], completed=step - start_step)
            train_seconds += time.perf_counter() - segment_start
            error = _divergence_error(sums, step, steps_per_epoch, lr)
            if error is not None:
                break
            last_eval = _validate(model, val_set, normalization, dev, amp_dtype is not None)
            seconds = time.perf_counter() - segment_start
            record = sums.record(step / steps_per_epoch, batch_size, last_eval, seconds, lr)
            if step % steps_per_epoch == 0:  # a whole epoch
                history.append(record)
                sums = EpochSums.zeros(dev)
                if (
                    stop_if_not_learning
                    and step >= NOT_LEARNING_MIN_STEPS
                    and done >= NOT_LEARNING_MIN_PROGRESS
                ):
                    error = _not_learning_error(record, train_set.n_classes)
                if error is None and stop_when is not None and step < total_steps:
                    stopped = stop_when(record)
            else:
                final_record = record
            if bar is not None:
                bar.update(
                    bar.task_ids[0], completed=step - start_step, description=_describe(record)
                )
        if bar is not None:
            bar.stop()

        # --- the end: a last validation if nothing was left to train, then the checkpoint
        if error is None and last_eval is None:  # resumed at the end of the budget
            last_eval = _validate(model, val_set, normalization, dev, amp_dtype is not None)
            if step % steps_per_epoch != 0 and step > 0:
                final_record = sums.record(step / steps_per_epoch, batch_size, last_eval, 0.0, lr)
        if error is None and stopped is None and save_to is not None:
            save_run(
                save_to,
                identity,
                step=step,
                model=model,
                optimizer=optimizer,
                augment_rng=augment_rng,
                device=dev,
                sums=sums,
                history=history,
                normalization=normalization,
            )

    if final_record is not None:
        history = [*history, final_record]
    final = last_eval if error is None else None
    trained_images = (step - start_step) * batch_size
    return TrainResult(
        status=DIVERGED if error is not None else STOPPED if stopped is not None else OK,
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
        error=error or stopped,
        train_class_counts=[int(n) for n in class_counts],
        imbalance=settings.imbalance.to_dict(),
        precision=precision_name(amp_dtype),
        model=model,
    )


# ----------------------------------------------------------------------------- the stop policy


def _divergence_error(sums: EpochSums, step: int, steps_per_epoch: int, lr: float) -> str | None:
    """Why the run must stop because its loss blew up (NaN/inf or > DIVERGENCE_LOSS), or None."""
    if not sums.diverged():
        return None
    return (
        f"training loss diverged (non-finite or > {DIVERGENCE_LOSS:g}) by epoch "
        f"{step / steps_per_epoch:.3g} (step {step}) at lr {lr:.3g}"
    )


def _not_learning_error(record: EpochRecord, n_classes: int) -> str | None:
    """Why the run must stop because the net is still at chance after a whole epoch, or None."""
    if not not_learning(record, n_classes):
        return None
    return (
        f"not learning: train accuracy {record.train_acc:.1%} and validation "
        f"balanced accuracy {_percent(record.val_balanced_acc)} after epoch "
        f"{record.epoch:g} (chance: {1 / n_classes:.1%}); stopped early"
    )


def not_learning(record: EpochRecord, n_classes: int) -> bool:
    """Still at chance after an epoch: train accuracy and validation balanced accuracy below
    chance + NOT_LEARNING_MARGIN of the way to 100 %."""
    chance = 1.0 / max(n_classes, 1)
    threshold = chance + NOT_LEARNING_MARGIN * (1.0 - chance)
    val = record.val_balanced_acc
    return record.train_acc < threshold and (val is None or val < threshold)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _epoch_order(seed: int, epoch: int, train_set: Any, balanced: bool) -> torch.Tensor:
    """The data order of epoch ``epoch``: a pure function of (seed, epoch), so a continued run
    sees the same batches. A permutation, or class-balanced draws with replacement."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63))
    if balanced:
        return balanced_order(train_set.y, train_set.n_classes, generator)
    return torch.randperm(len(train_set), generator=generator)


def _learning_rate(settings: TrainSettings, step: int, horizon_steps: int) -> float:
    return learning_rate_at(settings.lr_schedule, settings.learning_rate, step, horizon_steps)


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
    model: torch.nn.Module,
    val_set: Any | None,
    norm: Normalization,
    dev: torch.device,
    amp: bool,
) -> EvalMetrics | None:
    if val_set is None or len(val_set) == 0:
        return None
    metrics = evaluate_model(
        model, val_set, EVAL_BATCH_SIZE, normalization=norm, device=dev, amp=amp
    )
    model.train()
    return metrics


def _check_inputs(epochs: Any, train_set: Any) -> None:
    if not (isinstance(epochs, numbers.Real) and math.isfinite(epochs) and epochs >= 0):
        raise ConfigError(f"epochs must be a finite number >= 0, got {epochs!r}")
    if len(train_set) == 0:
        raise DataError("the training set is empty; pass a dataset with at least one image")


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
