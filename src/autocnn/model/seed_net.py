"""Builder for the seed space: ``[CONV -> BN? -> ACT -> DROPOUT? -> MAXPOOL?] x M -> [FC] x K``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from autocnn.model.layers import (
    ConvNet,
    activation,
    can_pool,
    clamp_channels,
    flatten_layers,
    get_key,
    plan_conv,
)

MIN_CHANNELS, MAX_CHANNELS = 2, 64


def build_seed_net(
    config: Mapping[str, Any], input_shape: tuple[int, int, int], n_classes: int
) -> ConvNet:
    """Build a seed-space network; see :func:`autocnn.model.build_model` for the rules."""
    act = get_key(config, "activation")
    in_channels, hw = input_shape[0], (input_shape[1], input_shape[2])
    features: list[nn.Module] = []
    channels = in_channels
    for i in range(1, int(get_key(config, "n_conv_layers")) + 1):
        p = f"conv{i}_"
        if i == 1:
            out_channels = clamp_channels(
                get_key(config, p + "channels"), MIN_CHANNELS, MAX_CHANNELS
            )
        else:
            multiplier = get_key(config, p + "channel_multiplier")
            out_channels = clamp_channels(channels * multiplier, MIN_CHANNELS, MAX_CHANNELS)
        kernel = int(get_key(config, p + "kernel_size"))
        padding, stride, hw = plan_conv(
            hw, kernel, get_key(config, p + "padding"), int(get_key(config, p + "stride"))
        )
        batchnorm = bool(get_key(config, p + "batchnorm"))
        # A conv followed by batchnorm needs no bias: BN's shift replaces it.
        features.append(
            nn.Conv2d(channels, out_channels, kernel, stride, padding, bias=not batchnorm)
        )
        if batchnorm:
            features.append(nn.BatchNorm2d(out_channels))
        features.append(activation(act))
        if get_key(config, p + "dropout"):
            features.append(nn.Dropout(float(get_key(config, p + "dropout_rate"))))
        if get_key(config, p + "maxpool"):
            pool = int(get_key(config, p + "maxpool_kernel"))
            if can_pool(hw, pool):
                features.append(nn.MaxPool2d(pool, pool))
                hw = (hw[0] // pool, hw[1] // pool)
        channels = out_channels

    flat, width = flatten_layers(channels, hw)
    features += flat
    classifier: list[nn.Module] = []
    for j in range(1, int(get_key(config, "n_fc_layers")) + 1):
        p = f"fc{j}_"
        units = int(get_key(config, p + "units"))
        batchnorm = bool(get_key(config, p + "batchnorm"))
        classifier.append(nn.Linear(width, units, bias=not batchnorm))
        if batchnorm:
            classifier.append(nn.BatchNorm1d(units))
        classifier.append(activation(act))
        if get_key(config, p + "dropout"):
            classifier.append(nn.Dropout(float(get_key(config, p + "dropout_rate"))))
        width = units
    return ConvNet(
        nn.Sequential(*features), nn.Sequential(*classifier), nn.Linear(width, n_classes)
    )
