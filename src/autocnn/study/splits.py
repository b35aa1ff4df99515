"""Local stand-ins for the study's source and destination datasets, cut from KMNIST-10k.

The real study transfers from KMNIST (10 balanced classes) to Kuzushiji-49 (49 classes, long
tail). Where only the 10,000 KMNIST test images are at hand (our machines, CI), two datasets
with DISJOINT images imitate that setting (per class, in file order, within kmnist10k's parts):

- ``kmnist10k-source``: the first 400 of each class's 800 kmnist10k ``train`` images and the
  first 100 of its 200 ``test`` images: 4,000 / 1,000 images, balanced.
- ``kmnist10k-dest-longtail``: the other 400 train / 100 test images of each class, of which
  class ``c`` keeps the first ``round(n * imbalance ** (-c / 9))`` (``imbalance`` = 10): from
  400 / 100 images for class 0 down to 40 / 10 for class 9 (1,636 / 409 images). Like K49's,
  its test part has the same long tail, so balanced accuracy is the metric that matters.

Both have the same 10 classes (K49 has other ones); weight transfer still gets a new head.
They are written as ``npz`` folders into the study folder and loaded as ``npz:FOLDER``.

Example::

    names = local_dataset("kmnist10k-dest-longtail", Path("study/data"), "../shared/data/kmnist")
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from autocnn import data

SOURCE, DEST = "kmnist10k-source", "kmnist10k-dest-longtail"
LOCAL_DATASETS = (SOURCE, DEST)
IMBALANCE = 10.0
_HALF = {"train": 400, "test": 100}  # per class, of kmnist10k's 800 / 200


def class_sizes(n: int, n_classes: int, imbalance: float = IMBALANCE) -> list[int]:
    """Long-tail sizes ``round(n * imbalance ** (-c / (n_classes - 1)))`` for class c."""
    steps = np.arange(n_classes) / max(n_classes - 1, 1)
    return [max(1, int(round(n * imbalance ** (-s)))) for s in steps]


def split_indices(labels: np.ndarray, part: str, which: str) -> np.ndarray:
    """Indices (file order) of ``which`` ("source" / "dest") in a kmnist10k part's labels."""
    half = _HALF[part]
    n_classes = int(labels.max()) + 1
    sizes = class_sizes(half, n_classes)
    chosen = []
    for c in range(n_classes):
        of_class = np.flatnonzero(labels == c)
        if which == "source":
            chosen.append(of_class[:half])
        else:
            chosen.append(of_class[half : half + sizes[c]])
    return np.sort(np.concatenate(chosen))


def _save(path: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def local_dataset(name: str, folder: Path, data_dir: str | Path | None = None) -> str:
    """Write local dataset ``name`` under ``folder/name`` (once); return its loader name."""
    which = "source" if name == SOURCE else "dest"
    target = Path(folder) / name
    files = {
        (part, kind): target / f"{name}-{part}-{kind}.npz"
        for part in ("train", "test")
        for kind in ("imgs", "labels")
    }
    if not all(f.is_file() for f in files.values()):
        target.mkdir(parents=True, exist_ok=True)
        for part in ("train", "test"):
            # Building the splits copies images; no model sees the test part before evaluation.
            full = data.load("kmnist10k", part, data_dir=data_dir)
            index = split_indices(full.y.numpy(), part, which)
            _save(files[(part, "imgs")], full.x[index, 0].numpy())
            _save(files[(part, "labels")], full.y[index].numpy().astype(np.uint8))
    return f"npz:{target}"


def resolve_dataset(name: str, folder: Path, data_dir: str | Path | None = None) -> str:
    """The loader name of a study dataset: local stand-ins are built, others pass through."""
    if name in LOCAL_DATASETS:
        return local_dataset(name, folder, data_dir)
    return name
