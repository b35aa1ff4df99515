"""Building blocks shared by both builders: the network container, geometry rules, config access.

The geometry rules below are what makes every configuration of both spaces valid by construction:
they look at the feature map a layer will meet and adapt the layer so that the map never
vanishes and the classifier's input stays CPU-sized.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from autocnn.errors import ConfigError

# A strided conv or a pooling layer is used only while its output side stays >= this.
MIN_DOWNSAMPLED_SIDE = 3
# The flattened feature vector is average-pooled down to at most this many values.
MAX_FLAT_FEATURES = 32768

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class ConvNet(nn.Module):
    """A configured network: ``features`` (ends flat), ``classifier`` (hidden FC layers), ``head``.

    ``head`` is the last ``nn.Linear``; weight transfer replaces only it for a new class count::

        model.head = nn.Linear(model.head.in_features, 49)
    """

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential, head: nn.Linear):
        super().__init__()
        self.features = features
        self.classifier = classifier
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.classifier(self.features(x)))


def get_key(config: Mapping[str, Any], key: str) -> Any:
    """``config[key]``, or a ConfigError saying which key the builder needs."""
    try:
        return config[key]
    except KeyError:
        raise ConfigError(
            f"config has no key {key!r}, which the model builder needs; "
            "validate the config against its space (autocnn.space.validate_config) first"
        ) from None


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ConfigError(f"activation {name!r} is unknown; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def conv_out_side(side: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a conv/pool along one axis (PyTorch's formula, no dilation)."""
    return (side + 2 * padding - kernel) // stride + 1


def plan_conv(
    hw: tuple[int, int], kernel: int, padding_mode: str, stride: int
) -> tuple[int, int, tuple[int, int]]:
    """Apply the conv rules; return ``(padding, stride, output_hw)``.

    * "same" pads ``kernel // 2`` (the map keeps its size, or grows by one for even kernels).
    * "valid" pads nothing, unless the kernel is larger than the map: then it pads like "same".
    * stride 2 is used only while the strided output side stays >= MIN_DOWNSAMPLED_SIDE,
      otherwise the conv runs with stride 1.
    """
    side = min(hw)
    padding = kernel // 2 if padding_mode == "same" or kernel > side else 0
    if stride > 1 and conv_out_side(side, kernel, stride, padding) < MIN_DOWNSAMPLED_SIDE:
        stride = 1
    out = tuple(conv_out_side(s, kernel, stride, padding) for s in hw)
    return padding, stride, out  # type: ignore[return-value]


def can_pool(hw: tuple[int, int], kernel: int) -> bool:
    """Pool (kernel = stride) only while the pooled side stays >= MIN_DOWNSAMPLED_SIDE."""
    return min(hw) // kernel >= MIN_DOWNSAMPLED_SIDE


def flatten_layers(channels: int, hw: tuple[int, int]) -> tuple[list[nn.Module], int]:
    """Layers that flatten a ``channels x hw`` map, average-pooling it first if it is too large.

    Returns the layers and the length of the flat vector (at most MAX_FLAT_FEATURES).
    """
    h, w = hw
    layers: list[nn.Module] = []
    if channels * h * w > MAX_FLAT_FEATURES:
        scale = math.sqrt(MAX_FLAT_FEATURES / (channels * h * w))
        h, w = max(1, int(h * scale)), max(1, int(w * scale))
        layers.append(nn.AdaptiveAvgPool2d((h, w)))
    layers.append(nn.Flatten())
    return layers, channels * h * w


def clamp_channels(value: float, low: int, high: int) -> int:
    return int(min(high, max(low, round(value))))
