"""The input size a fit trains on: the images' own, unless the budget cannot train at that size.

A convolution's cost grows with the pixels it sees, so photos at full size can leave a budget a
handful of epochs, where the same images at a quarter of the pixels would train to convergence.
:func:`choose_size` is a pure function of the images' size, the dataset, the budget and one
measured speed; ``fit`` applies its answer by training on ``resize:SIDE:NAME``
(:mod:`autocnn.data.resize`), so the search, the final training, the test and ``predict``
all see the same scaled images. ``fit --image-size N`` fixes the size instead.

The policy, and the measurements behind it (2-core x86 box, BENCHMARKS §14):

- **Candidates**: the images' own longer side, then each of :data:`CANDIDATE_SIDES` below it
  (a set of 28-pixel images has one candidate: nothing to decide). Above :data:`LARGEST_AUTO_SIDE`
  pixels the images' own size is not a candidate: measured, the extended default trains 45
  img/s per thread at 128 x 128 (1,576 at 28 x 28), under 240,000 images in an hour on 2 cores.
- **Speed at a candidate**: the speed measured at the smallest candidate (one probe of about a
  second) times (its pixels / the candidate's pixels) ** :data:`PIXEL_EXPONENT`. Convolution
  FLOPs grow with the pixels, the time a little faster (larger activations leave the caches):
  measured for the extended default, one thread, 32 -> 48 / 64 / 96 / 128 pixels, the speed fell
  2.27x / 4.98x / 14.2x / 25.9x where the pixels grew 2.25x / 4x / 9x / 16x: exponents of 1.01 /
  1.16 / 1.21 / 1.17 (BENCHMARKS §14), so 1.2, on the safe side; with 1.0 the plan would
  over-predict the 96-pixel speed 1.6x.
- **Enough training**: the largest candidate whose final training (the plan's final seconds at
  that speed, one thread's speed: the final's threads only add to it) trains at least
  :data:`ENOUGH_EPOCHS` epochs or :data:`ENOUGH_IMAGES` images, whichever is fewer. On
  kmnist10k the default at 20-23 epochs scored 98.55 %, at 26-33 epochs 98.87 % (§7), and its
  curve flattens after; on large sets fewer epochs suffice (the 64,000-image set reached 99.0 %
  with 14). If no candidate trains enough, the smallest. On a set whose detail matters
  (kmnist characters unscaled on 96 x 96 canvases, §14) the rule chose 32 px at 5 minutes
  (95.65 % against 93.80 % at 48 px, 3 seeds; 64 px 64.6 %, one) and 48 px at 10 minutes
  (96.62 % against 95.22 % at 32 px, 3 seeds); on upscaled images, where a larger size only
  costs, 48 px at 10 minutes scored below 32 px (one seed): the bar may be low for such sets.

Example:
    >>> choice = choose_size((96, 96), n_train=8000, n_val=2000, total_seconds=300,
    ...                      spent=2, img_per_s_at_smallest=1200, cpus=2)
    >>> choice.side, choice.hw
    (32, (32, 32))
    >>> choose_size((28, 28), n_train=8000, n_val=2000, total_seconds=300, spent=2,
    ...             img_per_s_at_smallest=1500, cpus=2).side is None
    True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from autocnn.data.resize import scaled_shape
from autocnn.fit.plan import Speeds, make_plan

CANDIDATE_SIDES = (128, 96, 64, 48, 32)
LARGEST_AUTO_SIDE = CANDIDATE_SIDES[0]
PIXEL_EXPONENT = 1.2  # speed ~ pixels ** -1.2 (module docstring)
ENOUGH_EPOCHS = 30
ENOUGH_IMAGES = 240_000  # 30 epochs of kmnist10k's 8,000 training images


@dataclass(frozen=True)
class SizeChoice:
    """What a fit trains on: ``side`` None keeps the images' own size ``original``."""

    original: tuple[int, int]  # (height, width) of the dataset's images
    side: int | None  # the longer side trained on, when the images are scaled
    hw: tuple[int, int]  # (height, width) trained on
    reason: str
    # each candidate side's predicted training images in the final training (empty: not chosen)
    # and what a final training should see: the numbers the choice came from
    predicted: dict[int, float] = dataclasses.field(default_factory=dict)
    enough_images: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """As stored in ``fit.json`` (JSON's shapes: lists, ``predicted`` as [side, images])."""
        return {**dataclasses.asdict(self), "original": list(self.original), "hw": list(self.hw),
                "predicted": [[side, n] for side, n in self.predicted.items()]}  # fmt: skip

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> SizeChoice:
        predicted = {int(side): images for side, images in stored.get("predicted", [])}
        return cls(**{**stored, "original": tuple(stored["original"]), "hw": tuple(stored["hw"]),
                      "predicted": predicted})  # fmt: skip

    def dataset(self, name: str) -> str:
        """The dataset name a fit trains on: ``name`` itself, or ``resize:SIDE:name``."""
        return name if self.side is None else f"resize:{self.side}:{name}"


