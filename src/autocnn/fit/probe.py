"""Measure how fast a config trains here, on this dataset, with a given number of threads.

A two-step warm-up run first (a process's first calls create oneDNN's kernels for every layer
shape; measured, a cold run made the per-image cost look several times off), then one short
training of ``steps`` optimizer steps with the real trainer (same data path, augmentation and
schedule code), whose own clock counts the step loop only (not the model build): its images per
second are the probe's answer. An earlier version took the difference of two runs, whose fixed
costs vary by more than a few steps cost, and over-estimated the speed up to 2x. A probe costs
about ``steps + 2`` batches; the fit counts it in the budget.

Example::

    speed = probe_speed(default_config("extended"), train_set, threads=1)
    print(speed.img_per_s)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from autocnn import data


@dataclass(frozen=True)
class Probe:
    img_per_s: float  # training images per second in the step loop
    seconds: float  # what the probe itself took
    precision: str = "fp32"  # what the trainer computed in ("bf16": autocast, precision.py)


def probe_speed(
    config: dict[str, Any],
    train_set: data.ImageSet,
    *,
    threads: int,
    steps: int = 12,
    device: str = "auto",
) -> Probe:
    """Training speed of ``config`` on ``train_set`` with ``threads`` torch threads."""
    import torch

    from autocnn.train import train

    batch = min(int(config.get("batch_size", 128)), len(train_set))
    steps_per_epoch = max(1, len(train_set) // batch)
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    started = time.perf_counter()
    try:
        # whole epochs on small data, so that per-epoch costs count as they will
        train(config, train_set, None, epochs=2 / steps_per_epoch, seed=0, device=device)
        result = train(config, train_set, None, epochs=steps / steps_per_epoch, seed=0,
                       device=device)  # fmt: skip
    finally:
        torch.set_num_threads(before)
    return Probe(result.images_per_second, time.perf_counter() - started, result.precision)
