"""Measure how fast a config trains here, on this dataset, with a given number of threads.

A two-step warm-up (the first calls of a process create oneDNN's kernels for each layer shape:
measured, a cold first run made the per-image cost look 5x smaller), then two short trainings of
``steps`` and ``2 * steps`` optimizer steps with the real trainer (same data path, augmentation,
schedule code): their difference is the per-image cost without the fixed costs (model build),
which a longer training amortises. A probe costs about ``3 * steps + 2`` batches; the fit counts
it in the budget.

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
    img_per_s: float  # steady-state training images per second
    fixed_seconds: float  # per-training cost beyond the images (build, warm-up)
    seconds: float  # what the probe itself took


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

    batch = int(config.get("batch_size", 128))
    steps_per_epoch = max(1, len(train_set) // batch)
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    started = time.perf_counter()
    try:
        timings = []
        for n in (2, steps, 2 * steps):
            # whole epochs on small data: per-epoch costs belong in the rate too
            epochs = n / steps_per_epoch
            t0 = time.perf_counter()
            train(config, train_set, None, epochs=epochs, seed=0, device=device)
            timings.append((epochs * steps_per_epoch * batch, time.perf_counter() - t0))
    finally:
        torch.set_num_threads(before)
    (n1, t1), (n2, t2) = timings[1:]  # the first was the warm-up
    img_per_s = (n2 - n1) / (t2 - t1) if t2 > t1 else n2 / max(t2, 1e-6)
    fixed = max(0.0, t1 - n1 / img_per_s)
    return Probe(img_per_s, fixed, time.perf_counter() - started)
