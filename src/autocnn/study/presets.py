"""Budget presets of ``autocnn study``: how much searching and training each stage gets.

========  ===  ==========  ==========  ==========  ============  =====  =========================
preset    eta  min budget  max budget  iterations  final epochs  seeds  fine-tune (freeze, lr x)
========  ===  ==========  ==========  ==========  ============  =====  =========================
smoke     3    1/3         1           1           1             2      2 epochs (1, 0.1)
small     3    1           9           2           9             2      9 epochs (1, 0.1)
paper     3    1           9           4           9             3      9 epochs (1, 0.1)
========  ===  ==========  ==========  ==========  ============  =====  =========================

Budgets are epochs. ``paper`` is the seed study's BOHB setting (eta 3, budgets 1..9 epochs, 4
Hyperband iterations) for every search; ``small`` halves the iterations and the seeds (about
half an hour with the local KMNIST-10k datasets on 2 cores, an estimate: it was not timed);
``smoke`` checks the whole pipeline in a minute or two on tiny data.

Example::

    PRESETS["paper"].iterations   # 4
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
    iterations: int
    final_epochs: float
    seeds: int
    finetune_epochs: float
    freeze_epochs: int
    backbone_lr_factor: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "smoke": Preset("smoke", 3, 1 / 3, 1.0, 1, 1.0, 2, 2.0, 1, 0.1),
    "small": Preset("small", 3, 1.0, 9.0, 2, 9.0, 2, 9.0, 1, 0.1),
    "paper": Preset("paper", 3, 1.0, 9.0, 4, 9.0, 3, 9.0, 1, 0.1),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
