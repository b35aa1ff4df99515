"""Property: every config either space can produce builds and runs (validity by construction).

Chosen sizes: 1000 seed + 300 extended configs on 1x28x28, plus 100 + 100 on other input
shapes, forward passes of a batch of 2 in training mode (batchnorm's batch statistics too).
"""

from __future__ import annotations

import pytest
import torch

from autocnn.model import build_model
from autocnn.space import get_space, sample_configs

OTHER_SHAPES = [(3, 32, 32), (1, 7, 9), (3, 64, 48), (1, 3, 3)]


def _runs(config, shape, n_classes):
    model = build_model(config, input_shape=shape, n_classes=n_classes).train()
    with torch.no_grad():
        out = model(torch.rand(2, *shape))
    assert out.shape == (2, n_classes), config
    assert torch.isfinite(out).all(), config


@pytest.mark.parametrize("name,n", [("seed", 1000), ("extended", 300)])
def test_sampled_configs_build_and_run_on_kmnist_shape(name, n):
    for config in sample_configs(get_space(name), n, seed=2019):
        _runs(config, (1, 28, 28), 10)


@pytest.mark.parametrize("name", ["seed", "extended"])
def test_sampled_configs_run_on_other_shapes_and_49_classes(name):
    for k, config in enumerate(sample_configs(get_space(name), 100, seed=49)):
        _runs(config, OTHER_SHAPES[k % len(OTHER_SHAPES)], 49)


@pytest.mark.parametrize("name", ["seed", "extended"])
def test_sampled_configs_train_one_step(name):
    for config in sample_configs(get_space(name), 20, seed=7):
        model = build_model(config).train()
        loss = torch.nn.functional.cross_entropy(model(torch.rand(4, 1, 28, 28)), torch.arange(4))
        loss.backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), config
