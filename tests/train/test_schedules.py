"""Learning-rate schedules: pure functions of the step, checked against torch's schedulers."""

from __future__ import annotations

import math

import pytest
import torch

from autocnn.train import learning_rate_at


def _torch_lrs(make_scheduler, steps: int, base_lr: float = 0.1) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for step in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if step < steps - 1:
            scheduler.step()
    return lrs


@pytest.mark.parametrize("horizon", [10, 37, 200])
def test_onecycle_matches_torch_onecycle(horizon):
    expected = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=0.1, total_steps=horizon, cycle_momentum=False
        ),
        horizon,
    )
    mine = [learning_rate_at("onecycle", 0.1, step, horizon) for step in range(horizon)]
    assert mine == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_cosine_matches_torch_cosine_annealing():
    horizon = 50
    expected = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=horizon), horizon
    )
    mine = [learning_rate_at("cosine", 0.1, step, horizon) for step in range(horizon)]
    assert mine == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_steps_past_the_horizon_keep_the_final_rate():
    for schedule in ("constant", "cosine", "onecycle"):
        final = learning_rate_at(schedule, 0.1, 100, 100)
        assert learning_rate_at(schedule, 0.1, 500, 100) == final
    assert learning_rate_at("onecycle", 0.1, 100, 100) == learning_rate_at("onecycle", 0.1, 99, 100)
    assert learning_rate_at("constant", 0.1, 12345, 10) == 0.1
    assert learning_rate_at("cosine", 0.1, 100, 100) == pytest.approx(0.0, abs=1e-15)


def test_onecycle_shape():
    lrs = [learning_rate_at("onecycle", 1.0, s, 100) for s in range(100)]
    peak = max(range(100), key=lrs.__getitem__)
    assert 25 <= peak <= 30
    assert lrs[0] == pytest.approx(1 / 25)
    assert lrs[-1] == pytest.approx(1 / 25 / 1e4)
    assert all(math.isfinite(v) and v > 0 for v in lrs)
