"""From stored uint8 images to model inputs: scale to [0, 1], then normalise per channel.

The per-channel mean and standard deviation come from the TRAINING set (computed exactly from
a 256-bin histogram, so they are identical on every machine) and travel with the trained model
(in ``TrainResult.normalization`` and in checkpoints): a test set must be normalised with the
training set's statistics, not its own.

Example::

    norm = Normalization.from_data(train_set)
    mean, std = norm.tensors(device)
    x = prepare_batch(train_set.x[:64].to(device), mean, std)
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from autocnn.data.augment import AugmentSettings, augment_batch

_CHUNK = 8192  # images per histogram chunk
_STATISTICS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # data -> Normalization


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``(x - mean) / std`` for inputs already scaled to [0, 1]."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_data(cls, data: Any) -> Normalization:
        """Exact per-channel statistics of an ImageSet (or anything with a uint8 ``x``).

        Remembered per data object (weakly): a worker that trains many configs on the same
        split computes them once, not once per evaluation.
        """
        try:
            return _STATISTICS[data]
        except (KeyError, TypeError):  # TypeError: not weak-referenceable; compute every time
            pass
        normalization = cls._compute(data)
        with contextlib.suppress(TypeError):
            _STATISTICS[data] = normalization
        return normalization

    @classmethod
    def _compute(cls, data: Any) -> Normalization:
        images = data.x
        levels = torch.arange(256, dtype=torch.float64) / 255.0
        means, stds = [], []
        for channel in range(images.shape[1]):
            counts = torch.zeros(256, dtype=torch.int64)
            for start in range(0, len(images), _CHUNK):  # chunks: int64 copies of K49 are GBs
                pixels = images[start : start + _CHUNK, channel].reshape(-1).to(torch.int64)
                counts += torch.bincount(pixels, minlength=256)
            weights = counts.to(torch.float64) / max(int(counts.sum()), 1)
            mean = float((weights * levels).sum())
            variance = float((weights * (levels - mean) ** 2).sum())
            means.append(mean)
            stds.append(max(variance**0.5, 1e-3))  # a blank channel must not divide by zero
        return cls(tuple(means), tuple(stds))

    @classmethod
    def from_dict(cls, payload: Mapping[str, Sequence[float]]) -> Normalization:
        return cls(
            tuple(float(v) for v in payload["mean"]), tuple(float(v) for v in payload["std"])
        )

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    def tensors(self, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) as (1, C, 1, 1) float32 tensors on ``device``; make once per run."""
        shape = (1, len(self.mean), 1, 1)
        mean = torch.tensor(self.mean, dtype=torch.float32).view(shape).to(device)
        std = torch.tensor(self.std, dtype=torch.float32).view(shape).to(device)
        return mean, std


def prepare_batch(
    images: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    augmentation: AugmentSettings | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 model input: scale to [0, 1], augment, normalise.

    Augmentation happens in [0, 1] space so that pixels moved in from outside are black (0),
    the background of KMNIST-like images, not the mean.
    """
    x = images.to(torch.float32).mul_(1.0 / 255.0)
    if augmentation is not None and augmentation.active:
        x = augment_batch(x, augmentation, generator)
    # channels_last: oneDNN's convolutions are 1.4-1.7x faster on it for our small nets (CPU,
    # measured in benchmarks/throughput.py); the model is converted to match (see ``to_device``).
    return x.sub_(mean).div_(std).contiguous(memory_format=torch.channels_last)


def to_device(model: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """Move a model to ``device`` in the channels_last layout its inputs use."""
    return model.to(device=device, memory_format=torch.channels_last)
