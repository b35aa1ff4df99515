"""Portfolios: a few strong, diverse configs per space, evaluated before any sampled one.

A search on 2 CPU cores sees ~10-20 configs in half an hour, and random configs of a large space
rarely beat a hand-designed net in so few draws (BENCHMARKS §7: in all three seeds of the
accuracy benchmark the incumbent was the space's default). An initial design of several known-good,
*different* nets (SMAC's initial design, Auto-sklearn's and AutoGluon's portfolios) makes the
first bracket a race between them, and gives the model good points to build on. Each entry is
the space's default with a few values changed, so entries stay readable and valid when the space
grows; :func:`portfolio` validates them against the space.

The entries of the extended space, and why each is there:

- ``default``: the VGG-style reference (2×2 conv 32/64, one-cycle AdamW, affine augmentation).
- ``residual-sgd``: BOHB's own incumbent without the default (BENCHMARKS §7: 98.80 % on
  kmnist10k after a 25-minute budget): 4 residual stages, kernel 5, SGD + cosine, 60k parameters.
- ``small-fast``: one conv per stage, 16/32 channels: ~4x cheaper per epoch, for short budgets.
- ``wide-gap``: 3 residual stages 32/64/128 with global average pooling, label smoothing and
  random erasing: more capacity with strong regularisation, for long budgets.

Example:
    >>> [name for name, _ in portfolio("extended")][:2]
    ['default', 'residual-sgd']
"""

from __future__ import annotations

from typing import Any

_EXTENDED: dict[str, dict[str, Any]] = {
    "default": {},
    "residual-sgd": {
        "n_stages": 4,
        "stage1_n_convs": 1,
        "stage1_channels": 14,
        "stage2_n_convs": 3,
        "stage2_channel_multiplier": 1.19,
        "stage3_n_convs": 1,
        "stage3_channel_multiplier": 1.69,
        "stage4_n_convs": 1,
        "stage4_channel_multiplier": 1.06,
        "kernel_size": 5,
        "residual": True,
        "n_fc_layers": 0,
        "fc_units": None,
        "dropout_rate": 0.29,
        "optimizer": "sgd",
        "momentum": 0.82,
        "learning_rate": None,  # Adam/AdamW's key: SGD has its own
        "sgd_learning_rate": 0.048,
        "weight_decay": 5e-5,
        "batch_size": 149,
        "lr_schedule": "cosine",
        "label_smoothing": 0.075,
        "aug_rotate": 6.4,
        "aug_translate": 0.09,
        "aug_scale": 0.21,
        "aug_erasing": 0.066,
    },
    "small-fast": {
        "stage1_n_convs": 1,
        "stage1_channels": 16,
        "stage2_n_convs": 1,
        "fc_units": 128,
        "dropout_rate": 0.2,
        "learning_rate": 4e-3,
        "weight_decay": 1e-2,
    },
    "wide-gap": {
        "n_stages": 3,
        "stage3_n_convs": 2,
        "stage3_channel_multiplier": 2.0,
        "residual": True,
        "head": "gap",
        "n_fc_layers": 0,
        "fc_units": None,
        "dropout_rate": 0.1,
        "learning_rate": 2e-3,
        "weight_decay": 5e-2,
        "label_smoothing": 0.1,
        "aug_erasing": 0.25,
    },
}

_SEED: dict[str, dict[str, Any]] = {
    "default": {},
    # the seed space's best shape on kmnist10k in the anytime benchmark: two ReLU conv layers
    "two-conv-relu": {
        "n_conv_layers": 2,
        "conv1_channels": 16,
        "conv1_kernel_size": 5,
        "conv1_maxpool_kernel": 2,
        "conv1_batchnorm": True,
        "conv2_channel_multiplier": 2.0,
        "conv2_kernel_size": 3,
        "conv2_padding": "same",
        "conv2_stride": 1,
        "conv2_batchnorm": True,
        "conv2_dropout": False,
        "conv2_maxpool": True,
        "conv2_maxpool_kernel": 2,
        "activation": "relu",
        "n_fc_layers": 1,
        "fc1_units": 128,
        "fc1_batchnorm": False,
        "fc1_dropout": True,
        "fc1_dropout_rate": 0.3,
        "batch_size": 64,
    },
    "wide-one-conv": {
        "conv1_channels": 32,
        "conv1_kernel_size": 3,
        "conv1_maxpool_kernel": 2,
        "conv1_batchnorm": True,
        "activation": "relu",
        "n_fc_layers": 1,
        "fc1_units": 64,
        "fc1_batchnorm": False,
        "fc1_dropout": False,
        "learning_rate": 2e-3,
        "batch_size": 128,
    },
}

PORTFOLIOS = {"seed": _SEED, "extended": _EXTENDED}


def portfolio(space_name: str) -> list[tuple[str, dict[str, Any]]]:
    """``[(name, config), ...]`` of ``space_name``, the default first, each validated."""
    from autocnn.space import default_config, get_space, validate_config

    space = get_space(space_name)
    entries = []
    for name, changes in PORTFOLIOS.get(space_name, {"default": {}}).items():
        config = {**default_config(space_name), **changes}
        config = {key: value for key, value in config.items() if value is not None}
        entries.append((name, validate_config(config, space)))
    return entries
