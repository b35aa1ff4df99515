"""Training throughput: autocnn's trainer vs the seed's pipeline style vs a bare loop.

For the same configs and batch sizes, in one run (so the ratios share the machine's state):

(a) ``autocnn.train.train`` (uint8 tensors in memory, batched conversion, no DataLoader);
(b) the seed's style: a per-sample ``Dataset.__getitem__`` (numpy -> float tensor) fed through a
    ``DataLoader`` with the config's batch size, ``loss.item()`` every step;
(c) a bare forward/backward loop over a preloaded float tensor in the same channels_last layout
    (the floor for this model: no augmentation, no metrics, no schedule).

Each is timed over whole epochs after one warm-up epoch; the median of ``--repeats`` runs is
reported. Also measured: the per-evaluation fixed cost (interpreter + torch import, data load,
model build, first step) and 1 worker x 2 threads vs 2 workers x 1 thread.

    python benchmarks/throughput.py --data-dir ../shared/data/kmnist --repeats 3 --out bench.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import subprocess
import sys
import time
from datetime import date

import numpy as np
import torch
import torch.nn.functional as F

from autocnn import data
from autocnn.model import build_model
from autocnn.space import default_config
from autocnn.train import train

MID = {  # 2 conv layers, 12/24 channels (the guide's "mid net")
    "n_conv_layers": 2,
    "conv1_channels": 12,
    "conv1_kernel_size": 3,
    "conv1_padding": "same",
    "conv1_stride": 1,
    "conv1_batchnorm": False,
    "conv1_dropout": False,
    "conv1_maxpool": True,
    "conv1_maxpool_kernel": 2,
    "conv2_channel_multiplier": 2.0,
    "conv2_kernel_size": 3,
    "conv2_padding": "same",
    "conv2_stride": 1,
    "conv2_batchnorm": False,
    "conv2_dropout": False,
    "conv2_maxpool": True,
    "conv2_maxpool_kernel": 2,
    "activation": "relu",
    "n_fc_layers": 0,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "weight_decay": 1e-6,
    "batch_size": 100,
}
CONFIGS = {
    "seed-default": default_config("seed"),
    "mid-2conv-12/24": MID,
    # The extended space's default: 4 conv (32/32/64/64) + BN, affine augmentation, one-cycle AdamW.
    "large-vgg-4conv": default_config("extended"),
}


def seed_style_epoch(model, optimizer, images: np.ndarray, labels: np.ndarray, batch_size: int):
    """One epoch the way the seed trained: per-sample Dataset + DataLoader, .item() per step."""

    class NumpyDataset(torch.utils.data.Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            image = torch.from_numpy(images[i][None].astype(np.float32) / 255.0)
            return (image - 0.5) / 0.5, int(labels[i])

    loader = torch.utils.data.DataLoader(NumpyDataset(), batch_size=batch_size, shuffle=True)
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total


def bare_epoch(model, optimizer, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
    """The floor: preloaded float tensor, contiguous slices of a permutation."""
    model.train()
    order = torch.randperm(len(y))
    for start in range(0, len(y) - batch_size + 1, batch_size):
        index = order[start : start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[index]), y[index]).backward()
        optimizer.step()


def interleaved_rates(runs: dict, n_images: dict, epochs: int, repeats: int) -> dict:
    """Median images/s of each ``runs[name]()`` epoch; repeats interleave the candidates so that
    a noisy machine's slow phases hit all of them alike."""
    for run_epoch in runs.values():
        run_epoch()  # warm-up: first-call allocations, kernel selection
    rates: dict = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run_epoch in runs.items():
            start = time.perf_counter()
            for _ in range(epochs):
                run_epoch()
            rates[name].append(n_images[name] * epochs / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def measure(name: str, config: dict, train_set, batch_size: int, epochs: int, repeats: int):
    config = {**config, "batch_size": batch_size}
    shape, classes = train_set.input_shape, train_set.n_classes
    n_used = (len(train_set) // batch_size) * batch_size

    def autocnn_epoch():
        train(config, train_set, None, epochs=1, seed=0, device="cpu")

    images = train_set.x[:, 0].numpy()
    labels = train_set.y.numpy()
    model_b = build_model(config, shape, classes)
    opt_b = torch.optim.Adam(model_b.parameters(), lr=1e-3)

    model_c = build_model(config, shape, classes).to(memory_format=torch.channels_last)
    opt_c = torch.optim.Adam(model_c.parameters(), lr=1e-3)
    x_float = ((train_set.x.float() / 255.0 - 0.5) / 0.5).contiguous(
        memory_format=torch.channels_last
    )
    rates = interleaved_rates(
        {
            "a": autocnn_epoch,
            "b": lambda: seed_style_epoch(model_b, opt_b, images, labels, batch_size),
            "c": lambda: bare_epoch(model_c, opt_c, x_float, train_set.y, batch_size),
        },
        {"a": n_used, "b": len(labels), "c": n_used},
        epochs,
        repeats,
    )
    a, b, c = rates["a"], rates["b"], rates["c"]
    row = {
        "config": name,
        "batch_size": batch_size,
        "autocnn": a,
        "seed_style": b,
        "bare": c,
        "a_over_c": a / c,
        "a_over_b": a / b,
    }
    print(
        f"{name:18s} bs={batch_size:5d}  autocnn {a:8.0f}/s  seed-style {b:8.0f}/s  "
        f"bare {c:8.0f}/s  a/c {a / c:5.2f}  a/b {a / b:5.2f}",
        flush=True,
    )
    return row


def fixed_cost(data_dir: str) -> dict:
    """Seconds an evaluation pays before its first useful step, and what a cached worker saves."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import autocnn.train"], check=True)
    import_seconds = time.perf_counter() - start
    data.clear_cache()
    start = time.perf_counter()
    full = data.load("kmnist10k", "train", data_dir=data_dir)
    train_set, _ = data.train_val_split(full, 0.2, seed=0)
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    data.train_val_split(data.load("kmnist10k", "train", data_dir=data_dir), 0.2, seed=0)
    cached_seconds = time.perf_counter() - start
    config = default_config("seed")
    start = time.perf_counter()
    build_model(config, train_set.input_shape, train_set.n_classes)
    build_seconds = time.perf_counter() - start
    small = train_set.subset(list(range(config["batch_size"] * 2)))
    start = time.perf_counter()
    train(config, small, None, epochs=1, device="cpu")
    two_steps = time.perf_counter() - start
    return {
        "process_start_and_import_torch_s": import_seconds,
        "data_load_first_s": load_seconds,
        "data_load_cached_s": cached_seconds,
        "model_build_s": build_seconds,
        "train_call_two_steps_s": two_steps,
    }


def _worker(config: dict, data_dir: str, threads: int, epochs: int, queue) -> None:
    torch.set_num_threads(threads)
    full = data.load("kmnist10k", "train", data_dir=data_dir)
    train_set, _ = data.train_val_split(full, 0.2, seed=0)
    train(config, train_set, None, epochs=1, device="cpu")  # warm-up
    start = time.perf_counter()
    result = train(config, train_set, None, epochs=epochs, device="cpu")
    queue.put(result.steps * config["batch_size"] / (time.perf_counter() - start))


def thread_layout(config: dict, data_dir: str, epochs: int) -> dict:
    """Aggregate images/s: one process with 2 threads vs two concurrent processes with 1 each."""
    context = mp.get_context("spawn")
    out = {}
    for workers, threads in ((1, 2), (2, 1)):
        queue = context.Queue()
        procs = [
            context.Process(target=_worker, args=(config, data_dir, threads, epochs, queue))
            for _ in range(workers)
        ]
        for p in procs:
            p.start()
        rates = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        out[f"{workers}x{threads}"] = sum(rates)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--batch-sizes", default="50,100,250,1000")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names")
    parser.add_argument(
        "--skip-extras",
        action="store_true",
        help="only the throughput table (no fixed cost, no thread layout)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    full = data.load("kmnist10k", "train", data_dir=args.data_dir)
    train_set, _ = data.train_val_split(full, 0.2, seed=0)
    print(
        f"{date.today()} {platform.processor() or platform.machine()} torch {torch.__version__} "
        f"threads {torch.get_num_threads()}; kmnist10k train split {len(train_set)} images"
    )
    rows = []
    for name in args.configs.split(","):
        config = CONFIGS[name]
        # The large net runs ~30x slower: time it on the first 2,000 images to keep the run short.
        images = train_set if not name.startswith("large") else train_set.subset(range(2000))
        rows += [
            measure(name, config, images, int(bs), args.epochs, args.repeats)
            for bs in args.batch_sizes.split(",")
        ]
    costs = layout = None
    if not args.skip_extras:
        costs = fixed_cost(args.data_dir)
        print("fixed cost per evaluation:", json.dumps(costs, indent=1))
        layout = {
            name: thread_layout({**CONFIGS[name], "batch_size": 100}, args.data_dir, 2)
            for name in ("seed-default", "mid-2conv-12/24")
        }
        print("aggregate images/s, workers x threads:", json.dumps(layout, indent=1))
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(
                {
                    "date": str(date.today()),
                    "rows": rows,
                    "fixed_cost": costs,
                    "thread_layout": layout,
                },
                handle,
                indent=1,
            )


if __name__ == "__main__":
    main()
