"""A large-image set whose detail matters: each kmnist10k character, at its own 28 x 28 pixels,
pasted at a random place on a black SIDE x SIDE canvas.

``resize:96:kmnist10k`` scales the characters up with the canvas: scaling it down again loses
nothing, so it cannot show what a smaller input size costs. Here the character stays small, as
an object does in a photo, and scaling the canvas to 32 x 32 shrinks a character to ~9 pixels:
a fit's input size then trades detail against training time (``autocnn.fit.resolution``).
Writes one npz (``x_train``, ``y_train``, ``x_test``, ``y_test``; uint8, N x SIDE x SIDE) that
every command reads as ``npz:FILE``; the places are drawn from ``--seed``.

Example::

    python benchmarks/small_objects.py --data-dir ../shared/data/kmnist --side 96 \
        --out objects96.npz
    autocnn fit npz:objects96.npz --time 5m --image-size 48 --out fits/objects48
"""

from __future__ import annotations

import argparse

import numpy as np


def place(images: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """``images`` (N, h, w) pasted at uniform random places on black (N, side, side) canvases.

    Example:
        >>> out = place(np.full((2, 3, 3), 255, np.uint8), 8, np.random.default_rng(0))
        >>> out.shape, int(out.sum() // 255)
        ((2, 8, 8), 18)
    """
    n, h, w = images.shape
    if side < max(h, w):
        raise SystemExit(f"--side {side} is smaller than the images ({h} x {w})")
    canvas = np.zeros((n, side, side), np.uint8)
    rows = rng.integers(0, side - h + 1, n)
    cols = rng.integers(0, side - w + 1, n)
    for k in range(n):
        canvas[k, rows[k] : rows[k] + h, cols[k] : cols[k] + w] = images[k]
    return canvas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="kmnist10k")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--side", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="the npz file to write")
    args = parser.parse_args(argv)

    from autocnn import data

    rng = np.random.default_rng(args.seed)
    arrays = {}
    for part in ("train", "test"):
        images = data.load(args.dataset, part, data_dir=args.data_dir)
        if images.x.shape[1] != 1:
            raise SystemExit(f"{args.dataset}: one-channel images only")
        arrays[f"x_{part}"] = place(images.x[:, 0].numpy(), args.side, rng)
        arrays[f"y_{part}"] = images.y.numpy()
    np.savez_compressed(args.out, **arrays)
    shapes = {k: v.shape for k, v in arrays.items()}
    print(f"wrote {args.out}: {shapes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
