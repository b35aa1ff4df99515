"""What training reports: per-epoch records, the final result, and the running epoch sums.

Every field of a record or result is plain Python (float/int/str/None, lists of them), so
``to_dict()`` goes straight into JSON, SQLite or another process. The sums stay on the device
during an epoch (no sync per step) and are read once when the epoch's record is made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch

from autocnn.train.metrics import EvalMetrics

DIVERGENCE_LOSS = 1e4  # a batch loss above this (or non-finite) means the run has diverged


@dataclass
class EpochRecord:
    """Metrics after a whole epoch, or after the last (partial) epoch of the budget."""

    epoch: float
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    val_balanced_acc: float | None
    seconds: float
    lr: float


@dataclass
class TrainResult:
    """What a training run returns. Every field but ``model`` is plain JSON-ready Python."""

    status: str  # "ok", "diverged", or "stopped" (by a stop_when hook)
    epochs: float  # epochs actually reached (a diverged run stops early)
    start_epoch: float  # where this call started (> 0 when resumed from a checkpoint)
    history: list[EpochRecord]
    val_loss: float | None
    val_acc: float | None
    val_balanced_acc: float | None
    per_class_acc: list[float | None] | None
    confusion: list[list[int]] | None
    n_params: int
    seconds: float
    images_per_second: float
    steps: int  # global optimizer steps done, including those before a resume
    device: str
    normalization: dict[str, list[float]]  # the training set's; needed to evaluate a test set
    error: str | None = None
    # Training images per class, and the imbalance method with its parameter (see imbalance.py):
    # recorded with every evaluation so a report can put the counts beside per-class accuracy.
    train_class_counts: list[int] | None = None
    imbalance: dict[str, Any] | None = None
    precision: str = "fp32"  # "bf16" when trained under bf16 autocast (precision.py)
    model: torch.nn.Module | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """All fields but the model, as plain Python (JSON-serialisable)."""
        payload = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        payload["history"] = [asdict(record) for record in self.history]
        return payload


@dataclass
class EpochSums:
    """Running sums of one epoch, kept on the device so a step never waits for the GPU."""

    loss_sum: torch.Tensor  # sum of batch-mean losses (float64)
    correct: torch.Tensor  # correct predictions (int64)
    worst: torch.Tensor  # largest batch loss seen (NaN sticks: torch.maximum propagates it)
    steps: int

    @classmethod
    def zeros(cls, device: torch.device) -> EpochSums:
        return cls(
            torch.zeros((), dtype=torch.float64, device=device),
            torch.zeros((), dtype=torch.int64, device=device),
            torch.zeros((), dtype=torch.float32, device=device),
            0,
        )

    @classmethod
    def from_state(cls, state: Mapping[str, Any], device: torch.device) -> EpochSums:
        return cls(
            state["loss_sum"].to(device),
            state["correct"].to(device),
            state["worst"].to(device),
            int(state["steps"]),
        )

    def state(self) -> dict[str, Any]:
        return {
            "loss_sum": self.loss_sum.cpu(),
            "correct": self.correct.cpu(),
            "worst": self.worst.cpu(),
            "steps": self.steps,
        }

    def add(self, loss: torch.Tensor, correct: torch.Tensor) -> None:
        self.loss_sum += loss
        self.correct += correct
        self.worst = torch.maximum(self.worst, loss)
        self.steps += 1

    def diverged(self) -> bool:
        worst = float(self.worst)  # the one sync
        return not math.isfinite(worst) or worst > DIVERGENCE_LOSS

    def record(
        self, epoch: float, batch_size: int, val: EvalMetrics | None, seconds: float, lr: float
    ) -> EpochRecord:
        steps = max(self.steps, 1)
        return EpochRecord(
            epoch=epoch,
            train_loss=float(self.loss_sum) / steps,
            train_acc=float(self.correct) / (steps * batch_size),
            val_loss=val.loss if val else None,
            val_acc=val.accuracy if val else None,
            val_balanced_acc=val.balanced_accuracy if val else None,
            seconds=seconds,
            lr=lr,
        )
