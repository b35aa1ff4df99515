"""Worker start-up: seconds until N ProcessBackend workers have each finished one evaluation.

Each worker evaluates one trivial trial that touches torch (a 1x1 convolution on a small batch,
so torch is imported and its thread pool used), so the time covers process start, imports and
the first torch call, not training. One start method per interpreter (a process has one fork
server), so each measurement runs in a fresh ``python`` (this script re-runs itself):

    python benchmarks/worker_start.py --workers 1,4,8 --methods spawn,forkserver --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autocnn.optimize.backends import ProcessBackend, default_start_method
from autocnn.optimize.trial import Result, Trial


class TouchTorch:
    """A trivial objective: import torch, run one small convolution, report the thread count."""

    def __call__(self, trial: Trial, workdir: Path) -> Result:
        import torch

        x = torch.ones(8, 3, 16, 16)
        loss = float(torch.nn.functional.conv2d(x, torch.ones(4, 3, 1, 1)).mean())
        return Result("ok", loss=loss, metrics={"threads": torch.get_num_threads()})


def measure(method: str, workers: int) -> dict:
    """One start-up: construct the backend, submit one trial per worker, wait for all."""
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as tmp,
        ProcessBackend(TouchTorch(), workers, start_method=method, threads_per_worker=1) as backend,
    ):
        for i in range(workers):
            backend.submit(Trial(i, {}, 1.0), Path(tmp) / str(i))
        results = []
        while len(results) < workers:
            results += backend.wait()
        seconds = time.perf_counter() - started
    assert all(r.status == "ok" for _, r in results), results
    return {"method": method, "workers": workers, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--methods", default=f"spawn,{default_start_method()}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", help="internal: METHOD,WORKERS measured in this process")
    args = parser.parse_args(argv)
    if args.one:
        method, workers = args.one.split(",")
        print(json.dumps(measure(method, int(workers))))
        return 0
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        for method in dict.fromkeys(args.methods.split(",")):
            times = []
            for _ in range(args.repeats):
                out = subprocess.run(
                    [sys.executable, __file__, "--one", f"{method},{workers}"],
                    check=True, capture_output=True, text=True,
                ).stdout  # fmt: skip
                times.append(json.loads(out.strip().splitlines()[-1])["seconds"])
            rows.append({"method": method, "workers": workers, "seconds": times})
            print(
                f"{method:>10} {workers:>3} workers: median {statistics.median(times):.2f} s "
                f"({', '.join(f'{t:.2f}' for t in times)})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
