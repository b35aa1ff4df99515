"""The final model: evaluation on the test set (its only reader), prediction, export.

Sits above ``optimize`` and below ``transfer``, ``study`` and ``fit``, which all end in a final
evaluation.

- :func:`evaluate`: retrain a run's incumbent (or a config) on all training data over several
  seeds and test it.
- :func:`final_evaluation`: the same for any training function (weight transfer, fit).
- :func:`predict`: labels for an .npz of images with a saved model (checkpoint or export).
- :func:`export_model`: the model as TorchScript and ONNX, preprocessing included.

Example::

    from autocnn.final import evaluate
    result = evaluate("runs/kmnist", out="runs/kmnist-final", seeds=3)
"""

from __future__ import annotations

from autocnn.final.evaluation import (
    METRICS_FILE,
    FinalResult,
    evaluate,
    final_evaluation,
    format_mean_std,
    mean_std,
)
from autocnn.final.export import export_model
from autocnn.final.predict import predict, read_images

__all__ = [
    "METRICS_FILE",
    "FinalResult",
    "evaluate",
    "export_model",
    "final_evaluation",
    "format_mean_std",
    "mean_std",
    "predict",
    "read_images",
]
