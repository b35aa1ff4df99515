"""A run folder's layout, in one place: nobody else spells these file names.

::

    RUN/
      run.db           SQLite store: settings, every config and evaluation (optimize.store)
      run.lock         who owns the run while it writes (optimize.lock)
      space.json       the searched ConfigSpace (JSON)
      incumbent.json   the best config at the end of a call (full config, also for transfer)
      transfer.json    configuration transfer only: source, fixed and searched values
      trials/00042/    one folder per config: its checkpoints, budget-3.pt, budget-0.5.pt
      ...              and whatever the command that owns the folder adds (fit: its summary)

Example:
    >>> folder = RunFolder("runs/a")
    >>> folder.checkpoint(42, 3.0).as_posix()
    'runs/a/trials/00042/budget-3.pt'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocnn.errors import RunError

STORE_NAME = "run.db"
LOCK_NAME = "run.lock"  # optimize.lock: the owner of a run (also of a fit folder)


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    # --------------------------------------------------------------------------- file names
    @property
    def db(self) -> Path:
        return self.path / STORE_NAME

    @property
    def space_file(self) -> Path:
        return self.path / "space.json"

    @property
    def incumbent_file(self) -> Path:
        return self.path / "incumbent.json"

    @property
    def transfer_file(self) -> Path:
        return self.path / "transfer.json"

    @property
    def trials(self) -> Path:
        return self.path / "trials"

    def trial_dir(self, config_id: int) -> Path:
        """Where a config's evaluations keep their checkpoints: ``trials/00042``."""
        return self.trials / f"{config_id:05d}"

    def checkpoint(self, config_id: int, budget: float) -> Path:
        return checkpoint_path(self.trial_dir(config_id), budget)

    # --------------------------------------------------------------------------- contents
    def exists(self) -> bool:
        """Whether the folder holds a run (its database)."""
        return self.db.is_file()

    def require(self, doing: str = "use") -> RunFolder:
        """This folder, or a RunError saying it holds no run."""
        if not self.exists():
            raise RunError(f"cannot {doing} {self.path}: it holds no run ({STORE_NAME} is missing)")
        return self

    def write_incumbent(self, incumbent: Any, config: dict[str, Any], **extra: Any) -> None:
        """``incumbent.json``: the full ``config`` of a store ``Incumbent`` (plus ``extra``)."""
        from autocnn.artifacts import write_json

        write_json(
            self.incumbent_file,
            {
                "config_id": incumbent.config_id,
                "budget": incumbent.budget,
                "loss": incumbent.loss,
                "config": config,
                **extra,
            },
        )


def checkpoint_path(workdir: Path, budget: float) -> Path:
    """Where the model trained up to ``budget`` is kept (``budget-3.pt``, ``budget-0.5.pt``)."""
    return Path(workdir) / f"budget-{budget:g}.pt"
