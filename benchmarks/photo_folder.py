"""A folder of large photos: the memory and time to read it the way a fit and its workers do.

Writes ``--n`` of kmnist10k's training images (the first in file order, all classes), scaled up
to ``--side`` x ``--side`` RGB JPEGs (quality 90), in ``OUT/<class>/`` (no test part: a fit
holds 15 % out), unless ``OUT`` holds them already. Then, each in a fresh process, measures
the peak resident memory (``ru_maxrss``) and wall time of

- ``worker``: ``load("resize:32:holdout:dir:OUT", "train")``, what each search worker reads;
- ``fit``: ``autocnn.api.fit("dir:OUT", time="10m", dry_run=True)``, which reads the folder,
  chooses the input size (one probe) and plans.

Run it against older code with ``PYTHONPATH=OLD/src``: it uses the public API only.

Example::

    python benchmarks/photo_folder.py --data-dir ../shared/data/kmnist --out /tmp/photos \\
        --n 2000 --side 1024
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

MEASURE = """
import json, resource, sys, time
from autocnn import api, data
what, folder = sys.argv[1], sys.argv[2]
started = time.perf_counter()
if what == "worker":
    shape = list(data.load(f"resize:32:holdout:dir:{folder}", "train").x.shape)
else:
    state = api.fit(f"dir:{folder}", time="10m", out=folder + "-fit", dry_run=True,
                    log=lambda line: None)
    shape = state["input_size"]["hw"]
print(json.dumps({"what": what, "seconds": time.perf_counter() - started, "shape": shape,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_photos(n: int, side: int, data_dir: str | None, out: Path) -> None:
    from PIL import Image

    from autocnn import data

    images = data.load("kmnist10k", "train", data_dir=data_dir)
    for i in range(n):
        folder = out / f"class-{int(images.y[i])}"
        folder.mkdir(parents=True, exist_ok=True)
        small = Image.fromarray(images.x[i, 0].numpy()).convert("RGB")
        small.resize((side, side), Image.Resampling.BILINEAR).save(folder / f"{i:05d}.jpg",
                                                                     quality=90)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--side", type=int, default=1024)
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        write_photos(args.n, args.side, args.data_dir, args.out)
    rows = []
    for what in ("worker", "fit"):
        done = subprocess.run([sys.executable, "-c", MEASURE, what, str(args.out)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            rows.append({"what": what, "error": done.stderr.strip().splitlines()[-1]})
        else:
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{args.n} photos of {args.side} x {args.side} RGB in {args.out}")
    print("| read | peak memory | wall time | shape |")
    print("|---|---|---|---|")
    for row in rows:
        if "error" in row:
            print(f"| {row['what']} | failed: {row['error']} | | |")
        else:
            print(f"| {row['what']} | {row['peak_mib']:,.0f} MiB | {row['seconds']:.1f} s "
                  f"| {row['shape']} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
