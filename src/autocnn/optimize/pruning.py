"""Free the disk during a search: delete the checkpoints of configs that can never be promoted.

Successive halving keeps a config's checkpoint so that a promotion continues its training; once
its bracket has promoted past it, the files are dead weight (a 100k-evaluation run would keep
every one otherwise). The runner calls :meth:`CheckpointPruner.prune` after each result.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from autocnn.optimize.folder import RunFolder
from autocnn.optimize.protocol import Optimizer
from autocnn.optimize.store import Incumbent
from autocnn.optimize.trial import Trial


class CheckpointPruner:
    """Deletes the trial folders (checkpoints) of configs that can no longer be promoted.

    Which configs can still be promoted is the optimizer's knowledge
    (``promotable_config_ids()``); when it cannot tell (None) nothing is deleted. Running configs
    and the incumbent are always kept.
    """

    def __init__(self, optimizer: Optimizer, run_dir: Path) -> None:
        self.optimizer, self.folder = optimizer, RunFolder(run_dir)
        self.alive: dict[int, None] = {}  # configs with files that may still be deleted, in order

    def asked(self, trial: Trial) -> None:
        self.alive[trial.config_id] = None

    def adopt(self, trials: Path) -> None:
        """Every config with a folder in ``trials`` (a resume from a snapshot, which does not
        replay the asks of the configs before it)."""
        names = sorted(p.name for p in trials.iterdir()) if trials.is_dir() else []
        for name in names:
            if name.isdigit():
                self.alive[int(name)] = None

    def prune(self, incumbent: Incumbent | None, running: set[int]) -> list[int]:
        promotable = self.optimizer.promotable_config_ids()
        if promotable is None:
            return []  # the optimizer cannot tell: keep the files
        keep = set(running) | set(promotable)
        if incumbent is not None:
            keep.add(incumbent.config_id)
        dead = []
        for config_id in list(self.alive):  # not every config ever asked: that grows with the run
            if config_id in keep:
                continue
            shutil.rmtree(self.folder.trial_dir(config_id), ignore_errors=True)
            del self.alive[config_id]
            dead.append(config_id)
        return dead
