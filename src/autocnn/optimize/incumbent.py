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

Example:
    >>> rows = [Scored(0, 3.0, 0.097), Scored(1, 1.0, 0.20), Scored(2, 9.0, 0.146)]
    >>> choose(rows)
    Scored(config_id=0, budget=3.0, loss=0.097, evaluation_id=0)
    >>> choose(rows + [Scored(0, 9.0, 0.05)]).budget
    9.0
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
