"""The last word between the space's default and the search's choice: both trained again at the
choice's budget, side by side, before the final training commits to one.

A fit keeps the default unless the search's choice beats it by more than validation noise at
the largest budget both reached (:func:`~autocnn.optimize.incumbent.keep_reference_unless_beaten`).
When the default was not promoted that far, that comparison is made at a budget far below the
final training's length, where a small fast net is ahead of a bigger one that learns longer
(short-horizon bias), and the choice's own score is the best of many noisy ones (its validation
error is optimistic). Measured on the 64,000-image set (BENCHMARKS §9, 20 minutes, seed 0): a
small portfolio net beat the default at 32 s of training (validation error 0.0262 against
0.0321, 2.8 standard errors), the default was third of its rung and never trained 96 s, and the
small net trained for the final's 13 minutes tested 98.80 %, where the default trained as long
reached 99.20-99.35 % in earlier fits of the same set.

The duel removes both biases: the default and the choice train again at the choice's budget, with
a seed neither used in the search, on two workers at once (one evaluation's wall time, taken from
the final training), and the same noise rule decides on these two fresh scores. It runs only
when the choice would replace the default without the default having trained that long, and
when it costs at most a quarter of the final training's time. A duel that fails for the
machine's sake (a worker killed, out of memory) or overruns leaves the search's decision.

Both train their whole budget: the search's not-learning stop (a net at chance a third into its
schedule ends there, as failed; at its first epoch until 2026-12-02) is off. On kmnist characters
pasted small into 96 x 96 images (`benchmarks/small_objects.py`, 10 minutes at 32 x 32,
2026-12-02), the default was still at chance after its first epoch of six and the stop failed it:
the duel was decided by a failure instead of a score (scored, the default lost those duels anyway,
0.46-0.49 against 0.11-0.19: it learns slowly, and reached 95.6 % trained 5 minutes; BENCHMARKS
§14).

Example::

    verdict = duel(folder.search, {0: default, 7: config}, challenger=7, budget=96.5,
                   n_val=12800, workers=2, threads=1, timeout=160)
    verdict.winner  # 0: the default stays
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from time import monotonic
from typing import Any

from autocnn.data.cpus import usable_cpus
from autocnn.optimize.incumbent import Scored, keep_reference_unless_beaten

REFERENCE_ID = 0  # fit's searches start with the space's default
FRESH_SEED = 1000  # the duel trains with the search's seed plus this: a draw the search never saw
MAX_SHARE = 0.25  # of the final training's time, at most
TIMEOUT_FACTOR = 1.5  # a duel still running after this many times its planned seconds is given up
START_SECONDS = 5.0  # two fresh worker processes importing torch


@dataclass(frozen=True)
class Verdict:
    budget: float
    losses: dict[int, float | None]  # config id -> the duel's validation error (None: failed)
    winner: int

    def to_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "winner": self.winner,
                "losses": {str(k): v for k, v in self.losses.items()}}  # fmt: skip


def needs_duel(rows: list[Scored], kept: Scored | None) -> bool:
    """Whether ``kept`` replaces the default without the default having trained its budget.

    >>> rows = [Scored(0, 32.0, 0.0321), Scored(2, 32.0, 0.0262), Scored(2, 96.0, 0.0205)]
    >>> needs_duel(rows, rows[2]), needs_duel(rows + [Scored(0, 96.0, 0.02)], rows[2])
    (True, False)
    >>> needs_duel(rows, rows[0])  # the default kept: nothing to settle
    False
    """
    if kept is None or kept.config_id == REFERENCE_ID:
        return False
    ran = [r.budget for r in rows if r.config_id == REFERENCE_ID and math.isfinite(r.loss)]
    return not ran or max(ran) < kept.budget


def duel_seconds(budget: float, fixed_seconds: float, workers: int) -> float:
    """Wall seconds a duel is planned to take (two evaluations, ``workers`` at a time)."""
    rounds = 1 if workers >= 2 else 2
    return START_SECONDS + rounds * (budget + fixed_seconds)


def duel(
    run: Any, configs: dict[int, dict], *, challenger: int, budget: float, n_val: int,
    workers: int, threads: int, timeout: float,
) -> Verdict | None:  # fmt: skip
    """Train the default and ``challenger`` at ``budget`` (see the module docstring) in the
    search's run folder ``run`` (a :class:`~autocnn.optimize.folder.RunFolder`); None when the
    duel gave no verdict (both failed, the machine failed, or ``timeout`` passed)."""
    from autocnn.optimize.backends import ProcessBackend
    from autocnn.optimize.evaluate import TrainingObjective
    from autocnn.optimize.run import stored_run_settings
    from autocnn.optimize.trial import ENVIRONMENT, Trial

    settings, _ = stored_run_settings(run)
    settings = dataclasses.replace(settings, seed=settings.seed + FRESH_SEED)
    # no not-learning stop: it spares a search dead random configs, but here it would fail a
    # default that starts slowly (module docstring)
    objective = TrainingObjective(settings, keep_checkpoints=False, stop_if_not_learning=False)
    waiting = [Trial(c, configs[c], budget) for c in (challenger, REFERENCE_ID)]
    results = {}
    deadline = monotonic() + timeout
    backend = ProcessBackend(objective, workers=workers, threads_per_worker=threads)
    try:
        while len(results) < 2:
            while waiting and backend.n_free:
                trial = waiting.pop(0)
                backend.submit(trial, run.path / "duel" / f"{trial.config_id:05d}")
            for trial, result in backend.wait(timeout=max(0.0, deadline - monotonic())):
                results[trial.config_id] = result
            if monotonic() >= deadline and len(results) < 2:
                return None
    finally:
        backend.close()
    if any(r.status == ENVIRONMENT for r in results.values()):
        return None
    losses = {c: (r.loss if r.ok else None) for c, r in results.items()}
    if losses[challenger] is None and losses[REFERENCE_ID] is None:
        return None
    if losses[challenger] is None or losses[REFERENCE_ID] is None:
        winner = REFERENCE_ID if losses[challenger] is None else challenger
        return Verdict(budget, losses, winner)
    mine = Scored(challenger, budget, losses[challenger])
    rows = [Scored(REFERENCE_ID, budget, losses[REFERENCE_ID]), mine]
    kept = keep_reference_unless_beaten(rows, mine, reference_id=REFERENCE_ID, n_val=n_val)
    return Verdict(budget, losses, kept.config_id)


def settle(
    run: Any, rows: list[Scored], kept: Scored, configs: dict[int, dict], *, plan: Any,
    seconds_left: float, log: Any,
) -> tuple[Scored, dict[str, Any] | None]:  # fmt: skip
    """``kept`` after a duel where one is needed and affordable (the module docstring), and the
    duel's record for ``fit.json`` (None: no duel was needed). ``seconds_left``: the final
    training's time, which pays for the duel."""
    if not needs_duel(rows, kept):
        return kept, None
    workers = local_workers(plan.threads_per_worker)
    fixed = plan.largest_evaluation_seconds - plan.max_budget  # start and validation pass
    planned = duel_seconds(kept.budget, fixed, workers)
    if planned > MAX_SHARE * seconds_left:
        log(f"config {kept.config_id} replaces the default without a duel: one would take "
            f"{planned:.0f} s of the final training's {seconds_left:.0f} s")  # fmt: skip
        return kept, {"skipped": planned}
    log(f"config {kept.config_id} beat the default at a shorter training than its own "
        f"{kept.budget:.0f} s: both train again for {kept.budget:.0f} s, side by side, with a "
        f"fresh seed (~{planned:.0f} s of the final training's time)")  # fmt: skip
    verdict = duel(run, configs, challenger=kept.config_id, budget=kept.budget,
                   n_val=plan.n_val, workers=workers, threads=plan.threads_per_worker,
                   timeout=TIMEOUT_FACTOR * planned)  # fmt: skip
    if verdict is None:
        log("the duel gave no verdict (failed or overran): the search's choice stands")
        return kept, {"verdict": None}
    scores = describe_scores(verdict.losses)
    winner = "the default stays" if verdict.winner == REFERENCE_ID else f"config {kept.config_id}"
    log(f"duel at {verdict.budget:.0f} s (validation error): {scores}: {winner}")
    if verdict.winner == REFERENCE_ID:
        kept = Scored(REFERENCE_ID, verdict.budget, verdict.losses[REFERENCE_ID])
    return kept, verdict.to_dict()


def describe_scores(losses: dict[Any, float | None]) -> str:
    """A duel's scores as a user reads them (keys: config ids, or their text from fit.json).

    >>> describe_scores({"2": 0.0182, "0": None})
    'config 2 0.0182, the default failed'
    """
    return ", ".join(
        f"{'the default' if int(c) == REFERENCE_ID else f'config {c}'} "
        + ("failed" if loss is None else f"{loss:.4f}")
        for c, loss in losses.items()
    )


def local_workers(threads: int) -> int:
    """Workers for a duel on this machine: two where its CPUs allow, else one."""
    return 2 if usable_cpus() >= 2 * threads else 1
