"""build_model / count_parameters / describe_model on hand-picked configs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autocnn.errors import ConfigError
from autocnn.model import (
    MAX_FLAT_FEATURES,
    ConvNet,
    ResidualStage,
    build_model,
    count_parameters,
    describe_model,
)
from autocnn.space import default_config


def _forward(model, shape, batch=2):
    with torch.no_grad():
        return model(torch.rand(batch, *shape))


def _layers(model, kind):
    return [m for m in model.modules() if isinstance(m, kind)]


def test_seed_default_builds_to_the_tiny_documented_net():
    model = build_model(default_config("seed"))
    assert isinstance(model, ConvNet)
    (conv,) = _layers(model, nn.Conv2d)
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (1, 3, (5, 5))
    assert isinstance(_layers(model, nn.Tanh)[0], nn.Tanh)
    (pool,) = _layers(model, nn.MaxPool2d)
    assert pool.kernel_size == pool.stride == 6
    # conv 5x5x1x3 + bias ("same"), then the 6x6/6 pool leaves 3x4x4 = 48 features -> 10 classes
    assert count_parameters(model) == (25 * 3 + 3) + (48 * 10 + 10)
    assert _forward(model, (1, 28, 28)).shape == (2, 10)


def test_extended_default_is_vgg_style():
    model = build_model(default_config("extended"))
    convs = _layers(model, nn.Conv2d)
    assert [c.out_channels for c in convs] == [32, 32, 64, 64]
    assert len(_layers(model, nn.BatchNorm2d)) == 4 and len(_layers(model, nn.MaxPool2d)) == 2
    expected = (
        9 * 1 * 32
        + 9 * 32 * 32
        + 9 * 32 * 64
        + 9 * 64 * 64  # convs without bias (BN follows)
        + 2 * (32 + 32 + 64 + 64)  # BN scale and shift
        + 64 * 7 * 7 * 128
        + 128  # FC on the flattened 64x7x7 map
        + 128 * 10
        + 10
    )
    assert count_parameters(model) == expected
    assert _forward(model, (1, 28, 28)).shape == (2, 10)


SHAPES_AND_CLASSES = [((3, 32, 32), 49), ((1, 28, 28), 49), ((3, 17, 45), 2)]


@pytest.mark.parametrize("name", ["seed", "extended"])
@pytest.mark.parametrize("shape,n_classes", SHAPES_AND_CLASSES)
def test_any_input_shape_and_class_count(name, shape, n_classes):
    model = build_model(default_config(name), input_shape=shape, n_classes=n_classes)
    assert _forward(model, shape).shape == (2, n_classes)
    assert model.head.out_features == n_classes


@pytest.mark.parametrize("name", ["seed", "extended"])
def test_head_is_last_linear_and_can_be_replaced(name):
    model = build_model(default_config(name))
    assert _layers(model, nn.Linear)[-1] is model.head
    model.head = nn.Linear(model.head.in_features, 49)
    assert _forward(model, (1, 28, 28)).shape == (2, 49)


def _seed(**changes):
    return {**default_config("seed"), **changes}


def test_stride_is_dropped_when_the_map_would_get_too_small():
    config = _seed(conv1_stride=2, conv1_maxpool=False)
    del config["conv1_maxpool_kernel"]
    assert _layers(build_model(config, (1, 28, 28)), nn.Conv2d)[0].stride == (2, 2)
    assert _layers(build_model(config, (1, 4, 4)), nn.Conv2d)[0].stride == (1, 1)


def test_pooling_is_skipped_on_small_maps_and_valid_padding_falls_back():
    config = _seed(conv1_kernel_size=7, conv1_padding="valid", conv1_maxpool_kernel=3)
    big = build_model(config, (1, 28, 28))
    assert _layers(big, nn.Conv2d)[0].padding == (0, 0) and _layers(big, nn.MaxPool2d)
    small = build_model(config, (1, 5, 5))  # kernel 7 > map 5: pads like "same", no pool
    assert _layers(small, nn.Conv2d)[0].padding == (3, 3) and not _layers(small, nn.MaxPool2d)
    assert _forward(small, (1, 5, 5)).shape == (2, 10)
    assert _forward(build_model(config, (1, 1, 1)), (1, 1, 1)).shape == (2, 10)


def test_huge_flat_maps_are_pooled_to_the_cap():
    config = _seed(conv1_channels=32, conv1_maxpool=False, n_fc_layers=1, fc1_units=16)
    config.update(fc1_batchnorm=False, fc1_dropout=False)
    del config["conv1_maxpool_kernel"]
    small = build_model(config, (1, 28, 28))  # 32 x 28 x 28 = 25088 fits
    assert small.classifier[0].in_features == 32 * 28 * 28
    large = build_model(config, (3, 96, 96))
    assert _layers(large, nn.AdaptiveAvgPool2d)
    assert large.classifier[0].in_features <= MAX_FLAT_FEATURES
    assert _forward(large, (3, 96, 96)).shape == (2, 10)


def test_channel_multipliers_and_clamps():
    config = _seed(n_conv_layers=3, conv1_channels=32)
    for i in (2, 3):
        config.update(
            {
                f"conv{i}_channel_multiplier": 2.0,
                f"conv{i}_kernel_size": 3,
                f"conv{i}_padding": "same",
                f"conv{i}_stride": 1,
                f"conv{i}_batchnorm": True,
                f"conv{i}_dropout": False,
                f"conv{i}_maxpool": False,
            }
        )
    channels = [c.out_channels for c in _layers(build_model(config), nn.Conv2d)]
    assert channels == [32, 64, 64]  # 128 is clamped to 64
    assert len(_layers(build_model(config), nn.BatchNorm2d)) == 2


def test_residual_stages_forward_and_backward():
    config = {**default_config("extended"), "residual": True, "head": "gap", "n_fc_layers": 0}
    del config["fc_units"]
    model = build_model(config, (3, 32, 32), n_classes=5).train()
    stages = _layers(model, ResidualStage)
    assert len(stages) == 2 and not isinstance(stages[0].shortcut, nn.Identity)
    loss = model(torch.rand(4, 3, 32, 32)).logsumexp(1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_bad_arguments_raise_config_error():
    config = default_config("seed")
    del config["conv1_kernel_size"]
    with pytest.raises(ConfigError, match="conv1_kernel_size"):
        build_model(config)
    with pytest.raises(ConfigError, match="activation"):
        build_model(_seed(activation="swish"))
    with pytest.raises(ConfigError, match="input_shape"):
        build_model(default_config("seed"), input_shape=(28, 28))
    with pytest.raises(ConfigError, match="n_classes"):
        build_model(default_config("seed"), n_classes=0)
    with pytest.raises(ConfigError, match="dict"):
        build_model([1, 2])


def test_describe_model_lists_layers_with_shapes():
    text = describe_model(default_config("extended"), (1, 28, 28), 10)
    lines = text.splitlines()
    assert lines[0].startswith("input") and "(1, 28, 28)" in lines[0]
    assert any("(64, 7, 7)" in line for line in lines)
    assert lines[-2].startswith("linear 128->10") and "(10,)" in lines[-2]
    count = count_parameters(build_model(default_config("extended")))
    assert lines[-1] == f"parameters: {count:,}"
