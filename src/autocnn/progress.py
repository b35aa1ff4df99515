"""Live progress of a run in the terminal (rich): bracket, evaluations done/total, best, ETA.

Fed by the runner's ``on_event(kind, payload)`` hook; knows nothing about the optimizer itself.
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class RunProgress:
    """A context manager whose :meth:`on_event` updates one live progress line.

    Example::

        with RunProgress() as progress:
            api.optimize("kmnist10k", out="runs/a", on_event=progress.on_event)
    """

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not enabled,
        )
        self._task = None

    def __enter__(self) -> RunProgress:
        return self  # the live line starts with the run: an error before it prints alone

    def __exit__(self, *exc: Any) -> None:
        if self._task is not None:
            self._progress.__exit__(*exc)

    def on_event(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "warning":
            self.console.print(f"[yellow]warning:[/] {payload['message']}")
        elif kind == "note":
            self.console.print(payload["message"])
        elif kind == "start":
            if self._task is None:
                self._progress.__enter__()
            self._task = self._progress.add_task(
                "resumed" if payload.get("resumed") else "optimizing",
                total=payload.get("total"),
                completed=payload.get("done", 0),
                status="",
            )
            if payload.get("resubmitted"):
                self.console.print(
                    f"re-running {payload['resubmitted']} evaluations that were "
                    "pending when the run stopped"
                )
        elif kind == "result" and self._task is not None:
            trial, result = payload["trial"], payload["result"]
            best = payload.get("best")
            best_text = "-" if best is None or not math.isfinite(best) else f"{best:.4f}"
            self._progress.update(
                self._task,
                completed=payload["done"],
                total=payload.get("total"),
                description=f"bracket {payload['bracket']}",
                status=f"best {best_text}  running {payload.get('running', 0)}  "
                f"ETA {format_seconds(payload.get('eta'))}",
            )
            if not result.ok and self.enabled:
                reason = (result.error or result.status).splitlines()[0][:120]
                self.console.print(
                    f"config {trial.config_id} @ {trial.budget:g}: {result.status} ({reason})"
                )
