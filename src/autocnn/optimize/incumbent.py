"""Which evaluated config to train for real: an incumbent rule for time-limited searches.

HpBandSter's rule ("lowest loss at the largest budget that has a result") trusts whatever merely
finished at the top budget. Under a wall-clock limit that can be a weak config from a bracket that
started at the top budget, while a far better one was stopped lower down (issue #13: a random
config at 9 epochs with validation error 0.146 chosen over the default's 0.097 at 3 epochs).

The rule here: walk the budgets from the largest down and take the best result of the first
budget whose best is no worse than every result at the budgets below it. Training longer should
not make the best net worse, so a top budget whose best loses to a shorter training of another
config is not evidence enough. The smallest budget always qualifies, so there is always an answer
when anything finished.

Where a known-good reference was evaluated (``fit``'s searches start with the space's default),
:func:`keep_reference_unless_beaten` keeps it unless the chosen config beats it at the same budget
by more than validation noise. Measured (BENCHMARKS §9): a 30-minute fit on kmnist10k (seed 0,
budgets in seconds) chose a config whose validation error at the default's largest budget was
0.19 points below the default's (3 of 1,600 validation images); trained for the final's 17
minutes it tested at 98.20 %, where the default trained for the fit's 30 minutes reached 99.45 %.
At that size such a margin is noise, and the winner of a noisy race is biased (its validation
score overstates it).

:func:`flat_at_the_top` says whether the search's best validation error still fell between its
two largest budgets by more than that noise: where three times the training bought nothing
measurable, training the final net half as long (to make time for a second one) costs little.

Example:
    >>> rows = [Scored(0, 3.0, 0.097), Scored(1, 1.0, 0.20), Scored(2, 9.0, 0.146)]
    >>> choose(rows)
    Scored(config_id=0, budget=3.0, loss=0.097, evaluation_id=0)
    >>> choose(rows + [Scored(0, 9.0, 0.05)]).budget
    9.0
    >>> close = [Scored(0, 78.0, 0.0156), Scored(7, 78.0, 0.0137), Scored(7, 234.0, 0.0131)]
    >>> keep_reference_unless_beaten(close, choose(close), reference_id=0, n_val=1600).config_id
    0
    >>> clear = [Scored(0, 78.0, 0.0400), *close[1:]]
    >>> keep_reference_unless_beaten(clear, choose(clear), reference_id=0, n_val=1600).config_id
    7
    >>> steep = [Scored(0, 3.0, 0.05), Scored(0, 9.0, 0.026)]  # 3 -> 9 epochs: still learning
    >>> flat_at_the_top(close, n_val=1600), flat_at_the_top(steep, n_val=1600)
    (True, False)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple


class Scored(NamedTuple):
    config_id: int
    budget: float
    loss: float
    evaluation_id: int = 0


def choose(rows: Iterable[Scored]) -> Scored | None:
    """The incumbent among ok results (see the module docstring); None if there are none."""
    rows = [r for r in rows if r.loss is not None and math.isfinite(r.loss)]
    if not rows:
        return None
    # ties: the earlier evaluation, as the store's rule does
    best_at = {}
    for row in sorted(rows, key=lambda r: (r.loss, r.evaluation_id)):
        best_at.setdefault(row.budget, row)
    budgets = sorted(best_at)
    for i in range(len(budgets) - 1, -1, -1):
        candidate = best_at[budgets[i]]
        if all(candidate.loss <= best_at[lower].loss for lower in budgets[:i]):
            return candidate
    return best_at[budgets[0]]  # unreachable: the smallest budget always qualifies


# How many standard errors a config's validation error must lie below the reference's: about
# a one-sided 2 % test for one comparison; the chosen config is the best of many, so its score
# is optimistic and a looser bar would often hand the final training a lucky config.
NOISE_Z = 2.0


def keep_reference_unless_beaten(
    rows: Iterable[Scored], chosen: Scored | None, *, reference_id: int, n_val: int,
    z: float = NOISE_Z,
) -> Scored | None:  # fmt: skip
    """``chosen``, or the reference config's best result when ``chosen`` does not beat it by more
    than ``z`` standard errors of a difference of two error rates on ``n_val`` validation images,
    compared at the largest budget where both have a result (no common budget: ``chosen``, as
    the reference lost a rung's race to it or never ran)."""
    rows = [r for r in rows if r.loss is not None and math.isfinite(r.loss)]
    if chosen is None or chosen.config_id == reference_id:
        return chosen
    best = _best_per_budget(rows)
    common = [b for c, b in best if c == reference_id and (chosen.config_id, b) in best]
    if not common:
        return chosen
    budget = max(common)
    mine, theirs = best[(chosen.config_id, budget)].loss, best[(reference_id, budget)].loss
    noise = math.sqrt(_variance(mine, n_val) + _variance(theirs, n_val))
    if theirs - mine > z * noise:
        return chosen
    return max((r for (c, _), r in best.items() if c == reference_id), key=lambda r: r.budget)


def flat_at_the_top(rows: Iterable[Scored], *, n_val: int, z: float = NOISE_Z) -> bool:
    """Whether the search's best validation error at its largest budget is lower than its best
    at the second largest by no more than ``z`` standard errors (False with fewer than two
    budgets: no evidence)."""
    best: dict[float, float] = {}
    for row in rows:
        if row.loss is not None and math.isfinite(row.loss):
            best[row.budget] = min(row.loss, best.get(row.budget, math.inf))
    if len(best) < 2:
        return False
    shorter, longest = (best[b] for b in sorted(best)[-2:])
    noise = math.sqrt(_variance(shorter, n_val) + _variance(longest, n_val))
    return shorter - longest <= z * noise


def _best_per_budget(rows: Iterable[Scored]) -> dict[tuple[int, float], Scored]:
    """(config, budget) -> that config's lowest-loss result at that budget."""
    best: dict[tuple[int, float], Scored] = {}
    for row in rows:
        key = (row.config_id, row.budget)
        if key not in best or row.loss < best[key].loss:
            best[key] = row
    return best


def _variance(error: float, n: int) -> float:
    """Binomial variance of an error rate measured on ``n`` images (at least one error's worth,
    so that two perfect scores are not "certain")."""
    p = min(max(error, 1.0 / max(n, 1)), 1.0)
    return p * (1.0 - p) / max(n, 1)
