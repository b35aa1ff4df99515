"""Train one configuration: the loop, its settings, metrics, checkpoints and LR schedules.

Example::

    from autocnn.train import train
    result = train(config, train_set, val_set, epochs=2, horizon=9, save_to=Path("ck.pt"))
    result.status, result.val_balanced_acc, result.history[-1].train_loss
"""

from __future__ import annotations

from autocnn.train.checkpoint import (
    config_hash,
    config_json,
    load_checkpoint,
    load_model,
    model_from_checkpoint,
    save_checkpoint,
)
from autocnn.train.inputs import Normalization, prepare_batch
from autocnn.train.metrics import (
    EvalMetrics,
    accuracy,
    balanced_accuracy,
    class_probabilities,
    confusion_matrix,
    evaluate_model,
    metrics_from_probabilities,
    per_class_accuracy,
)
from autocnn.train.results import EpochRecord, TrainResult
from autocnn.train.schedules import learning_rate_at
from autocnn.train.settings import LR_SCHEDULES, OPTIMIZERS, TrainSettings
from autocnn.train.trainer import DIVERGED, OK, train

__all__ = [
    "DIVERGED",
    "LR_SCHEDULES",
    "OK",
    "OPTIMIZERS",
    "EpochRecord",
    "EvalMetrics",
    "Normalization",
    "TrainResult",
    "TrainSettings",
    "accuracy",
    "balanced_accuracy",
    "class_probabilities",
    "config_hash",
    "config_json",
    "confusion_matrix",
    "evaluate_model",
    "learning_rate_at",
    "load_checkpoint",
    "load_model",
    "metrics_from_probabilities",
    "model_from_checkpoint",
    "per_class_accuracy",
    "prepare_batch",
    "save_checkpoint",
    "train",
]
