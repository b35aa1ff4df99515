"""Training speed against input size: what ``autocnn.fit.resolution``'s pixel-ratio model assumes.

Probes the space's default (as ``fit`` does: one thread, 12 steps after a 2-step warm-up, the
training precision) on ``resize:SIDE:DATASET`` for each ``--sides``, ``--repeats`` times, and
prints per side the median images/s, the ratio to the smallest side's speed, and the ratio the
pixel model predicts (pixels of the smallest side / pixels of this side). The sets larger than
the images are kmnist10k's 28 x 28 images scaled up (``resize:96:kmnist10k``): the same content
at more pixels, which is what the cost depends on.

Example::

    python benchmarks/image_size.py --data-dir ../shared/data/kmnist --sides 32,48,64,96,128
"""

from __future__ import annotations

import argparse
import json
import statistics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="kmnist10k")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--space", default="extended")
    parser.add_argument("--sides", default="32,48,64,96,128")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    from autocnn import data, space
    from autocnn.fit.probe import probe_speed

    config = space.default_config(args.space)
    sides = sorted(int(s) for s in args.sides.split(","))
    rows = []
    for side in sides:
        images = data.load(f"resize:{side}:{args.dataset}", "train", data_dir=args.data_dir)
        probes = [probe_speed(config, images, threads=1) for _ in range(args.repeats)]
        speeds = [p.img_per_s for p in probes]
        rows.append({"side": side, "shape": list(images.input_shape), "img_per_s": speeds,
                     "median": statistics.median(speeds), "precision": probes[0].precision,
                     "probe_seconds": statistics.median(p.seconds for p in probes)})  # fmt: skip
    base = rows[0]
    print(f"| side | images/s, one thread (median of {args.repeats}) | speed / smallest's "
          "| pixel model |")  # fmt: skip
    print("|---|---|---|---|")
    for row in rows:
        measured = row["median"] / base["median"]
        model = (base["side"] / row["side"]) ** 2
        runs = ", ".join(f"{s:,.0f}" for s in row["img_per_s"])
        print(f"| {row['side']} | {row['median']:,.0f} ({runs}) | {measured:.3f} | {model:.3f} |")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
