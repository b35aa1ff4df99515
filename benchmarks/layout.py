"""Thread layout and FLOP ceiling: 1 worker x 2 threads vs 2 workers x 1 thread, per net.

For each net (seed default, a mid seed-space net, the extended default with and without its
augmentation), training-set size (kmnist10k: 6,400 training images; kmnist10k-x8: 51,200) and
batch size, three processes take turns on the same cell:

- layout ``1x2``: one process with 2 torch threads trains alone;
- layout ``2x1``: two processes with 1 thread each train at the same time (their img/s add up).

Each measurement is what an evaluation of ``autocnn optimize`` does, split in its two parts:
the real trainer (``autocnn.train.train``: uint8 data, augmentation, schedule, the imbalance
terms) for ``--seconds`` of steps after a warm-up (its own step clock: ``images_per_second``), and
a validation pass (``evaluate_model`` over up to 4,096 validation images, the trainer's batch).
``whole eval img/s`` combines them for an evaluation of one epoch (the split's 80/20 ratio:
``n_train / (n_train / train + n_val / val)``), the cost the fit planner and the runner pay.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (forward + backward of one batch
for training, forward for validation); the CPU's peak is ``cores x 32 FP32 FLOP/cycle x clock``
(two 256-bit FMA pipes, 8 lanes, 2 FLOP per FMA; AVX-512 on Zen 4 is double-pumped 256-bit, so
no higher) with the clock read from /proc/cpuinfo; bf16 (AVX512-BF16 dot products) doubles it.

    python benchmarks/layout.py --data-dir ../shared/data/kmnist --out OUT

Writes OUT/layout.json and OUT/layout.md. Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import torch
from throughput import MID  # noqa: E402  (benchmarks/ is the script's folder)

from autocnn import data
from autocnn.model import build_model
from autocnn.space import default_config
from autocnn.train import evaluate_model, train
from autocnn.train.inputs import Normalization
from autocnn.train.precision import autocast_dtype, native_cpu_bf16
from autocnn.train.trainer import EVAL_BATCH_SIZE

NO_AUG = {"aug_rotate": 0.0, "aug_translate": 0.0, "aug_scale": 0.0, "aug_erasing": 0.0}
NETS = {
    "seed-default": default_config("seed"),
    "seed-mid-2conv-12/24": MID,
    "extended-default": default_config("extended"),
    "extended-default-noaug": {**default_config("extended"), **NO_AUG},
}
SETS = {"8k": "kmnist10k", "64k": "kmnist10k-x8"}
VAL_IMAGES = 4096


def cells(batches: list[int], fp32_too: bool, sets: list[str]) -> list[dict]:
    """(net, set, batch, precision) combinations, in the order measured."""
    out = []
    for net in NETS:
        for size in sets:
            for batch in batches:
                out.append({"net": net, "set": size, "batch": batch, "precision": "auto"})
        if fp32_too:
            out.append({"net": net, "set": sets[0], "batch": batches[0], "precision": "fp32"})
    return out


def flops_per_image(config: dict, train_set, batch: int) -> tuple[float, float]:
    """(training, inference) FLOPs per image, counted on one fp32 batch."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(config, train_set.input_shape, train_set.n_classes)
    x = torch.randn(batch, *train_set.input_shape)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    training = counter.get_total_flops() / batch
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return training, counter.get_total_flops() / batch


def measure_cell(cell: dict, splits: dict, threads: int, seconds: float) -> dict:
    """Train ``seconds`` of steps, then one validation pass; images per second of each."""
    torch.set_num_threads(threads)
    train_set, val_set = splits[cell["set"]]
    config = {**NETS[cell["net"]], "batch_size": cell["batch"]}
    steps = len(train_set) // cell["batch"]
    train(config, train_set, None, epochs=3 / steps, precision=cell["precision"])  # warm-up
    result = train(config, train_set, None, epochs=10_000, precision=cell["precision"],
                   deadline=time.monotonic() + seconds)  # fmt: skip
    val = data.ImageSet(val_set.x[:VAL_IMAGES], val_set.y[:VAL_IMAGES], val_set.n_classes)
    norm = Normalization.from_data(train_set)
    amp = autocast_dtype(torch.device("cpu"), cell["precision"]) is not None
    evaluate_model(result.model, val, EVAL_BATCH_SIZE, normalization=norm, amp=amp)  # warm-up
    start = time.perf_counter()
    evaluate_model(result.model, val, EVAL_BATCH_SIZE, normalization=norm, amp=amp)
    return {
        "train_img_s": result.images_per_second,
        "val_img_s": len(val) / (time.perf_counter() - start),
        "precision": result.precision,
    }


