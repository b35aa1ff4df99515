"""A fit's folder and its clock.

::

    OUT/
      fit.json        the plan, each stage's outcome and timings, the summary (also while running)
      clock.json      the budget already spent, saved every few seconds (what a resume has left)
      search/         the search's run folder (autocnn status / report work on it)
      final/          the final evaluation: metrics.json (test metrics), models/seed-<s>.pt
                      (one per net of the final ensemble: autocnn predict OUT IMAGES.npz
                      averages them all, the model the summary tests), test_predictions.npz
                      (each net's and the ensemble's test labels)
      model.pt        the final ensemble's first net alone (a checkpoint for transfer weights)
      export/         the final model as TorchScript and ONNX (an ensemble as one model)
      report/         report.html and its figures
      baseline/       with --baseline: the space's default trained for the whole budget
                      (tested like final/; fit.json compares the two image by image)

The clock counts wall time across sessions: a fit killed and resumed keeps the time it had
left, less at most :data:`SAVE_EVERY` seconds lost with the kill.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocnn.artifacts import write_json
from autocnn.errors import RunError
from autocnn.final.predict import FINAL_SUBFOLDER
from autocnn.optimize.folder import RunFolder

SAVE_EVERY = 5.0  # seconds between saves of the spent budget


@dataclass(frozen=True)
class FitFolder:
    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def fit_file(self) -> Path:
        return self.path / "fit.json"

    @property
    def clock_file(self) -> Path:
        return self.path / "clock.json"

    @property
    def search(self) -> RunFolder:
        return RunFolder(self.path / "search")

    @property
    def final(self) -> Path:
        return self.path / FINAL_SUBFOLDER

    @property
    def baseline(self) -> Path:
        return self.path / "baseline"

    @property
    def model(self) -> Path:
        return self.path / "model.pt"

    @property
    def export(self) -> Path:
        return self.path / "export"

    @property
    def report(self) -> Path:
        return self.path / "report"

    def exists(self) -> bool:
        return self.fit_file.is_file()

    def read(self) -> dict[str, Any]:
        if not self.exists():
            raise RunError(f"cannot resume {self.path}: it holds no fit (fit.json is missing)")
        try:
            return json.loads(self.fit_file.read_text())
        except (OSError, ValueError) as error:
            raise RunError(f"{self.fit_file} is unreadable ({error}); start a new --out") from None

    def write(self, state: dict[str, Any]) -> None:
        write_json(self.fit_file, state)

    def spent(self) -> float:
        """Seconds of the budget used by earlier sessions (0 for a new fit)."""
        try:
            return float(json.loads(self.clock_file.read_text())["spent"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0.0


class BudgetClock:
    """Seconds spent of a fit's budget, this session's included; saved in the background.

    ``now`` is injectable (tests); the saver thread only writes, so a frozen test clock is fine.
    """

    def __init__(
        self,
        folder: FitFolder | None,
        spent_before: float = 0.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder, self.spent_before, self.now = folder, spent_before, now
        self.started = now()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def elapsed(self) -> float:
        return self.spent_before + (self.now() - self.started)

    def save(self) -> None:
        if self.folder is not None and self.folder.path.is_dir():
            write_json(self.folder.clock_file, {"spent": self.elapsed()})

    def __enter__(self) -> BudgetClock:
        def loop() -> None:
            while not self._stop.wait(SAVE_EVERY):
                self.save()

        self._thread = threading.Thread(target=loop, name="fit-clock", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.save()