def candidate_sides(hw: tuple[int, int]) -> list[int]:
    """The longer sides a fit may train on, largest first.

    >>> candidate_sides((28, 28)), candidate_sides((64, 48)), candidate_sides((500, 375))
    ([28], [64, 48, 32], [128, 96, 64, 48, 32])
    """
    own = max(hw)
    below = [s for s in CANDIDATE_SIDES if s < own]
    return below if own > LARGEST_AUTO_SIDE else [own, *below]


def enough_images(n_train: int) -> float:
    """Training images a final training should see: ENOUGH_EPOCHS epochs or ENOUGH_IMAGES."""
    return float(min(ENOUGH_EPOCHS * n_train, ENOUGH_IMAGES))


def choose_size(
    hw: tuple[int, int],
    *,
    n_train: int,
    n_val: int,
    total_seconds: float,
    spent: float,
    img_per_s_at_smallest: float,
    cpus: int,
) -> SizeChoice:
    """The input size for a fit (see the module docstring); ``img_per_s_at_smallest``: one
    worker's measured speed at the smallest candidate."""
    sides = candidate_sides(hw)
    smallest = scaled_shape(hw, sides[-1])
    need = enough_images(n_train)
    predicted = []
    for side in sides:
        shape = scaled_shape(hw, side)
        pixels = (smallest[0] * smallest[1]) / (shape[0] * shape[1])
        speed = img_per_s_at_smallest * pixels**PIXEL_EXPONENT
        plan = make_plan(total_seconds, n_train=n_train, n_val=n_val,
                         speeds=Speeds(worker_img_s=speed, cpus=cpus), spent=spent)  # fmt: skip
        predicted.append((side, shape, plan.final_seconds * speed))
    enough = [p for p in predicted if p[2] >= need]
    side, shape, images = enough[0] if enough else predicted[-1]
    need_epochs = need / max(1, n_train)
    if len(sides) == 1:
        reason = "the images' own size: no smaller size to choose from"
    elif images >= need:
        reason = (f"the largest size at which the final training sees {need_epochs:.0f} epochs "
                  f"or more (predicted {images / max(1, n_train):.0f})")  # fmt: skip
    else:
        reason = f"the smallest size: none leaves the final training {need_epochs:.0f} epochs"
    keep = side == max(hw)
    return SizeChoice(tuple(hw), None if keep else side, tuple(hw) if keep else shape, reason,
                      {s: n for s, _, n in predicted}, need)  # fmt: skip


def fixed_size(hw: tuple[int, int], side: int) -> SizeChoice:
    """The size a user fixed (``fit --image-size SIDE``).

    >>> fixed_size((96, 64), 48).hw, fixed_size((28, 28), 28).side is None
    ((48, 32), True)
    """
    keep = side == max(hw)
    shape = tuple(hw) if keep else scaled_shape(hw, side)
    return SizeChoice(tuple(hw), None if keep else side, shape, f"--image-size {side}")
