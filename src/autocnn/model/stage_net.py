"""Builder for the extended space: stages of conv-BN-ReLU (optionally residual), then a head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from autocnn.model.layers import ConvNet, can_pool, clamp_channels, flatten_layers, get_key

MIN_CHANNELS, MAX_CHANNELS = 8, 96


def conv_bn_relu(
    in_channels: int, out_channels: int, kernel: int, batchnorm: bool
) -> list[nn.Module]:
    """A "same"-padded conv, batchnorm if asked, ReLU."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=not batchnorm)
    ]
    if batchnorm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU())
    return layers


class ResidualStage(nn.Module):
    """``relu(body(x) + shortcut(x))``; the shortcut is a 1x1 conv when the width changes."""

    def __init__(self, in_channels: int, out_channels: int, n_convs: int, kernel: int, bn: bool):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_convs):
            layers += conv_bn_relu(
                in_channels if i == 0 else out_channels, out_channels, kernel, bn
            )
        layers.pop()  # the last ReLU comes after the sum
        self.body = nn.Sequential(*layers)
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels:
            projection: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 1, bias=not bn)]
            if bn:
                projection.append(nn.BatchNorm2d(out_channels))
            self.shortcut = nn.Sequential(*projection)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def build_stage_net(
    config: Mapping[str, Any], input_shape: tuple[int, int, int], n_classes: int
) -> ConvNet:
    """Build an extended-space network; see :func:`autocnn.model.build_model` for the rules."""
    kernel = int(get_key(config, "kernel_size"))
    batchnorm = bool(get_key(config, "batchnorm"))
    residual = bool(get_key(config, "residual"))
    channels, hw = input_shape[0], (input_shape[1], input_shape[2])
    features: list[nn.Module] = []
    for s in range(1, int(get_key(config, "n_stages")) + 1):
        if s == 1:
            width = clamp_channels(get_key(config, "stage1_channels"), MIN_CHANNELS, MAX_CHANNELS)
        else:
            multiplier = get_key(config, f"stage{s}_channel_multiplier")
            width = clamp_channels(channels * multiplier, MIN_CHANNELS, MAX_CHANNELS)
        n_convs = int(get_key(config, f"stage{s}_n_convs"))
        if residual:
            features.append(ResidualStage(channels, width, n_convs, kernel, batchnorm))
        else:
            for i in range(n_convs):
                features += conv_bn_relu(channels if i == 0 else width, width, kernel, batchnorm)
        channels = width
        if can_pool(hw, 2):  # downsample after each stage while the map is large enough
            features.append(nn.MaxPool2d(2, 2))
            hw = (hw[0] // 2, hw[1] // 2)

    if get_key(config, "head") == "gap":
        features += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        flat_width = channels
    else:
        flat, flat_width = flatten_layers(channels, hw)
        features += flat
    dropout = float(get_key(config, "dropout_rate"))
    classifier: list[nn.Module] = []
    n_fc = int(get_key(config, "n_fc_layers"))
    for _ in range(n_fc):
        units = int(get_key(config, "fc_units"))
        if dropout > 0:
            classifier.append(nn.Dropout(dropout))
        classifier += [nn.Linear(flat_width, units), nn.ReLU()]
        flat_width = units
    if dropout > 0:
        classifier.append(nn.Dropout(dropout))
    return ConvNet(
        nn.Sequential(*features), nn.Sequential(*classifier), nn.Linear(flat_width, n_classes)
    )
