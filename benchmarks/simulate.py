"""Scale by simulation: optimizer overhead, run-store speed and parallel efficiency of BOHB.

Everything runs the real engine (``BOHB``, ``Store``, ``run_optimizer``, ``ProcessBackend``) on
the seed study's conditional space (``get_space("seed")``, 43 hyperparameters) with the cheap
``SyntheticObjective`` (known optimum 0.02; a ``sleep_per_budget`` stands in for training time).
Four sections (``--only`` picks some):

- ``overhead``: ``--evaluations`` results (10,000) told in-process with ``--pending`` trials
  always running (32: the constant liar is at work, as with 32 workers); CPU milliseconds per
  ``ask``, per ``tell`` and per evaluation in the store (``record_ask`` + ``mark_started`` +
  ``record_tell``), averaged over the 100 evaluations before 100, 1,000 and 10,000 results.
- ``store``: a store filled to ``--store-rows`` (100,000) evaluations of real seed-space configs;
  the time of what ``autocnn status`` and a report read (``summary()``, ``incumbent()``,
  ``count()``, ``evaluations()``, ``configs()``) and of one more evaluation's writes.
- ``speedup``: time-to-target on a VIRTUAL clock (``simulate_parallel``: deterministic, no sleeping)
  for 1, 4, 16 and 32 workers over ``--seeds``: the first time a max-budget result reaches
  ``--target``; evaluations take ``c`` x 1 s for ``c`` budget units and every ask/tell costs the
  per-call overhead measured in ``overhead``. Speed-up = median time (1 worker) / median time.
- ``parallel``: REAL worker processes (``ProcessBackend``) sleeping ``--seconds-per-budget`` per
  budget unit, for ``--run-seconds`` each; worker utilisation = time inside the objective / (workers
  x wall time), from the start of ``run_optimizer`` (start-up excluded: the workers first answer
  a zero-cost warm-up trial; start-up is reported apart) to the last ask ("steady") or to the end
  of the drain ("end-to-end"); every evaluation is checked to be accounted for.
  Workers start with ``--start-method`` (default ``forkserver`` preloading the objective's modules:
  ``spawn`` re-imports numpy + ConfigSpace, ~1.5 s CPU per worker, in each of 32 processes).
  ``--backend ray``: the same with a ``RayBackend`` on a new local Ray instance of W CPUs, 1 CPU
  per trial; its W worker processes are started before the run (W warm-up tasks that wait for
  each other). Ray binds the machine's interface address; to keep it on loopback, run the script
  in a network namespace whose only interface is ``lo`` (see the usage below).

Usage (the default run takes about 8 minutes on 2 cores)::

    python benchmarks/simulate.py --out benchmarks/results/simulate.json
    python benchmarks/simulate.py --only parallel --workers 1,4 --run-seconds 20
    RAY_TMPDIR=$(mktemp -d) unshare -rn sh -c 'ip link set lo up && exec python \
        benchmarks/simulate.py --only parallel --backend ray \
        --out benchmarks/results/simulate_ray.json'

Writes JSON (``--out``), markdown tables (stdout) and PNG plots next to the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from autocnn.optimize.backends import ProcessBackend
from autocnn.optimize.methods import make_optimizer
from autocnn.optimize.runner import run_optimizer
from autocnn.optimize.store import Store
from autocnn.optimize.synthetic import SyntheticObjective, simulate_parallel
from autocnn.optimize.trial import Result, Trial
from autocnn.space import default_config, get_space

SPACE = "seed"
MIN_BUDGET, MAX_BUDGET = 1.0, 9.0


def _optimizer(method: str, seed: int) -> Any:
    return make_optimizer(
        method, get_space(SPACE), min_budget=MIN_BUDGET, max_budget=MAX_BUDGET, seed=seed
    )


# --- overhead ------------------------------------------------------------------------------------
def measure_overhead(method: str, evaluations: int, pending: int, seed: int) -> dict[str, Any]:
    """CPU ms per ask / tell / store writes, in windows of 100 evaluations before each mark."""
    space = get_space(SPACE)
    objective = SyntheticObjective(space, MAX_BUDGET, seed=seed)
    optimizer = _optimizer(method, seed)
    marks = [m for m in (100, 1_000, 10_000, 100_000) if m <= evaluations]
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "run.db", create=True, settings={"method": method})
        ask_ms, tell_ms, store_ms = [], [], []
        running: list[tuple[Trial, int]] = []
        rows: dict[int, dict[str, float]] = {}
        while len(tell_ms) < evaluations:
            while len(running) < pending:
                t = time.process_time()
                trial = optimizer.ask()
                ask_ms.append(1000 * (time.process_time() - t))
                t = time.process_time()
                evaluation_id = store.record_ask(trial)
                store.mark_started(evaluation_id)
                store_ms.append(1000 * (time.process_time() - t))
                running.append((trial, evaluation_id))
            trial, evaluation_id = running.pop(0)  # first in, first out
            result = objective.result(trial)
            t = time.process_time()
            store.record_tell(evaluation_id, result, worker="w")
            store_ms[len(tell_ms)] += 1000 * (time.process_time() - t)
            t = time.process_time()
            optimizer.tell(trial, result)
            tell_ms.append(1000 * (time.process_time() - t))
            n = len(tell_ms)
            if n in marks:
                window = slice(n - 100, n)
                rows[n] = {
                    "ask_ms": statistics.fmean(ask_ms[window]),
                    "ask_p95_ms": float(np.percentile(ask_ms[window], 95)),
                    "ask_max_ms": max(ask_ms[window]),
                    "tell_ms": statistics.fmean(tell_ms[window]),
                    "store_ms": statistics.fmean(store_ms[window]),
                }
                print(f"  overhead at {n}: {rows[n]}", flush=True)
        store.close()
    return {
        "method": method,
        "pending": pending,
        "marks": rows,
        "mean_ask_ms": statistics.fmean(ask_ms),
        "mean_tell_ms": statistics.fmean(tell_ms),
        "stats": dict(optimizer.stats),
    }


# --- store ---------------------------------------------------------------------------------------
def _timed(function: Any, repeats: int = 3) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - t)
    return 1000 * best


def _bulk_fill(store: Store, first: int, rows: int, configs: list, rng: random.Random) -> None:
    db = store._db  # benchmark only: the public API writes one evaluation per transaction
    now = time.time()
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO configs VALUES (?, ?, 0, ?)",
        (
            (i, json.dumps(configs[i % len(configs)], sort_keys=True), now)
            for i in range(first, rows)
        ),
    )
    evaluations = []
    for i in range(first, rows):
        budget, loss = rng.choice([1.0, 3.0, 9.0]), rng.random()
        metrics = json.dumps({"budget": budget, "val_error": loss}, sort_keys=True)
        evaluations.append(
            (i, budget, i // 13, loss, metrics, budget, f"worker-{i % 32}", now, now, now + 1)
        )
    db.executemany(
        "INSERT INTO evaluations (config_id, budget, previous_budget, bracket, stage, status, "
        "loss, metrics, error, seconds, cost, worker, submitted, started, finished) "
        "VALUES (?, ?, NULL, ?, 0, 'ok', ?, ?, NULL, 1.0, ?, ?, ?, ?, ?)",
        evaluations,
    )
    db.execute(
        "INSERT INTO events (kind, evaluation_id, time) SELECT 'ask', id, submitted "
        "FROM evaluations WHERE config_id >= ? ORDER BY id",
        (first,),
    )
    db.execute(
        "INSERT INTO events (kind, evaluation_id, time) SELECT 'tell', id, finished "
        "FROM evaluations WHERE config_id >= ? ORDER BY id",
        (first,),
    )
    db.execute("COMMIT")


def measure_store(rows: int, seed: int) -> dict[str, Any]:
    """Read/write times of a store with ``rows`` finished evaluations (wall ms, best of 3)."""
    space = get_space(SPACE)
    optimizer = _optimizer("hyperband", seed)
    configs = [optimizer.ask().config for _ in range(200)]  # real configs, reused round robin
    rng = random.Random(seed)
    out: dict[str, Any] = {"rows": rows}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.db"
        store = Store.open(path, create=True, settings={"space": SPACE})
        through_api = min(rows, 1000)
        t = time.perf_counter()
        for i in range(through_api):  # through the public API, as a run writes them
            budget = rng.choice([1.0, 3.0, 9.0])
            trial = Trial(i, configs[i % len(configs)], budget, None, i // 13, 0)
            evaluation_id = store.record_ask(trial)
            store.mark_started(evaluation_id)
            loss = rng.random()
            result = Result("ok", loss, {"val_error": loss, "budget": budget}, None, 1.0, budget)
            store.record_tell(evaluation_id, result, worker=f"worker-{i % 32}")
        out["fill_ms_per_evaluation"] = 1000 * (time.perf_counter() - t) / through_api
        # the rest in one transaction, rows shaped exactly like the ones above (100,000 through
        # the API would take minutes of CPU and measure nothing new)
        _bulk_fill(store, through_api, rows, configs, rng)
        out["mb"] = path.stat().st_size / 1e6
        out["count_ms"] = _timed(lambda: store.count(done_only=True))
        out["incumbent_ms"] = _timed(store.incumbent)
        out["summary_ms"] = _timed(store.summary)

        def status() -> None:  # what `autocnn status` does: open read-only, summarise
            with Store.open(path, readonly=True) as reader:
                reader.summary()

        out["status_ms"] = _timed(status)
        out["evaluations_ms"] = _timed(store.evaluations, repeats=1)
        out["configs_ms"] = _timed(store.configs, repeats=1)
        t = time.perf_counter()
        for i in range(100):
            trial = Trial(rows + i, configs[0], 1.0, None, 0, 0)
            evaluation_id = store.record_ask(trial)
            store.mark_started(evaluation_id)
            store.record_tell(evaluation_id, Result("ok", 0.5, seconds=1.0, cost=1.0), "w")
        out["write_ms_per_evaluation"] = 1000 * (time.perf_counter() - t) / 100
        store.close()
    del space
    print(f"  store: {out}", flush=True)
    return out


# --- speed-up on a virtual clock -----------------------------------------------------------------
def time_to_target(history: list[Any], target: float) -> float:
    for evaluation in sorted(history, key=lambda e: e.end):
        if evaluation.trial.budget >= MAX_BUDGET and evaluation.result.loss <= target:
            return evaluation.end
    return math.inf


def measure_speedup(
    method: str, workers: list[int], seeds: list[int], target: float, overhead_s: float
) -> dict[str, Any]:
    space = get_space(SPACE)
    out: dict[str, Any] = {"target": target, "overhead_s": overhead_s, "by_workers": {}}
    for n in workers:
        times, utilisations, evaluations = [], [], []
        for seed in seeds:
            objective = SyntheticObjective(space, MAX_BUDGET, seed=seed)
            history = simulate_parallel(
                _optimizer(method, seed),
                objective,
                n,
                seconds_per_budget=1.0,
                max_time=20_000.0 / n + 200,
                overhead=overhead_s,
                stop_when=lambda e: e.trial.budget >= MAX_BUDGET and e.result.loss <= target,
            )
            reached = time_to_target(history, target)
            times.append(reached)
            horizon = min(reached, max(e.end for e in history))
            busy = sum(max(0.0, min(e.end, horizon) - e.start) for e in history)
            utilisations.append(busy / (n * horizon))
            evaluations.append(len(history))
        out["by_workers"][n] = {
            "times": times,
            "median_time": statistics.median(times),
            "utilisation": statistics.fmean(utilisations),
            "evaluations": statistics.median(evaluations),
        }
        print(f"  speedup {n} workers: {out['by_workers'][n]}", flush=True)
    base = out["by_workers"][workers[0]]["median_time"]
    for n in workers:
        row = out["by_workers"][n]
        row["speedup"] = base / row["median_time"] if math.isfinite(row["median_time"]) else 0.0
    return out


# --- real worker processes ------------------------------------------------------------------------
def _busy_in(rows: list[Any], start: float, stop: float) -> float:
    """Seconds spent inside the objective within [start, stop] (wall-clock timestamps)."""
    total = 0.0
    for row in rows:
        end = row.finished
        begin = end - (row.seconds or 0.0)
        total += max(0.0, min(end, stop) - max(begin, start))
    return total


def _meet(folder: str, n: int) -> int:
    """Ray warm-up task: import the objective's modules, then wait until ``n`` of these tasks run
    at once, so that ``n`` distinct worker processes are up; returns this worker's PID."""
    import autocnn.optimize.ray_backend  # noqa: F401
    import autocnn.optimize.synthetic  # noqa: F401

    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + 600
    while len(list(Path(folder).iterdir())) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.getpid()


