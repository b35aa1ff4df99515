"""The in-memory dataset type every other package trains on.

A dataset part is two tensors held in memory (uint8 images, int64 labels), not a per-sample
``Dataset``: batches are cut by indexing, which is what keeps small-image training fast on CPUs.
Treat the tensors as read-only: :func:`autocnn.data.load` hands the same object to every caller
in a process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class ImageSet:
    """One part of a dataset: ``x`` uint8 (N, C, H, W), ``y`` int64 (N,) in ``[0, n_classes)``.

    Example::

        >>> s = ImageSet(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 1, 0]), 2)
        >>> len(s), s.input_shape, s.class_counts().tolist()
        (4, (1, 8, 8), [2, 2])
    """

    x: torch.Tensor
    y: torch.Tensor
    n_classes: int
    name: str = ""
    # int64 (N,): images of one group (augmented copies of one original) stay on one side of
    # a train/validation split, else validation would score copies of training images
    groups: torch.Tensor | None = None
    # the name of each class where the files say it (``dir:`` folder names), else None
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Programming errors, not user errors: loaders validate user files before building this.
        if self.x.dtype != torch.uint8 or self.x.dim() != 4:
            raise ValueError(
                f"x must be uint8 (N, C, H, W), got {self.x.dtype} {tuple(self.x.shape)}"
            )
        if self.y.dtype != torch.int64 or self.y.dim() != 1 or len(self.y) != len(self.x):
            raise ValueError(
                f"y must be int64 of shape ({len(self.x)},), "
                f"got {self.y.dtype} {tuple(self.y.shape)}"
            )
        if self.groups is not None and (
            self.groups.dtype != torch.int64 or tuple(self.groups.shape) != tuple(self.y.shape)
        ):
            raise ValueError(f"groups must be int64 of shape ({len(self.y)},) like y")
        if int(self.n_classes) < 1:
            raise ValueError(f"n_classes must be >= 1, got {self.n_classes}")
        object.__setattr__(self, "n_classes", int(self.n_classes))
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(str(n) for n in self.class_names))
            if len(self.class_names) != self.n_classes:
                raise ValueError(f"{len(self.class_names)} names for {self.n_classes} classes")
        if not self.x.is_contiguous():
            object.__setattr__(self, "x", self.x.contiguous())

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:
        shape, n_classes = self.input_shape, self.n_classes
        return f"ImageSet(name={self.name!r}, n={len(self)}, shape={shape}, n_classes={n_classes})"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        _, c, h, w = self.x.shape
        return int(c), int(h), int(w)

    def subset(self, index: Any) -> ImageSet:
        """A new ImageSet of the images at ``index`` (tensor/array/list of ints), in that order."""
        idx = torch.as_tensor(np.asarray(index, dtype=np.int64).reshape(-1))
        groups = None if self.groups is None else self.groups[idx].clone()
        return ImageSet(
            self.x[idx].contiguous(), self.y[idx].clone(), self.n_classes, self.name, groups,
            self.class_names,
        )  # fmt: skip

    def class_counts(self) -> np.ndarray:
        """Number of images of each class, shape (n_classes,)."""
        return torch.bincount(self.y, minlength=self.n_classes).numpy()
