"""The final's speed probe under a load that ends: one probe (before 2026-12-03) against
``autocnn.fit.final_training.measure_speed`` (probed again while slower than the search's speed).

First, on a quiet machine, the search's speed of the space's default is stood in for by a
one-thread probe times ``autocnn.fit.job.PARALLEL_SLOWDOWN`` (one of two workers side by side),
and the final's all-thread speed is measured. Then, twice, ``--burners`` processes spin for
``--load-seconds`` and the final's speed is measured as they start: once with one probe, once with
``measure_speed``. Prints each speed and what the final would hold back for its train and test
passes at that speed (``passes_seconds``), for this set and for a 60,000-image set.

Example::

    python benchmarks/busy_probe.py --data-dir ../shared/data/kmnist --burners 2 --load-seconds 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import time


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def under_load(measure, burners: int, seconds: float) -> float:
    """``measure()`` while ``burners`` processes spin for ``seconds`` (they start first)."""
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=spin, args=(seconds,)) for _ in range(burners)]
    for proc in procs:
        proc.start()
    time.sleep(0.5)  # the spinners are running
    try:
        return measure()
    finally:
        for proc in procs:
            proc.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="kmnist10k")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--space", default="extended")
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--load-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)

    import torch

    from autocnn import data, space
    from autocnn.fit.final_training import measure_speed, passes_seconds
    from autocnn.fit.job import PARALLEL_SLOWDOWN
    from autocnn.fit.probe import probe_speed

    config = space.default_config(args.space)
    images = data.load(args.dataset, "train", data_dir=args.data_dir)
    threads = torch.get_num_threads()
    searched = probe_speed(config, images, threads=1).img_per_s * PARALLEL_SLOWDOWN
    quiet = probe_speed(config, images, threads=threads, steps=10).img_per_s
    said: list[str] = []
    one = under_load(lambda: probe_speed(config, images, threads=threads, steps=10).img_per_s,
                     args.burners, args.load_seconds)  # fmt: skip
    started = time.monotonic()
    again = under_load(lambda: measure_speed(config, images, threads, searched, said.append),
                       args.burners, args.load_seconds)  # fmt: skip
    took = time.monotonic() - started - 0.5
    print(f"{len(images)} images, {threads} threads; one search worker: {searched:,.0f} img/s")
    print("| measured | img/s | passes held back: this set | 60,000 images |")
    print("|---|---|---|---|")
    for what, speed in [("quiet, one probe", quiet), ("under load, one probe (before)", one),
                        (f"under load, measure_speed (after; {took:.1f} s)", again)]:  # fmt: skip
        print(f"| {what} | {speed:,.0f} | {passes_seconds(len(images), speed):.1f} s "
              f"| {passes_seconds(60_000, speed):.1f} s |")  # fmt: skip
    for line in said:
        print("log:", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