def _ray_backend(objective: Any, workers: int, meet: Path) -> tuple[Any, dict[str, Any]]:
    """A RayBackend on a new local instance of ``workers`` CPUs, its workers started."""
    import ray

    from autocnn.optimize.ray_backend import RayBackend

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    options = {"num_cpus": workers, "object_store_memory": 100 * 2**20}
    # "local": always a new instance, never a cluster found through RAY_ADDRESS or /tmp/ray.
    backend = RayBackend(objective, address="local", cpus_per_trial=1, init_options=options)
    meet.mkdir()
    warm_up = ray.remote(num_cpus=1)(_meet)
    pids = ray.get([warm_up.remote(str(meet), workers) for _ in range(workers)])
    if len(set(pids)) != workers:
        raise RuntimeError(f"{workers} warm-up tasks ran in {len(set(pids))} worker processes")
    nodes = sorted({node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]})
    return backend, {"ray": ray.__version__, "ray_nodes": nodes}


def measure_parallel(
    method: str,
    workers: int,
    seconds_per_budget: float,
    run_seconds: float,
    seed: int,
    start_method: str,
    target: float,
    backend_name: str = "process",
) -> dict[str, Any]:
    space = get_space(SPACE)
    objective = SyntheticObjective(
        space, MAX_BUDGET, seed=seed, sleep_per_budget=seconds_per_budget
    )
    optimizer = _optimizer(method, seed)
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        if backend_name == "ray":
            backend, extra = _ray_backend(objective, workers, Path(folder) / "meet")
        else:
            backend = ProcessBackend(objective, workers, start_method=start_method)
            warm = default_config(SPACE)  # any config: a zero budget costs no sleep
            for i in range(workers):
                backend.submit(Trial(-1 - i, warm, 0.0), Path(folder) / "warmup")
            answered = 0
            while answered < workers:
                answered += len(backend.wait())
        startup = time.perf_counter() - t0
        run_start = time.time()
        summary = run_optimizer(
            optimizer,
            objective,
            Path(folder) / "run",
            workers=workers,
            time_limit=run_seconds,
            backend=backend,
        )
        run_end = time.time()
        backend.close()
        with Store.open(Path(folder) / "run", readonly=True) as store:
            rows = store.evaluations()
            events = store.events()
    asks = [e for e in events if e.kind == "ask" and e.evaluation_id is not None]
    tells = [e for e in events if e.kind == "tell"]
    last_ask = max(row.submitted for row in rows)
    steady = _busy_in(rows, run_start, last_ask) / (workers * (last_ask - run_start))
    end_to_end = _busy_in(rows, run_start, run_end) / (workers * (run_end - run_start))
    reached = [
        row.finished - run_start
        for row in sorted(rows, key=lambda r: r.finished)
        if row.budget >= MAX_BUDGET and row.status == "ok" and row.loss <= target
    ]
    out = {
        "backend": backend_name,
        **extra,
        "workers": workers,
        "startup_s": startup,
        "wall_s": run_end - run_start,
        "evaluations": len(rows),
        "asks": len(asks),
        "tells": len(tells),
        "pending": sum(row.status == "pending" for row in rows),
        "duplicates": len(rows) - len({(row.config_id, row.budget) for row in rows}),
        "busy_s": sum(row.seconds or 0.0 for row in rows),
        "utilisation_steady": steady,
        "utilisation_end_to_end": end_to_end,
        "best_loss": summary.best_loss,
        "time_to_target_s": reached[0] if reached else None,
        "stopped": summary.stopped,
    }
    print(f"  parallel {workers} workers: {out}", flush=True)
    return out


