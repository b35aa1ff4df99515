"""Turn a configuration of either search space into a PyTorch network.

>>> from autocnn.model import build_model, count_parameters
>>> from autocnn.space import default_config
>>> model = build_model(default_config("seed"), input_shape=(1, 28, 28), n_classes=10)
>>> count_parameters(model) > 0
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from autocnn.errors import ConfigError
from autocnn.model.layers import MAX_FLAT_FEATURES, MIN_DOWNSAMPLED_SIDE, ConvNet
from autocnn.model.seed_net import build_seed_net
from autocnn.model.stage_net import ResidualStage, build_stage_net

__all__ = [
    "MAX_FLAT_FEATURES",
    "MIN_DOWNSAMPLED_SIDE",
    "ConvNet",
    "ResidualStage",
    "build_model",
    "count_parameters",
    "describe_model",
]


def _check_shape(input_shape: Any, n_classes: Any) -> tuple[int, int, int]:
    try:
        c, h, w = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ConfigError(
            f"input_shape must be (channels, height, width), got {input_shape!r}"
        ) from None
    if min(c, h, w) < 1:
        raise ConfigError(f"input_shape {input_shape!r} has a non-positive size")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ConfigError(f"n_classes must be a positive int, got {n_classes!r}")
    return c, h, w


def build_model(
    config: Mapping[str, Any],
    input_shape: tuple[int, int, int] = (1, 28, 28),
    n_classes: int = 10,
) -> ConvNet:
    """Build the network a config describes, for any input size and number of classes.

    A config with ``n_stages`` is an extended-space config, otherwise a seed-space config. The
    network has ``features`` (conv part, ends with a flat vector), ``classifier`` (hidden FC
    layers, maybe empty) and ``head`` (the last ``nn.Linear``, ``n_classes`` outputs).

    Every config of both spaces builds and runs, whatever the input size, because of these rules
    (the map side is the smaller of height and width; see ``autocnn.model.layers``):

    * Seed convs: "same" pads ``kernel // 2`` (even kernels grow the map by one); "valid" pads
      nothing unless the kernel is larger than the map, then it pads like "same".
    * A stride-2 conv runs with stride 1 when its output side would fall below
      ``MIN_DOWNSAMPLED_SIDE`` (3); a max-pool (seed: kernel = stride = 2 or 3; extended: 2x2
      after every stage) is skipped when its output side would.
    * Channels: seed layer 1 absolute, later layers ``round(previous * multiplier)`` clamped to
      [2, 64]; extended stage 1 absolute, later stages the same, clamped to [8, 96].
    * A map whose flattened size exceeds ``MAX_FLAT_FEATURES`` (32768) is average-pooled down to
      fit before the first FC layer (only huge maps, e.g. 64 channels at 28x28 without pooling).
    * Extended convs always use "same" padding and stride 1; residual stages add a 1x1-conv
      shortcut when the width changes.

    Example:
        >>> from autocnn.space import default_config
        >>> model = build_model(default_config("extended"), (3, 32, 32), n_classes=49)
        >>> model.head.out_features
        49
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"a config must be a dict, got {type(config).__name__}")
    shape = _check_shape(input_shape, n_classes)
    if "n_stages" in config:
        return build_stage_net(config, shape, n_classes)
    return build_seed_net(config, shape, n_classes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters.

    Example:
        >>> count_parameters(nn.Linear(3, 2))
        8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe_model(
    config: Mapping[str, Any], input_shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10
) -> str:
    """One line per layer with its output shape, and the parameter count.

    Example:
        >>> from autocnn.space import default_config
        >>> print(describe_model(default_config("seed")))
        input                         (1, 28, 28)
        conv 3x3 1->4 stride 1 pad 1  (4, 28, 28)
        relu                          (4, 28, 28)
        maxpool 2                     (4, 14, 14)
        flatten                       (784,)
        linear 784->10                (10,)
        parameters: 7,890
    """
    model = build_model(config, input_shape, n_classes).eval()
    x = torch.zeros(1, *input_shape)
    rows = [("input", tuple(x.shape[1:]))]
    with torch.no_grad():
        for layer in [*model.features, *model.classifier, model.head]:
            x = layer(x)
            rows.append((_layer_name(layer), tuple(x.shape[1:])))
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"{name:<{width}}{shape}" for name, shape in rows]
    lines.append(f"parameters: {count_parameters(model):,}")
    return "\n".join(lines)


def _layer_name(layer: nn.Module) -> str:
    """A short readable name: "conv 3x3 1->4 stride 1 pad 1", "linear 784->10", ..."""
    if isinstance(layer, nn.Conv2d):
        k, s, p = layer.kernel_size[0], layer.stride[0], layer.padding[0]  # type: ignore[index]
        return f"conv {k}x{k} {layer.in_channels}->{layer.out_channels} stride {s} pad {p}"
    if isinstance(layer, nn.Linear):
        return f"linear {layer.in_features}->{layer.out_features}"
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "batchnorm"
    if isinstance(layer, nn.MaxPool2d):
        return f"maxpool {layer.kernel_size}"
    if isinstance(layer, nn.AdaptiveAvgPool2d):
        return f"adaptive avgpool to {layer.output_size}"
    if isinstance(layer, nn.Dropout):
        return f"dropout {layer.p:g}"
    if isinstance(layer, ResidualStage):
        convs = [m for m in layer.body if isinstance(m, nn.Conv2d)]
        shortcut = "identity" if isinstance(layer.shortcut, nn.Identity) else "1x1 conv"
        return (
            f"residual stage: {len(convs)} x conv {convs[0].kernel_size[0]}x"
            f"{convs[0].kernel_size[0]} ->{convs[0].out_channels}, shortcut {shortcut}"
        )
    return type(layer).__name__.lower()