def worker(role: str, todo: list[dict], args, barrier, queue) -> None:
    """``role``: "1x2" (the 2-thread process) or "2x1-a"/"2x1-b" (one thread each)."""
    splits = {}
    for name in {cell["set"] for cell in todo}:
        dataset = SETS[name]
        full = data.load(dataset, "train", data_dir=args.data_dir)
        splits[name] = data.train_val_split(full, 0.2, seed=0)
    for index, cell in enumerate(todo):
        for turn in ("1x2", "2x1"):
            barrier.wait()
            if role.startswith(turn):
                threads = 2 if turn == "1x2" else 1
                row = measure_cell(cell, splits, threads, args.seconds)
                queue.put({"cell": index, "layout": turn, "role": role, **row})
                print(role, index, row, file=sys.stderr, flush=True)
            barrier.wait()


def whole_eval(train_img_s: float, val_img_s: float, n_train: int, n_val: int) -> float:
    """Training images per second of a one-epoch evaluation, validation included."""
    return n_train / (n_train / train_img_s + n_val / val_img_s)


def cpu_clock_ghz() -> float:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    values = [float(line.split(":")[1]) for line in text.splitlines() if "cpu MHz" in line]
    return (sum(values) / len(values) / 1000) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data/kmnist")
    parser.add_argument("--seconds", type=float, default=6.0, help="timed steps per measurement")
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--nets", default=",".join(NETS))
    parser.add_argument("--sets", default=",".join(SETS), help="8k, 64k or both")
    parser.add_argument("--no-fp32", action="store_true", help="skip the fp32 comparison cells")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    nets = args.nets.split(",")
    todo = [c for c in cells(batches, not args.no_fp32, args.sets.split(",")) if c["net"] in nets]
    args.out.mkdir(parents=True, exist_ok=True)

    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    roles = ["1x2", "2x1-a", "2x1-b"]
    procs = [ctx.Process(target=worker, args=(r, todo, args, barrier, queue)) for r in roles]
    started = time.time()
    for p in procs:
        p.start()
    rows = [queue.get() for _ in range(len(todo) * 3)]
    for p in procs:
        p.join()

    sizes = {}
    for name in args.sets.split(","):
        dataset = SETS[name]
        n = len(data.load(dataset, "train", data_dir=args.data_dir))
        sizes[name] = (n - round(n * 0.2), round(n * 0.2))
    clock = cpu_clock_ghz()
    peak = {"fp32": 2 * 32 * clock, "bf16": 2 * 64 * clock}  # GFLOP/s, 2 cores
    table = []
    small = data.train_val_split(data.load("kmnist10k", "train", data_dir=args.data_dir), 0.2)[0]
    for index, cell in enumerate(todo):
        mine = [r for r in rows if r["cell"] == index]
        one = next(r for r in mine if r["layout"] == "1x2")
        two = [r for r in mine if r["layout"] == "2x1"]
        n_train, n_val = sizes[cell["set"]]
        train_flops, infer_flops = flops_per_image(NETS[cell["net"]], small, cell["batch"])
        entry = {**cell, "precision_used": one["precision"], "flops_train": train_flops,
                 "flops_infer": infer_flops}  # fmt: skip
        for layout, parts in (("1x2", [one]), ("2x1", two)):
            train_ips = sum(p["train_img_s"] for p in parts)
            val_ips = sum(p["val_img_s"] for p in parts)
            entry[layout] = {
                "train_img_s": train_ips,
                "val_img_s": val_ips,
                "whole_eval_img_s": sum(
                    whole_eval(p["train_img_s"], p["val_img_s"], n_train, n_val) for p in parts
                ),
                "train_gflops": train_ips * train_flops / 1e9,
                "val_gflops": val_ips * infer_flops / 1e9,
            }
        entry["peak_gflops"] = peak[one["precision"]]
        table.append(entry)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    meta = {
        "date": str(date.today()),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {clock:.2f} GHz",
        "native_bf16": native_cpu_bf16(),
        "torch": torch.__version__,
        "commit": commit,
        "seconds": args.seconds,
        "wall_s": time.time() - started,
    }
    (args.out / "layout.json").write_text(json.dumps({"meta": meta, "cells": table}, indent=1))
    lines = [
        f"{meta['date']}, {meta['machine']}, torch {meta['torch']}, commit {commit}, "
        f"native bf16: {meta['native_bf16']}, {args.seconds:g} s of steps per measurement",
        "",
        "| net | train imgs | batch | precision | layout | train img/s | val img/s | whole eval "
        "img/s | train GFLOP/s (% of peak) | val GFLOP/s | 2x1 / 1x2 (whole eval) |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e in table:
        ratio = e["2x1"]["whole_eval_img_s"] / e["1x2"]["whole_eval_img_s"]
        for layout in ("1x2", "2x1"):
            m = e[layout]
            share = 100 * m["train_gflops"] / e["peak_gflops"]
            lines.append(
                f"| {e['net']} | {sizes[e['set']][0]:,} | {e['batch']} | {e['precision_used']} | "
                f"{layout} | {m['train_img_s']:,.0f} | {m['val_img_s']:,.0f} | "
                f"{m['whole_eval_img_s']:,.0f} | {m['train_gflops']:.1f} ({share:.0f} %) | "
                f"{m['val_gflops']:.1f} | {ratio:.2f} |"
            )
    (args.out / "layout.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