# --- report --------------------------------------------------------------------------------------
def _plots(results: dict[str, Any], folder: Path, stem: str = "simulate") -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if "overhead" in results:
        marks = results["overhead"]["marks"]
        xs = sorted(int(n) for n in marks)
        fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
        for key, label in (("ask_ms", "ask"), ("tell_ms", "tell"), ("store_ms", "store")):
            ax.plot(xs, [marks[n][key] for n in xs], "o-", label=label)
        ax.axhline(10, color="grey", ls=":", lw=1)
        ax.set(xscale="log", xlabel="evaluations told", ylabel="CPU ms per evaluation")
        ax.set_title("optimizer + store overhead", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / f"{stem}_overhead.png")
        plt.close(fig)
        written.append(f"{stem}_overhead.png")
    if "speedup" in results or "parallel" in results:
        fig, (left, right) = plt.subplots(1, 2, figsize=(7.5, 3.2), dpi=100)
        if "speedup" in results:
            rows = results["speedup"]["by_workers"]
            ws = sorted(int(n) for n in rows)
            left.plot(ws, [rows[n]["speedup"] for n in ws], "o-", label="time-to-target (sim)")
            right.plot(ws, [rows[n]["utilisation"] for n in ws], "o-", label="virtual clock")
        if "parallel" in results:
            runs = results["parallel"]
            ws = [run["workers"] for run in runs]
            label = "Ray workers" if runs[0].get("backend") == "ray" else "processes"
            right.plot(ws, [run["utilisation_steady"] for run in runs], "s-", label=label)
            if "speedup" not in results and runs[0]["workers"] == 1:
                speedups = [run["throughput_speedup"] for run in runs]
                left.plot(ws, speedups, "s-", label=f"{label}: throughput")
        ws_all = sorted(
            {
                1,
                *[int(n) for n in results.get("speedup", {}).get("by_workers", {})],
                *[run["workers"] for run in results.get("parallel", [])],
            }
        )
        left.plot(ws_all, ws_all, color="grey", ls=":", lw=1, label="linear")
        left.set(xlabel="workers", ylabel="speed-up over 1 worker")
        right.axhline(0.95, color="grey", ls=":", lw=1)
        right.set(xlabel="workers", ylabel="worker utilisation", ylim=(0.8, 1.01))
        left.legend(fontsize=8)
        right.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / f"{stem}_parallel.png")
        plt.close(fig)
        written.append(f"{stem}_parallel.png")
    return written


