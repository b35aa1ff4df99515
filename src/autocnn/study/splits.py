"""The study's local stand-ins for its source and destination datasets, cut from KMNIST-10k.

The real study transfers from KMNIST (10 balanced classes) to Kuzushiji-49 (49 classes, long
tail). Where only the 10,000 KMNIST test images are at hand (our machines, CI), two datasets
with DISJOINT images imitate that setting: ``kmnist10k-source`` (4,000 / 1,000 images,
balanced) and ``kmnist10k-dest-longtail`` (1,636 / 409 images, imbalance 10 in both parts).

They are named datasets like any other, built in memory by :mod:`autocnn.data.derived` (which
documents how), so every command takes them; this module keeps the study's names for them.

Example::

    resolve_dataset("kmnist10k-dest-longtail")   # -> "kmnist10k-dest-longtail"
"""

from __future__ import annotations

from pathlib import Path

from autocnn.data.derived import DEST, IMBALANCE, SOURCE, class_sizes, split_indices

LOCAL_DATASETS = (SOURCE, DEST)

__all__ = [
    "DEST",
    "IMBALANCE",
    "LOCAL_DATASETS",
    "SOURCE",
    "class_sizes",
    "resolve_dataset",
    "split_indices",
]


def resolve_dataset(
    name: str, folder: Path | None = None, data_dir: str | Path | None = None
) -> str:
    """The loader name of a study dataset: every name, the local stand-ins included, is its own.

    (Studies before the stand-ins were registered wrote them as npz folders under
    ``folder``; a resumed one keeps the loader names its ``data`` stage recorded.)"""
    return name
