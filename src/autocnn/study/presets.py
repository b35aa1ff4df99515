"""Budget presets of ``autocnn study``: how much searching and training each stage gets.

======  ===  ======  ===============================  ======  =====  =========
preset  eta  budget  each search                      final   seeds  fine-tune
======  ===  ======  ===============================  ======  =====  =========
smoke   3    1/3-1   1 Hyperband iteration            1 ep    2      2 ep
small   3    1-9     source 10 min, destination 6     9 ep    3      9 ep
paper   3    1-9     4 Hyperband iterations           9 ep    3      9 ep
======  ===  ======  ===============================  ======  =====  =========

Budgets are epochs; fine-tuning freezes the copied layers for 1 epoch and trains them at 0.1 x the
learning rate. ``paper`` is the seed study's BOHB setting (eta 3, budgets 1..9 epochs, 4
Hyperband iterations) for every search. ``small`` gives each search a wall-clock budget instead
(as many brackets as fit; evaluations running at the limit finish): BOHB on the source 10
minutes, configuration transfer and BOHB from scratch on the destination 6 minutes each, so the
whole study takes about half an hour on 2 cores with the local KMNIST-10k datasets (29.5 min,
BENCHMARKS.md section 8); a resumed search gets what is left of its budget. ``smoke`` checks the
whole pipeline in a minute or two on tiny data.

Example::

    PRESETS["paper"].iterations   # 4
    PRESETS["small"].search_seconds("bohb-source")   # 600.0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from autocnn.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """Budgets of every stage of a study."""

    name: str
    eta: float
    min_budget: float
    max_budget: float
    iterations: int | None  # Hyperband iterations per search; None: until the time budget
    final_epochs: float
    seeds: int
    finetune_epochs: float
    freeze_epochs: int
    backbone_lr_factor: float
    source_search_seconds: float | None = None  # wall-clock budget of BOHB on the source
    dest_search_seconds: float | None = None  # ... of each search on the destination

    def search_seconds(self, stage: str) -> float | None:
        """The wall-clock budget of a search stage (None: bounded by ``iterations`` only)."""
        return self.source_search_seconds if stage.endswith("source") else self.dest_search_seconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "smoke": Preset("smoke", 3, 1 / 3, 1.0, 1, 1.0, 2, 2.0, 1, 0.1),
    "small": Preset("small", 3, 1.0, 9.0, None, 9.0, 3, 9.0, 1, 0.1, 600.0, 360.0),
    "paper": Preset("paper", 3, 1.0, 9.0, 4, 9.0, 3, 9.0, 1, 0.1),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
