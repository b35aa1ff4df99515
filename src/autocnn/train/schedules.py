"""Learning-rate schedules as pure functions of the global step over a fixed horizon.

Why not ``torch.optim.lr_scheduler``: its state lives in an object that must be saved and
stepped in lockstep. Here the learning rate of step ``s`` is ``learning_rate_at(s, horizon)``,
nothing else, so a run of ``b`` epochs over a horizon of ``H`` epochs is an exact prefix of a run
of ``b' > b`` epochs over the same horizon, and resuming needs only the step counter. Steps past
the horizon keep the schedule's final value.

``onecycle`` gives exactly the learning rates of ``torch.optim.lr_scheduler.OneCycleLR`` with
``total_steps=horizon_steps`` (cosine annealing, warm-up over the first 30 % of the horizon from
``lr / 25`` to ``lr``, then down to ``lr / 25 / 1e4``), without its momentum cycling.

Example::

    learning_rate_at("cosine", 0.1, step=50, horizon_steps=100)   # 0.05
"""

from __future__ import annotations

import math

ONECYCLE_WARMUP = 0.3
ONECYCLE_DIV = 25.0
ONECYCLE_FINAL_DIV = 1e4


def learning_rate_at(schedule: str, base_lr: float, step: int, horizon_steps: int) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of a ``horizon_steps`` schedule."""
    if schedule == "constant":
        return base_lr
    progress = min(step, horizon_steps) / max(horizon_steps, 1)
    if schedule == "cosine":
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "onecycle":
        # torch's OneCycleLR step grid: the peak at step 0.3 H - 1, the end at step H - 1.
        start = base_lr / ONECYCLE_DIV
        end = start / ONECYCLE_FINAL_DIV
        last = horizon_steps - 1
        peak = float(ONECYCLE_WARMUP * horizon_steps) - 1
        position = min(step, last)
        if position <= peak:
            return _cosine_between(start, base_lr, position / peak)
        return _cosine_between(base_lr, end, (position - peak) / max(last - peak, 1e-12))
    raise ValueError(f"unknown lr_schedule {schedule!r}")


def _cosine_between(start: float, end: float, fraction: float) -> float:
    """Cosine interpolation from ``start`` (fraction 0) to ``end`` (fraction 1), as torch does."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
