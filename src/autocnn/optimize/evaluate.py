"""The real objective: train a config on a dataset up to a budget, return its validation error.

This is the only place where ``optimize`` touches ``train``. A :class:`TrainingObjective` is a small
picklable value (dataset name, fidelity, seeds); each worker process loads and splits the data once
and keeps it in a per-process cache, so an evaluation costs only its training.

Fidelities (what a budget ``b`` in ``[min_budget, max_budget]`` means):

- ``epochs`` (default): train ``b`` epochs on all training data. The LR schedule's horizon is
  ``max_budget``, so a run of ``b`` epochs is an exact prefix of a run of ``b' > b`` epochs
  and a promoted config continues from its checkpoint instead of retraining.
- ``annealed``: train ``b`` epochs on all training data with the LR schedule's horizon at ``b``:
  every budget is a complete training whose schedule ends (warm-up, annealing) within it, as
  when retraining per budget in HpBandSter. Low budgets then rank configs with decaying
  schedules (one-cycle, cosine) fairly; with ``epochs`` they see only the schedule's start. No
  continuation: a promoted config retrains from scratch.
- ``data``: train ``epochs`` epochs on a stratified, nested subset holding ``b / max_budget``
  of the training data (the seed's "data-subset fidelity"). No continuation: the data differs.
- ``both``: ``r = b / max_budget``; data fraction ``sqrt(r)`` and ``epochs * sqrt(r)`` epochs,
  so the cost still grows linearly with the budget. No continuation.
- ``time``: train for ``b`` seconds (this worker's clock, from the start of the evaluation) on
  all training data, the LR schedule driven by the time so that it completes at the deadline
  (``train(deadline=...)``). Configs are compared at equal cost, as a time-limited final
  training (``fit``) will face them: at equal epochs a net 4x slower looks better than it will
  be (issue #13: a fit chose such nets and lost to the default trained as long). On large data
  a small budget sees part of an epoch: a random subset, as with ``data``. Not reproducible step
  for step (the machine's speed decides the epochs); no continuation.

The test part of a dataset is never loaded here: search sees train and validation only.

Example::

    settings = RunSettings("kmnist10k", data_dir="../shared/data/kmnist", max_budget=9)
    objective = TrainingObjective(settings)
    trial = Trial(config_id=0, config=default_config("seed"), budget=1)
    result = objective(trial, Path("trials/00000"))
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocnn import data
from autocnn.optimize.early_stopping import CURVE, STOPPED_EARLY, StopRule
from autocnn.optimize.faults import result_of_exception
from autocnn.optimize.folder import checkpoint_path
from autocnn.optimize.settings import RunSettings
from autocnn.optimize.trial import DIVERGED, OK, Result, Trial

# With the time fidelity the deadline ends training; the epochs only bound it, out of reach of
# any device for these nets (a bound reached would still end with a complete schedule).
TIME_FIDELITY_IMG_PER_S = 1e7

# Per-process cache: (dataset, data_dir, val_fraction, split_seed) -> (train, validation).
_SPLITS: dict[tuple, tuple[data.ImageSet, data.ImageSet]] = {}


def clear_split_cache() -> None:
    """Forget the splits this process loaded (tests; a long-lived process switching datasets)."""
    _SPLITS.clear()


@dataclass(frozen=True)
class TrainingObjective:
    """Train ``trial.config`` as ``settings`` say, to ``trial.budget``; loss = 1 - validation
    metric. The remaining fields are how this process trains, not what the run is."""

    settings: RunSettings
    keep_checkpoints: bool = True
    device: str = "auto"
    precision: str = "auto"  # bf16 autocast where native (autocnn.train.precision)
    stop_if_not_learning: bool = True  # a net at chance a third into its schedule ends there

    def _split_key(self) -> tuple:
        s = self.settings
        return (s.dataset, s.data_dir, s.val_fraction, s.split_seed)

    def splits(self) -> tuple[data.ImageSet, data.ImageSet]:
        """The train/validation split, loaded once per process."""
        key = self._split_key()
        if key not in _SPLITS:
            s = self.settings
            full = data.load(s.dataset, "train", data_dir=s.data_dir)
            _SPLITS[key] = data.train_val_split(full, s.val_fraction, seed=s.split_seed)
        return _SPLITS[key]

    def preload(self, splits: tuple[data.ImageSet, data.ImageSet]) -> None:
        """Hand this process the split :meth:`splits` would load (e.g. from Ray's object store),
        so that it never reads the dataset files; a split already cached here is kept."""
        _SPLITS.setdefault(self._split_key(), splits)

    def plan(self, budget: float, n_train: int = 1) -> tuple[float, float]:
        """(epochs, data fraction) that a budget buys under this fidelity (with ``time``: the
        bound on epochs for ``n_train`` images; the deadline ends the training)."""
        s = self.settings
        if s.fidelity == "time":
            return budget * TIME_FIDELITY_IMG_PER_S / max(n_train, 1), 1.0
        ratio = min(1.0, budget / s.max_budget)
        full_epochs = s.epochs or s.max_budget
        if s.fidelity in ("epochs", "annealed"):
            return budget, 1.0
        if s.fidelity == "data":
            return full_epochs, ratio
        return full_epochs * math.sqrt(ratio), math.sqrt(ratio)

    def initial_state(self, config: dict[str, Any], train_set: data.ImageSet) -> tuple[Any, dict]:
        """Weights to start a new model from (None: a fresh init) and what to record about them.

        A hook for subclasses: configuration transfer starts trials from a source model.
        """
        return None, {}

    def __call__(self, trial: Trial, workdir: Path) -> Result:
        start = time.perf_counter()
        try:
            return self._evaluate(trial, Path(workdir), start)
        except Exception as error:  # a broken config must not stop the study
            return result_of_exception(error, time.perf_counter() - start)

    def _evaluate(self, trial: Trial, workdir: Path, start: float) -> Result:
        from autocnn.train import train  # heavy import (torch) only where training happens

        s = self.settings
        train_set, val_set = self.splits()
        epochs, fraction = self.plan(trial.budget, len(train_set))
        timed = s.fidelity == "time"
        deadline = time.monotonic() + trial.budget if timed else None
        if fraction < 1.0:
            train_set = data.stratified_subset(train_set, fraction, seed=s.split_seed)

        resume_from = None
        continued_from = 0.0
        if s.continue_training and s.fidelity == "epochs" and trial.previous_budget:
            previous = checkpoint_path(workdir, trial.previous_budget)
            if previous.exists():
                resume_from, continued_from = previous, trial.previous_budget
        workdir.mkdir(parents=True, exist_ok=True)
        save_to = checkpoint_path(workdir, trial.budget) if self.keep_checkpoints else None
        init_state, init_info = self.initial_state(trial.config, train_set)
        rule = None if trial.stop_rule is None else StopRule.from_dict(trial.stop_rule)

        result = train(
            trial.config,
            train_set,
            val_set,
            epochs=epochs,
            horizon=s.max_budget if s.fidelity == "epochs" else epochs,
            seed=s.seed,
            resume_from=resume_from,
            save_to=save_to,
            device=self.device,
            precision=self.precision,
            init_state=init_state,
            stop_if_not_learning=self.stop_if_not_learning,
            stop_when=None if rule is None else lambda r: rule.check(r.epoch, self._loss(r)),
            deadline=deadline,
        )
        if resume_from is not None and save_to is not None and save_to.exists():
            resume_from.unlink(missing_ok=True)  # the longer checkpoint supersedes it
        metrics = result.to_dict()
        metrics.update(
            epochs=result.epochs if timed else epochs,
            data_fraction=fraction,
            continued_from=continued_from,
            **init_info,
        )
        metrics[CURVE] = [
            [r.epoch, loss] for r in result.history if (loss := self._loss(r)) is not None
        ]
        seconds = time.perf_counter() - start
        # what was trained: less than planned when training stopped early (diverged, not learning)
        cost = max(0.0, result.epochs - continued_from) * fraction
        if result.status == "stopped":  # a result: the loss it had, above what its rung needs
            metrics[STOPPED_EARLY] = result.error
        elif result.status != "ok":
            return Result(
                DIVERGED,
                metrics=metrics,
                error=result.error or "diverged",
                seconds=seconds,
                cost=cost,
            )
        return Result(OK, loss=self._loss(result), metrics=metrics, seconds=seconds, cost=cost)

    def _loss(self, record: Any) -> float | None:
        """The objective's loss of a TrainResult or of one epoch of its curve (None without
        validation)."""
        balanced = self.settings.metric == "balanced_accuracy"
        score = record.val_balanced_acc if balanced else record.val_acc
        return None if score is None else 1.0 - score
