"""Final evaluation, prediction and the end-to-end study (the top of the pipeline).

- :func:`evaluate`: retrain a run's incumbent (or a config) on all training data over several
  seeds and test it: the only place a dataset's test part is read.
- :func:`predict`: labels for an .npz of images with a saved model.
- :func:`transfer_weights`: weight transfer (:mod:`autocnn.transfer.weights`) reported like
  :func:`evaluate`.
- :func:`study`: the seed's experiment, source -> destination, resumable stage by stage.

Example::

    from autocnn.study import evaluate, study
    study("kmnist10k-source", "kmnist10k-dest-longtail", out="studies/a", preset="smoke",
          data_dir="../shared/data/kmnist")
"""

from __future__ import annotations

from autocnn.study.final import (
    FinalResult,
    evaluate,
    final_evaluation,
    mean_std,
    transfer_weights,
)
from autocnn.study.pipeline import STAGES, study
from autocnn.study.predict import predict, read_images
from autocnn.study.presets import PRESETS, Preset, get_preset
from autocnn.study.splits import LOCAL_DATASETS

__all__ = [
    "LOCAL_DATASETS",
    "PRESETS",
    "STAGES",
    "FinalResult",
    "Preset",
    "evaluate",
    "final_evaluation",
    "get_preset",
    "mean_std",
    "predict",
    "read_images",
    "study",
    "transfer_weights",
]