def _tables(results: dict[str, Any]) -> str:
    lines = []
    if "overhead" in results:
        o = results["overhead"]
        lines += [
            f"Optimizer overhead ({o['method']}, {o['pending']} trials always pending; CPU ms, "
            "mean of the 100 evaluations before the mark):",
            "",
            "| evaluations | ask | ask p95 | ask max | tell | store writes |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for n, row in sorted(o["marks"].items(), key=lambda item: int(item[0])):
            lines.append(
                f"| {int(n):,} | {row['ask_ms']:.2f} | {row['ask_p95_ms']:.2f} | "
                f"{row['ask_max_ms']:.2f} | {row['tell_ms']:.3f} | {row['store_ms']:.2f} |"
            )
        lines.append("")
    if "store" in results:
        s = results["store"]
        lines += [
            f"Run store with {s['rows']:,} evaluations ({s['mb']:.0f} MB; wall ms, best of 3):",
            "",
            "| status (open + summary) | summary | incumbent | count | evaluations() | configs() "
            "| writes per evaluation |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {s['status_ms']:.1f} | {s['summary_ms']:.1f} | {s['incumbent_ms']:.2f} | "
            f"{s['count_ms']:.1f} | {s['evaluations_ms']:.0f} | {s['configs_ms']:.0f} | "
            f"{s['write_ms_per_evaluation']:.2f} |",
            "",
        ]
    if "speedup" in results:
        sp = results["speedup"]
        lines += [
            f"Time to a max-budget loss <= {sp['target']} on a virtual clock (1 s per budget unit, "
            f"{1000 * sp['overhead_s']:.1f} ms per ask and per tell; median over seeds):",
            "",
            "| workers | median time (s) | speed-up | utilisation | evaluations |",
            "|---:|---:|---:|---:|---:|",
        ]
        for n, row in sorted(sp["by_workers"].items(), key=lambda item: int(item[0])):
            lines.append(
                f"| {n} | {row['median_time']:.0f} | {row['speedup']:.1f}x | "
                f"{100 * row['utilisation']:.1f} % | {row['evaluations']:.0f} |"
            )
        lines.append("")
    if "parallel" in results:
        ray = results["parallel"][0].get("backend") == "ray"
        lines += [
            f"Real {'Ray workers' if ray else 'worker processes'} (utilisation = time in the "
            "objective / (workers x wall), start-up excluded; throughput speed-up = budget "
            "evaluated per second / that of 1 worker):",
            "",
            "| workers | start-up (s) | wall (s) | evaluations | utilisation steady | "
            "end-to-end | throughput speed-up | asks = rows = tells | pending | best loss "
            "| time to target (s) |",
            "|---:|---:|---:|---:|---:|---:|---:|:--:|---:|---:|---:|",
        ]
        for run in results["parallel"]:
            accounted = run["asks"] == run["evaluations"] == run["tells"]
            ttt = run["time_to_target_s"]
            lines.append(
                f"| {run['workers']} | {run['startup_s']:.1f} | {run['wall_s']:.1f} | "
                f"{run['evaluations']} | {100 * run['utilisation_steady']:.1f} % | "
                f"{100 * run['utilisation_end_to_end']:.1f} % | "
                f"{run.get('throughput_speedup', math.nan):.1f}x | "
                f"{'yes' if accounted else 'NO'} | "
                f"{run['pending']} | {run['best_loss']:.4f} | "
                f"{'-' if ttt is None else f'{ttt:.1f}'} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="overhead,store,speedup,parallel")
    parser.add_argument("--method", default="bohb")
    parser.add_argument("--evaluations", type=int, default=10_000)
    parser.add_argument("--pending", type=int, default=32)
    parser.add_argument("--store-rows", type=int, default=100_000)
    parser.add_argument("--workers", default="1,4,16,32")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--target", type=float, default=0.05)
    parser.add_argument("--overhead-ms", type=float, default=None, help="default: measured")
    parser.add_argument("--seconds-per-budget", type=float, default=0.5)
    parser.add_argument("--run-seconds", type=float, default=40.0)
    parser.add_argument("--start-method", default="forkserver", choices=["spawn", "forkserver"])
    parser.add_argument(
        "--backend",
        default="process",
        choices=["process", "ray"],
        help="parallel: local worker processes or a local Ray instance (pip install -e '.[ray]')",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/simulate.json"))
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))
    workers = [int(n) for n in args.workers.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.start_method == "forkserver":  # import the objective's modules once, fork workers
        multiprocessing.get_context("forkserver").set_forkserver_preload(
            ["autocnn.optimize.synthetic", "autocnn.optimize.backends"]
        )
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (nproc "
        f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}), "
        f"Python {platform.python_version()}, numpy {np.__version__}",
        "space": SPACE,
        "budgets": [MIN_BUDGET, MAX_BUDGET],
        "seeds": seeds,
    }
    started = time.perf_counter()
    if "overhead" in sections:
        results["overhead"] = measure_overhead(args.method, args.evaluations, args.pending, 0)
    if "store" in sections:
        results["store"] = measure_store(args.store_rows, 0)
    if "speedup" in sections:
        if args.overhead_ms is not None:
            overhead_s = args.overhead_ms / 1000
        elif "overhead" in results:  # per ask and per tell, plus the store's writes
            o = results["overhead"]
            store_ms = statistics.fmean(row["store_ms"] for row in o["marks"].values())
            overhead_s = (o["mean_ask_ms"] + o["mean_tell_ms"] + store_ms) / 2 / 1000
        else:
            overhead_s = 0.005
        results["speedup"] = measure_speedup(args.method, workers, seeds, args.target, overhead_s)
    if "parallel" in sections:
        results["parallel"] = [
            measure_parallel(
                args.method,
                n,
                args.seconds_per_budget,
                args.run_seconds,
                seeds[0],
                args.start_method,
                args.target,
                args.backend,
            )
            for n in workers
        ]
        runs = results["parallel"]
        if runs[0]["workers"] == 1:  # speed-up of throughput: busy seconds per wall second
            base = runs[0]["busy_s"] / runs[0]["wall_s"]
            for run in runs:
                run["throughput_speedup"] = run["busy_s"] / run["wall_s"] / base
    results["seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str))
    results["plots"] = _plots(results, args.out.parent, args.out.stem)
    print()
    print(_tables(results))
    print(f"wrote {args.out} and {results['plots']} in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
