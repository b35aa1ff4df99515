"""Tiny synthetic data and a small BN network for the transfer tests (1 torch thread)."""

from __future__ import annotations

import pytest

from autocnn.data import synthetic_imageset
from autocnn.space import default_config, get_space, validate_config


@pytest.fixture(scope="session")
def source_sets():
    """4 classes of 12x12 images (the source) and 6 classes of the same size (destination)."""
    source = synthetic_imageset(160, n_classes=4, seed=0, image_size=12)
    dest = synthetic_imageset(120, n_classes=6, imbalance=3.0, seed=1, image_size=12)
    return source, dest


@pytest.fixture()
def bn_config():
    """Two conv layers with BatchNorm and a BN hidden FC layer: every kind of copied tensor."""
    config = {
        **default_config("seed"),
        "n_conv_layers": 2,
        "activation": "relu",
        "conv1_channels": 4,
        "conv1_kernel_size": 3,
        "conv1_batchnorm": True,
        "conv1_maxpool": True,
        "conv1_maxpool_kernel": 2,
        "conv2_channel_multiplier": 2.0,
        "conv2_kernel_size": 3,
        "conv2_padding": "same",
        "conv2_stride": 1,
        "conv2_batchnorm": True,
        "conv2_dropout": False,
        "conv2_maxpool": False,
        "n_fc_layers": 1,
        "fc1_units": 16,
        "fc1_batchnorm": True,
        "fc1_dropout": False,
        "batch_size": 32,
        "learning_rate": 0.01,
    }
    return validate_config(config, get_space("seed"))
