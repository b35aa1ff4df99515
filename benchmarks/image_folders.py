"""Your own images as ``dir:FOLDER``: how long a folder of PNGs takes to load, and that it loads
exactly the images it was written from.

Writes kmnist10k (or ``--dataset``) as one PNG per image in ``OUT/train/<class>/`` and
``OUT/test/<class>/`` (the layout ``dir:`` reads; class folders ``class-0`` ... so that the sorted
order is the label order), then loads ``dir:OUT``'s train part ``--repeats`` times with a cold
per-process cache (median and every run printed), and checks that each class holds exactly the
original's images (as a multiset: the folder order differs from the file order). Then fit it
like any set, e.g. ``autocnn fit dir:OUT --time 5m --out FIT``.

Example::

    python benchmarks/image_folders.py --data-dir ../shared/data/kmnist --out /tmp/k10k-png
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def write_folders(dataset: str, data_dir: str | None, out: Path) -> None:
    """Every image of ``dataset`` as ``out/<part>/class-<label>/<index>.png``."""
    from PIL import Image

    from autocnn import data

    for part in ("train", "test"):
        images = data.load(dataset, part, data_dir=data_dir)
        for i, (x, y) in enumerate(zip(images.x.numpy(), images.y.numpy(), strict=True)):
            folder = out / part / f"class-{y}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0)).save(
                folder / f"{i:06d}.png"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="kmnist10k")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", required=True, help="folder to write (kept if it exists)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from autocnn import data

    out = Path(args.out)
    if not out.exists():
        started = time.perf_counter()
        write_folders(args.dataset, args.data_dir, out)
        print(f"wrote {out} in {time.perf_counter() - started:.1f} s")
    times = []
    for _ in range(args.repeats):
        data.clear_cache()
        started = time.perf_counter()
        loaded = data.load(f"dir:{out}", "train")
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    data.load(f"dir:{out}", "train")
    cached = time.perf_counter() - started
    original = data.load(args.dataset, "train", data_dir=args.data_dir)
    same = all(
        sorted(map(bytes, loaded.x[loaded.y == c].numpy()))
        == sorted(map(bytes, original.x[original.y == c].numpy()))
        for c in range(original.n_classes)
    )
    print(
        f"dir:{out} train part: {len(loaded)} PNG files, {loaded.input_shape} (C, H, W), "
        f"{loaded.n_classes} classes; load median {statistics.median(times):.2f} s "
        f"({len(loaded) / statistics.median(times):,.0f} images/s; runs "
        f"{', '.join(f'{t:.2f}' for t in times)}), cached call {1000 * cached:.1f} ms; "
        f"the same images per class as {args.dataset}: {same}"
    )


if __name__ == "__main__":
    main()
