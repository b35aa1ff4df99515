"""Successive-halving bookkeeping of one Hyperband bracket, apart from how configs are chosen.

:class:`~autocnn.optimize.bohb.BOHB` keeps its open brackets as :class:`BracketRun` s: which
configs a bracket holds, their losses per budget, which stage it is at, which promoted configs
wait to be handed out and which are running. New configs come from a ``sample`` callback (the
model or the prior); a bracket itself draws no random numbers. Its :meth:`BracketRun.state` is
plain data (a snapshot of the optimizer, :mod:`autocnn.optimize.snapshot`).

Example:
    >>> import numpy as np
    >>> from autocnn.optimize.schedule import Bracket
    >>> run = BracketRun(Bracket(index=0, n_configs=[2, 1], budgets=[1.0, 3.0]))
    >>> trial, entry = run.next_trial(lambda: Entry(0, {"x": 0.5}, np.array([0.5]), False))
    >>> trial.budget, run.n_left()
    (1.0, 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autocnn.optimize.schedule import Bracket
from autocnn.optimize.snapshot import SnapshotError, decode, encode
from autocnn.optimize.trial import Trial


@dataclass
class Entry:
    """One config inside a bracket, with its loss at each budget told so far."""

    config_id: int
    config: dict[str, Any]
    vector: np.ndarray
    model_based: bool
    losses: dict[float, float] = field(default_factory=dict)


class BracketRun:
    """Successive halving over one :class:`Bracket`; new configs are sampled only when asked."""

    def __init__(self, bracket: Bracket) -> None:
        self.bracket = bracket
        self.stage = 0
        self.entries: list[Entry] = []  # the configs of the current stage
        self.queue: list[Entry] = []  # promoted configs not yet handed out
        self.running: set[int] = set()
        self.n_sampled = 0
        self.done = False

    @property
    def budget(self) -> float:
        return self.bracket.budgets[self.stage]

    def next_trial(self, sample: Callable[[], Entry]) -> tuple[Trial, Entry] | None:
        """The next evaluation of this bracket, or None (waiting on running ones, or done)."""
        while not self.done:
            if self.stage == 0 and self.n_sampled < self.bracket.n_configs[0]:
                entry = sample()
                self.n_sampled += 1
                self.entries.append(entry)
                return self._start(entry, previous_budget=None), entry
            if self.queue:
                entry = self.queue.pop(0)
                previous = self.bracket.budgets[self.stage - 1]
                return self._start(entry, previous_budget=previous), entry
            if self.running:
                return None
            self._advance()
        return None

    def n_left(self) -> int:
        """Evaluations this bracket will still hand out: at most its plan, fewer where configs
        failed (a failed config is never promoted)."""
        if self.done:
            return 0
        n_configs = self.bracket.n_configs
        unsampled = n_configs[0] - self.n_sampled if self.stage == 0 else 0
        # configs of this stage that may still be promoted: all but the ones that failed here
        alive = unsampled + sum(math.isfinite(e.losses.get(self.budget, 0.0)) for e in self.entries)
        left = unsampled + len(self.queue)
        for n in n_configs[self.stage + 1 :]:
            alive = min(n, alive)
            left += alive
        return left

    def promotable(self) -> list[int]:
        """Configs a later evaluation of this bracket may continue: the current stage's, except
        those that failed there, and except those done at the last stage."""
        if self.done:
            return []
        last = self.stage + 1 >= len(self.bracket.budgets)
        ids = []
        for entry in self.entries:
            loss = entry.losses.get(self.budget)
            if loss is None or (not last and math.isfinite(loss)):
                ids.append(entry.config_id)
        return ids

    def promotion_threshold(self, config_id: int) -> float | None:
        """The loss ``config_id`` must beat to be promoted from the current stage: the ``k``-th
        best loss told so far at this stage among the others, where ``k`` configs go on (None:
        fewer than ``k`` are in, or this is the last stage)."""
        if self.stage + 1 >= len(self.bracket.budgets):
            return None
        k = self.bracket.n_configs[self.stage + 1]
        losses = sorted(
            loss
            for e in self.entries
            if e.config_id != config_id
            and math.isfinite(loss := e.losses.get(self.budget, math.inf))
        )
        return losses[k - 1] if len(losses) >= k else None

    def settle(self) -> None:
        """Advance through stages whose results are all in (no sampling, so no randomness)."""
        while not (self.done or self.running or self.queue):
            if self.stage == 0 and self.n_sampled < self.bracket.n_configs[0]:
                return
            self._advance()

    def _start(self, entry: Entry, previous_budget: float | None) -> Trial:
        self.running.add(entry.config_id)
        return Trial(
            config_id=entry.config_id,
            config=dict(entry.config),
            budget=self.budget,
            previous_budget=previous_budget,
            bracket=self.bracket.index,
            stage=self.stage,
            model_based=entry.model_based,
        )

    def _advance(self) -> None:
        if self.stage + 1 >= len(self.bracket.budgets):
            self.done = True
            return
        budget = self.budget
        finished = [e for e in self.entries if math.isfinite(e.losses.get(budget, math.inf))]
        finished.sort(key=lambda e: e.losses[budget])  # stable: ties keep sampling order
        promoted = finished[: self.bracket.n_configs[self.stage + 1]]
        self.stage += 1
        self.entries = promoted
        self.queue = list(promoted)
        if not promoted:  # every config failed: nothing left to promote
            self.done = True

    # --- snapshot (autocnn.optimize.snapshot) ---------------------------------------------------
    def state(self) -> dict[str, Any]:
        """This bracket's bookkeeping as JSON values (its configs without their vectors, which
        are recomputed from the configs)."""
        entries = [[e.config_id, e.config, e.model_based, e.losses] for e in self.entries]
        ids = {e.config_id for e in self.entries}
        if not all(e.config_id in ids for e in self.queue):
            raise ValueError("a queued config is not among its bracket's configs")  # a bug
        return {
            "index": self.bracket.index,
            "plan": encode([self.bracket.n_configs, self.bracket.budgets]),
            "stage": self.stage,
            "n_sampled": self.n_sampled,
            "done": self.done,
            "running": sorted(self.running),
            "queue": [e.config_id for e in self.queue],
            "entries": encode(entries),
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        bracket: Callable[[int], Bracket],
        vector: Callable[[dict[str, Any]], np.ndarray],
    ) -> BracketRun:
        """The bracket :meth:`state` was taken from; ``bracket(index)`` is the schedule's plan,
        ``vector(config)`` the encoding an entry's vector was made with."""
        run = cls(bracket(int(state["index"])))
        if [run.bracket.n_configs, run.bracket.budgets] != decode(state["plan"]):
            raise SnapshotError(f"bracket {state['index']} of the state has another plan")
        entries = {}
        for config_id, config, model_based, losses in decode(state["entries"]):
            entries[config_id] = Entry(config_id, config, vector(config), model_based, losses)
        run.entries = list(entries.values())
        run.queue = [entries[config_id] for config_id in state["queue"]]
        run.running = set(state["running"])
        run.stage, run.n_sampled, run.done = state["stage"], state["n_sampled"], state["done"]
        return run
