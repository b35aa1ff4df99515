"""Bring a freshly built optimizer to the state of a stored run: its newest optimizer snapshot,
then a replay of the ask/tell events after it.

A resumed run must continue exactly as the killed one would have. The run store logs every ask
and tell in order (:mod:`autocnn.optimize.store`); replaying that log into an optimizer built
with the run's settings reaches the same state, but costs one model-based ask per replayed ask
(minutes on a long run). So the runner also stores the optimizer's state every
:data:`SNAPSHOT_EVERY` events (:class:`SnapshotWriter`) and at the end
of each call, and :func:`replay` loads the newest usable snapshot and replays only the events
after it. Every replayed ask is still checked against the log. A snapshot that cannot be used
(corrupt, another state version, another optimizer) is reported as a warning and the next older
one, or the full replay, is used instead. Optimizers without ``state``/``load_state``
(:class:`~autocnn.optimize.snapshot.Snapshottable`) and runs stored before snapshots existed
are always replayed in full.

Example::

    with Store.open("runs/a") as store:
        pending = replay(store, optimizer)   # [(evaluation id, Trial)] to run again
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autocnn.errors import RunError
from autocnn.optimize.folder import RunFolder
from autocnn.optimize.protocol import Optimizer
from autocnn.optimize.snapshot import SNAPSHOTS_KEPT, Snapshottable
from autocnn.optimize.store import Store, to_plain
from autocnn.optimize.trial import Trial

# Events (asks and tells) between two snapshots: a resume replays at most this many (each
# replayed ask costs what an ask costs, ~5 ms on the seed space), and the cost of writing one
# (BENCHMARKS.md §4.6) is spread over them. Read when a SnapshotWriter is made.
SNAPSHOT_EVERY = 200
Warn = Callable[[str], None]


def replay(
    store: Store, optimizer: Optimizer, pruner: Any = None, warn: Warn | None = None
) -> list[tuple[int, Trial]]:
    """Bring a fresh ``optimizer`` to the stored run's state (newest usable snapshot, then the
    events after it); return the still-pending trials as ``(evaluation id, trial)``.

    RunError if a replayed ask differs from the recorded one (the optimizer was built with other
    settings than the run's). ``pruner.asked(trial)`` hears of every config asked (with a
    snapshot: every config with a trial folder); ``warn`` of every snapshot that was skipped.
    """
    after, trials = restore(store, optimizer, warn or (lambda message: None))
    if pruner is not None and after:
        pruner.adopt(RunFolder(store.path.parent).trials)
        for trial in trials.values():
            pruner.asked(trial)
    for event in store.events(after=after):
        if event.kind == "ask":
            trial = optimizer.ask()
            expected = None
            if event.evaluation_id is not None:
                expected = store.evaluation(event.evaluation_id)
            if not _same(trial, expected, store):
                same_slot = (
                    trial is not None
                    and expected is not None
                    and int(trial.config_id) == expected.config_id
                    and math.isclose(float(trial.budget), expected.budget, rel_tol=1e-9)
                )
                what = " with a different configuration" if same_slot else ""
                raise RunError(
                    f"the run's settings changed: replaying {store.path} at event {event.seq}, "
                    f"the optimizer asked for {_describe(trial)}{what} but the run recorded "
                    f"{_describe_row(expected)}. Build the optimizer with the run's settings "
                    f"(method, eta, budgets, seed, search space) and the autocnn version that "
                    f"started the run (its sampling may differ), or start a new run folder."
                )
            if trial is not None and event.evaluation_id is not None:
                trials[event.evaluation_id] = trial
                if pruner is not None:
                    pruner.asked(trial)
        else:
            row = store.evaluation(event.evaluation_id)
            trial = trials.pop(event.evaluation_id)
            optimizer.tell(trial, row.result())
    return sorted(trials.items())


def restore(store: Store, optimizer: Optimizer, warn: Warn) -> tuple[int, dict[int, Trial]]:
    """Load the newest usable snapshot of ``store`` into ``optimizer``: ``(the last event it
    includes, the trials pending then by evaluation id)``; ``(0, {})`` when there is none."""
    if not isinstance(optimizer, Snapshottable):
        return 0, {}
    for seq, state, pending in store.snapshots():
        try:
            trials = {int(i): store.trial(int(i)) for i in json.loads(pending)}
            optimizer.load_state(json.loads(state))  # leaves it untouched when it raises
        except Exception as error:  # anything: a wrong state is worse than a slow resume
            warn(
                f"the optimizer snapshot at event {seq} of {store.path} cannot be used "
                f"({type(error).__name__}: {error}); replaying the run's events instead"
            )
            continue
        return seq, trials
    return 0, {}


class SnapshotWriter:
    """Stores the optimizer's state every ``every`` events (asks and tells) and on
    :meth:`write`; nothing for an optimizer that is not
    :class:`~autocnn.optimize.snapshot.Snapshottable`.

    Call :meth:`count` after every logged event and :meth:`maybe_write` only where the
    optimizer has been told everything the store holds (after a tell, never between an ask and
    its record).
    """

    def __init__(
        self,
        store: Store,
        optimizer: Optimizer,
        every: int | None = None,
        events: int = 0,
        warn: Warn | None = None,
    ) -> None:
        self.store, self.optimizer, self.warn = store, optimizer, warn or (lambda message: None)
        self.every = max(1, int(SNAPSHOT_EVERY if every is None else every))
        self.enabled = isinstance(optimizer, Snapshottable)
        self.events = events  # since the last snapshot
        self.n_written = 0

    def count(self, events: int = 1) -> None:
        self.events += events

    def maybe_write(self) -> None:
        if self.events >= self.every:
            self.write()

    def write(self) -> None:
        if not self.enabled or self.events == 0:
            return
        try:
            state = self.optimizer.state()  # type: ignore[attr-defined]
            text = json.dumps(state, allow_nan=False, separators=(",", ":"))
        except Exception as error:  # a bug in a state must not stop the run: it only costs time
            self.enabled = False
            self.warn(
                f"the optimizer's state cannot be saved ({type(error).__name__}: {error}); "
                "no more snapshots in this call, a resume will replay the run's events"
            )
            return
        self.store.record_snapshot(text, keep=SNAPSHOTS_KEPT)  # its errors are the store's
        self.events = 0
        self.n_written += 1


def warm_start(optimizer: Optimizer, other_run_dir: Path) -> int:
    """Feed an earlier run's ok results to ``optimizer.observe``; returns how many."""
    with Store.open(RunFolder(other_run_dir).require("warm-start from").db, readonly=True) as other:
        configs = {row.config_id: row.config for row in other.configs()}
        rows = other.evaluations(status="ok")
    for row in rows:
        optimizer.observe(configs[row.config_id], float(row.budget), float(row.loss))
    return len(rows)


def _same(trial: Trial | None, row: Any, store: Store) -> bool:
    if trial is None or row is None:
        return trial is None and row is None
    return (
        int(trial.config_id) == row.config_id
        and math.isclose(float(trial.budget), row.budget, rel_tol=1e-9)
        and to_plain(trial.config) == store.config(row.config_id)
    )


def _describe(trial: Trial | None) -> str:
    if trial is None:
        return "nothing"
    return f"config {trial.config_id} at budget {trial.budget:g}"


def _describe_row(row: Any) -> str:
    return "nothing" if row is None else f"config {row.config_id} at budget {row.budget:g}"
