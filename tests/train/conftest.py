"""Tiny synthetic data and configs for the trainer tests (CPU, well under a second per run)."""

from __future__ import annotations

import pytest

from autocnn.data import synthetic_imageset
from autocnn.space import default_config, get_space, validate_config


@pytest.fixture(scope="session")
def tiny_sets():
    """4 classes of learnable 16x16 images: 256 to train on, 96 to validate on."""
    train_set = synthetic_imageset(256, n_classes=4, seed=0, image_size=16)
    val_set = synthetic_imageset(96, n_classes=4, seed=0, image_size=16, part="test")
    return train_set, val_set


@pytest.fixture()
def tiny_config():
    """A seed-space net fixed here (not the space default, which may change): one 4-channel
    3x3 conv + ReLU + 2x2 max-pool, Adam, batch 32."""
    config = {
        **default_config("seed"),
        "n_conv_layers": 1,
        "n_fc_layers": 0,
        "activation": "relu",
        "conv1_channels": 4,
        "conv1_kernel_size": 3,
        "conv1_padding": "same",
        "conv1_stride": 1,
        "conv1_batchnorm": False,
        "conv1_dropout": False,
        "conv1_maxpool": True,
        "conv1_maxpool_kernel": 2,
        "optimizer": "adam",
        "learning_rate": 0.001,
        "weight_decay": 1e-6,
        "batch_size": 32,
    }
    return validate_config(config, get_space("seed"))


@pytest.fixture()
def noisy_config(tiny_config):
    """Dropout in conv and FC layers plus affine augmentation with erasing: every RNG in use."""
    return {
        **tiny_config,
        "conv1_dropout": True,
        "conv1_dropout_rate": 0.3,
        "n_fc_layers": 1,
        "fc1_units": 16,
        "fc1_batchnorm": True,
        "fc1_dropout": True,
        "fc1_dropout_rate": 0.3,
        "augment": "affine",
        "aug_rotate": 15.0,
        "aug_translate": 0.1,
        "aug_scale": 0.1,
        "aug_erasing": 0.5,
        "lr_schedule": "onecycle",
    }
