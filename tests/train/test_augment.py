"""Batched tensor augmentation: shapes, dtypes, randomness, identity and the erasing mask."""

from __future__ import annotations

import pytest
import torch

from autocnn.data.augment import AugmentSettings, augment_batch
from autocnn.train import TrainSettings

AFFINE = AugmentSettings(mode="affine", rotate=20.0, translate=0.15, scale=0.15, erasing=0.5)


def _batch(n: int = 16, channels: int = 1, size: int = 20) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(1))


def test_none_is_identity_and_draws_nothing():
    x = _batch()
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    assert augment_batch(x, AugmentSettings(), generator) is x
    assert torch.equal(generator.get_state(), state)
    # A config without augment keys trains without augmentation.
    assert not TrainSettings.from_config({}).augmentation.active


@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32), (1, 13)])
def test_affine_keeps_shape_dtype_and_changes_images(channels, size):
    x = _batch(8, channels, size)
    out = augment_batch(x, AFFINE, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert torch.isfinite(out).all()
    changed = (out - x).abs().flatten(1).amax(dim=1) > 1e-3
    assert changed.all()  # every image is warped (each has its own random transform)
    # Per-sample parameters: two identical images in one batch come out different.
    twins = torch.cat([x[:1], x[:1]])
    out = augment_batch(twins, AFFINE, torch.Generator().manual_seed(0))
    assert not torch.allclose(out[0], out[1])


def test_same_generator_state_gives_same_augmentation():
    x = _batch()
    first = augment_batch(x, AFFINE, torch.Generator().manual_seed(3))
    second = augment_batch(x, AFFINE, torch.Generator().manual_seed(3))
    third = augment_batch(x, AFFINE, torch.Generator().manual_seed(4))
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


def test_translation_moves_content_without_rotation():
    x = torch.zeros(4, 1, 16, 16)
    x[:, :, 6:10, 6:10] = 1.0
    settings = AugmentSettings(mode="affine", translate=0.25)
    out = augment_batch(x, settings, torch.Generator().manual_seed(0))
    before = x.sum(dim=(1, 2, 3))
    after = out.sum(dim=(1, 2, 3))
    # The square stays inside the image: mass is preserved, but its centre moves.
    assert torch.allclose(after, before, rtol=1e-4)
    grid = torch.arange(16.0)
    centre_x = (out.sum(dim=(1, 2)) * grid).sum(dim=1) / after
    assert ((centre_x - 7.5).abs() > 0.1).any()


def test_erasing_blanks_one_rectangle_per_image():
    x = torch.ones(64, 3, 24, 24)
    settings = AugmentSettings(mode="affine", erasing=1.0)  # no warp, always erase
    out = augment_batch(x, settings, torch.Generator().manual_seed(0))
    zero = out == 0
    assert torch.equal(zero[:, :1].expand_as(zero), zero)  # same rectangle in every channel
    for mask in zero[:, 0]:
        rows, cols = mask.any(dim=1), mask.any(dim=0)
        assert mask.sum() == rows.sum() * cols.sum()  # exactly a filled rectangle
        fraction = float(mask.float().mean())
        assert 0.01 <= fraction <= 0.4
    # Probability 0.3 erases roughly 30 % of the images.
    settings = AugmentSettings(mode="affine", erasing=0.3)
    out = augment_batch(torch.ones(2000, 1, 8, 8), settings, torch.Generator().manual_seed(0))
    erased = (out == 0).flatten(1).any(dim=1).float().mean()
    assert 0.25 < float(erased) < 0.35
