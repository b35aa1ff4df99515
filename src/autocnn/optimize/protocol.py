"""The optimizer interface :func:`autocnn.optimize.runner.run_optimizer` drives.

:class:`~autocnn.optimize.bohb.BOHB` implements it (and with it Hyperband and random search);
so does any stand-in a test or a benchmark writes. The runner needs nothing else from an
optimizer: ask/tell for the loop, ``settings`` for the run store (a resumed run must be built with
the same ones), ``observe`` for warm starts, ``total_evaluations`` for the progress line and
``promotable_config_ids`` for deleting checkpoints nothing will continue from. An optimizer that
also has ``state()`` / ``load_state()`` (:class:`~autocnn.optimize.snapshot.Snapshottable`, as
BOHB does) is snapshotted in the run store, and a resume starts from its newest snapshot instead
of replaying the whole log; the others are always replayed.

Example:
    >>> import ConfigSpace as CS
    >>> from autocnn.optimize.bohb import BOHB
    >>> opt = BOHB(CS.ConfigurationSpace({"x": (0.0, 1.0)}), min_budget=1, max_budget=9,
    ...            n_iterations=1)
    >>> isinstance(opt, Optimizer), opt.total_evaluations
    (True, 13)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol, runtime_checkable

from autocnn.optimize.trial import Result, Trial


@runtime_checkable
class Optimizer(Protocol):
    """An ask/tell optimizer, deterministic given its settings and the ask/tell sequence (the
    runner resumes a run by replaying its log into a freshly built one)."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """What defines the run (JSON values); stored with it and checked on resume."""
        ...

    @property
    def finished(self) -> bool:
        """True once there is nothing left to ask for, ever."""
        ...

    @property
    def total_evaluations(self) -> int | None:
        """How many evaluations the whole run will have (asked ones included), or None if that is
        open (no iteration limit). May shrink as the run goes (failed configs are not
        promoted); never below the evaluations asked so far."""
        ...

    def ask(self) -> Trial | None:
        """The next evaluation, or None (waiting on pending results, or finished)."""
        ...

    def tell(self, trial: Trial, result: Result) -> None:
        """The result of a trial from :meth:`ask`."""
        ...

    def observe(self, config: Mapping[str, Any], budget: float, loss: float) -> None:
        """Warm start: an earlier run's result, for the model only."""
        ...

    def promotable_config_ids(self) -> Collection[int] | None:
        """Configs that may still be evaluated again (promoted, continuing from their latest
        checkpoint); None if the optimizer cannot tell. The runner deletes the trial folders of
        other configs (never a running one's or the incumbent's)."""
        ...
