"""Classification metrics, all derived from one confusion matrix, and model evaluation.

``balanced_accuracy`` is the mean recall over the classes present in ``y_true``: the official
Kuzushiji-49 metric, which weighs a rare class as much as a common one. Everything is computed
with one ``bincount`` (torch), so it runs on the device that holds the predictions.

Example::

    >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 1, 1])   # recalls 2/3 and 1/1
    0.8333333333333333
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autocnn.train.inputs import Normalization, prepare_batch


def _as_labels(values: Any) -> torch.Tensor:
    tensor = values if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    return tensor.reshape(-1).to(torch.int64)


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class ``i`` predicted as ``j``; int64 numpy array."""
    return _confusion(_as_labels(y_true), _as_labels(y_pred), n_classes).cpu().numpy()


def _confusion(y_true: torch.Tensor, y_pred: torch.Tensor, n_classes: int | None) -> torch.Tensor:
    if n_classes is None:
        n_classes = int(max(int(y_true.max()), int(y_pred.max()))) + 1 if len(y_true) else 0
    flat = y_true.to(y_pred.device) * n_classes + y_pred
    return torch.bincount(flat, minlength=n_classes * n_classes).view(n_classes, n_classes)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of correct predictions."""
    y_true, y_pred = _as_labels(y_true), _as_labels(y_pred)
    return float((y_true == y_pred).to(torch.float64).mean()) if len(y_true) else float("nan")


def per_class_accuracy(
    y_true: Any, y_pred: Any, n_classes: int | None = None
) -> list[float | None]:
    """Recall of each class; ``None`` for a class absent from ``y_true``."""
    return per_class_from_confusion(confusion_matrix(y_true, y_pred, n_classes))


def balanced_accuracy(y_true: Any, y_pred: Any, n_classes: int | None = None) -> float:
    """Mean recall over the classes present in ``y_true``."""
    return balanced_from_confusion(confusion_matrix(y_true, y_pred, n_classes))


def per_class_from_confusion(confusion: np.ndarray) -> list[float | None]:
    """Row-wise recall of a confusion matrix; ``None`` where a row is empty."""
    confusion = np.asarray(confusion)
    support = confusion.sum(axis=1)
    hits = np.diag(confusion)
    return [float(h / s) if s > 0 else None for h, s in zip(hits, support, strict=True)]


def balanced_from_confusion(confusion: np.ndarray) -> float:
    """Mean recall over the non-empty rows of a confusion matrix."""
    confusion = np.asarray(confusion)
    support = confusion.sum(axis=1)
    present = support > 0
    if not present.any():
        return float("nan")
    return float(np.mean(np.diag(confusion)[present] / support[present]))


@dataclass
class EvalMetrics:
    """Metrics of a model on one dataset. Plain Python values only."""

    loss: float
    accuracy: float
    balanced_accuracy: float
    per_class_acc: list[float | None]
    confusion: list[list[int]]
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_model(
    model: torch.nn.Module,
    data: Any,
    batch_size: int = 2048,
    *,
    normalization: Normalization | None = None,
    device: str | torch.device | None = None,
    amp: bool | None = None,
) -> EvalMetrics:
    """Evaluate ``model`` on an ImageSet in large no-grad batches, in eval mode.

    Pass the TRAINING set's ``normalization`` (``TrainResult.normalization``, or the one stored
    in a checkpoint) when evaluating a test set; ``None`` uses the statistics of ``data`` itself.
    ``device`` defaults to the model's device; ``amp`` (bf16 autocast) defaults to "on CUDA".
    The model's train/eval mode is restored afterwards.

    Example::

        metrics = evaluate_model(result.model, test_set,
                                 normalization=Normalization.from_dict(result.normalization))
        print(metrics.balanced_accuracy)
    """
    if normalization is None:
        normalization = Normalization.from_data(data)
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    if amp is None:
        amp = device.type == "cuda"
    mean, std = normalization.tensors(device)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    predictions = []
    with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=amp):
        for start in range(0, len(data), batch_size):
            images = data.x[start : start + batch_size].to(device, non_blocking=True)
            labels = data.y[start : start + batch_size].to(device, non_blocking=True)
            logits = model(prepare_batch(images, mean, std)).float()
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").to(torch.float64)
            predictions.append(logits.argmax(dim=1))
    model.train(was_training)
    n = len(data)
    predicted = torch.cat(predictions) if predictions else torch.zeros(0, dtype=torch.int64)
    confusion = _confusion(data.y.to(predicted.device), predicted, data.n_classes).cpu().numpy()
    return EvalMetrics(
        loss=float(loss_sum) / max(n, 1),
        accuracy=float(np.trace(confusion) / max(n, 1)),
        balanced_accuracy=balanced_from_confusion(confusion),
        per_class_acc=per_class_from_confusion(confusion),
        confusion=confusion.tolist(),
        n=n,
    )


def class_probabilities(
    model: torch.nn.Module,
    images: torch.Tensor,
    *,
    normalization: Normalization,
    batch_size: int = 2048,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Softmax class probabilities (N, n_classes, float32, on the CPU) of uint8 ``images``.

    Eval mode, no grad, in float32 (no autocast: probabilities of several models are averaged,
    see :func:`metrics_from_probabilities`). The model's train/eval mode is restored afterwards.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    mean, std = normalization.tensors(device)
    was_training = model.training
    model.eval()
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = prepare_batch(images[start : start + batch_size].to(device), mean, std)
            chunks.append(torch.softmax(model(batch).float(), dim=1).cpu())
    model.train(was_training)
    if not chunks:
        return torch.zeros(0, 0)
    return torch.cat(chunks)


def metrics_from_probabilities(
    probabilities: torch.Tensor, labels: torch.Tensor, n_classes: int
) -> EvalMetrics:
    """EvalMetrics of predicted class probabilities, e.g. an ensemble's averaged ones.

    The loss is the negative log-likelihood of the true class (cross-entropy of the averaged
    distribution, probabilities clamped at 1e-12).

    Example::

        averaged = torch.stack([class_probabilities(m, x, normalization=n) for m in models]).mean(0)
        metrics_from_probabilities(averaged, y, n_classes).accuracy
    """
    labels = labels.reshape(-1).to(torch.int64).cpu()
    n = len(labels)
    if tuple(probabilities.shape) != (n, n_classes):
        raise ValueError(
            f"probabilities of shape {tuple(probabilities.shape)} for {n} labels and "
            f"{n_classes} classes"
        )
    predicted = probabilities.argmax(dim=1)
    picked = probabilities.gather(1, labels[:, None]).clamp_min(1e-12)
    confusion = _confusion(labels, predicted, n_classes).numpy()
    return EvalMetrics(
        loss=float(-picked.double().log().mean()) if n else float("nan"),
        accuracy=float(np.trace(confusion) / max(n, 1)),
        balanced_accuracy=balanced_from_confusion(confusion),
        per_class_acc=per_class_from_confusion(confusion),
        confusion=confusion.tolist(),
        n=n,
    )
