"""The end-to-end study (the seed's experiment, source -> destination, resumable stage by stage):
presets, the local datasets, the final table. Final evaluation lives in :mod:`autocnn.final`.

Example::

    from autocnn.study import study
    study("kmnist10k-source", "kmnist10k-dest-longtail", out="studies/a", preset="smoke",
          data_dir="../shared/data/kmnist")
"""

from __future__ import annotations

from autocnn.study.pipeline import STAGES, study
from autocnn.study.presets import PRESETS, Preset, get_preset
from autocnn.study.splits import LOCAL_DATASETS

__all__ = [
    "LOCAL_DATASETS",
    "PRESETS",
    "STAGES",
    "Preset",
    "get_preset",
    "study",
]
