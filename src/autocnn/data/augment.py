"""Batched, tensor-side data augmentation: random affine warps and random erasing.

Why not torchvision transforms or PIL: they work one image at a time in Python, which costs more
than the tiny networks we train. Here a whole batch is warped with one ``F.affine_grid`` +
``F.grid_sample`` call (each image gets its own rotation, translation and scale) and erased with
one boolean mask, on whatever device the batch lives on.

All random numbers come from an explicit CPU ``torch.Generator``, a fixed number per image, so
the augmentation of a batch depends only on the generator's state, not on the device or on the
settings; the trainer saves and restores that state to make resumed runs exact.

Example::

    settings = AugmentSettings(mode="affine", rotate=10.0, translate=0.1, scale=0.1, erasing=0.25)
    generator = torch.Generator().manual_seed(0)
    x = augment_batch(images_float01, settings, generator)   # same shape and dtype
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

AUGMENT_MODES = ("none", "affine")

# Random erasing follows torchvision's RandomErasing: area and log-aspect ranges of the rectangle.
ERASE_AREA = (0.02, 0.33)
ERASE_LOG_RATIO = (math.log(0.3), math.log(3.3))
# Uniform numbers drawn per image: angle, tx, ty, scale, erase?, area, ratio, top, left.
_DRAWS_PER_IMAGE = 9


@dataclass(frozen=True)
class AugmentSettings:
    """What to do to each training batch.

    ``rotate`` is the maximum rotation in degrees, ``translate`` the maximum shift as a fraction
    of the image size, ``scale`` the maximum relative zoom (0.1 -> zoom in [0.9, 1.1]) and
    ``erasing`` the probability of blanking one random rectangle of an image.
    """

    mode: str = "none"
    rotate: float = 0.0
    translate: float = 0.0
    scale: float = 0.0
    erasing: float = 0.0

    @property
    def active(self) -> bool:
        return self.mode != "none"


def augment_batch(
    x: torch.Tensor, settings: AugmentSettings, generator: torch.Generator
) -> torch.Tensor:
    """Augment a float batch ``x`` of shape (N, C, H, W), values in [0, 1] (before normalising).

    Returns ``x`` itself when ``settings.mode == "none"``; otherwise a new tensor of the same
    shape, dtype and device. Pixels moved in from outside the image and erased pixels are 0
    (the background of KMNIST-like data).

    Example::

        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.rand(8, 1, 28, 28)
        >>> augment_batch(x, AugmentSettings(mode="affine", rotate=15.0), g).shape
        torch.Size([8, 1, 28, 28])
    """
    if not settings.active:
        return x
    n, _, height, width = x.shape
    # One fixed-size draw per batch keeps the generator stream independent of the settings.
    u = torch.rand(n, _DRAWS_PER_IMAGE, generator=generator, dtype=torch.float32)
    u = u.to(x.device, non_blocking=True)
    if settings.rotate or settings.translate or settings.scale:
        x = _random_affine(x, u[:, :4], settings)
    if settings.erasing > 0:
        x = _random_erasing(x, u[:, 4:], settings.erasing, height, width)
    return x


def _random_affine(x: torch.Tensor, u: torch.Tensor, settings: AugmentSettings) -> torch.Tensor:
    """Warp each image by its own rotation, translation and zoom (bilinear, zero padding)."""
    angle = (2 * u[:, 0] - 1) * math.radians(settings.rotate)
    # affine_grid works in [-1, 1] coordinates: a shift of f * size is 2 * f there.
    shift_x = (2 * u[:, 1] - 1) * 2 * settings.translate
    shift_y = (2 * u[:, 2] - 1) * 2 * settings.translate
    zoom = 1 + (2 * u[:, 3] - 1) * settings.scale
    # theta maps output coordinates to input coordinates, so zooming in by s divides by s.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], dim=1), torch.stack([sin, cos, shift_y], dim=1)], dim=1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _random_erasing(
    x: torch.Tensor, u: torch.Tensor, probability: float, height: int, width: int
) -> torch.Tensor:
    """Blank one random rectangle in a random subset of the images (one batched mask)."""
    erase = u[:, 0] < probability
    area = (ERASE_AREA[0] + u[:, 1] * (ERASE_AREA[1] - ERASE_AREA[0])) * height * width
    ratio = torch.exp(ERASE_LOG_RATIO[0] + u[:, 2] * (ERASE_LOG_RATIO[1] - ERASE_LOG_RATIO[0]))
    box_h = torch.sqrt(area * ratio).round().clamp(1, height)
    box_w = torch.sqrt(area / ratio).round().clamp(1, width)
    top = (u[:, 3] * (height - box_h + 1)).floor()
    left = (u[:, 4] * (width - box_w + 1)).floor()
    rows = torch.arange(height, device=x.device, dtype=u.dtype).view(1, height, 1)
    cols = torch.arange(width, device=x.device, dtype=u.dtype).view(1, 1, width)
    inside = (
        (rows >= top.view(-1, 1, 1))
        & (rows < (top + box_h).view(-1, 1, 1))
        & (cols >= left.view(-1, 1, 1))
        & (cols < (left + box_w).view(-1, 1, 1))
    )
    mask = (inside & erase.view(-1, 1, 1)).unsqueeze(1)  # (N, 1, H, W), broadcast over channels
    return x.masked_fill(mask, 0.0)
