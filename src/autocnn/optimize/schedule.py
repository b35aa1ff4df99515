"""Budget schedules: which brackets of successive halving to run, how many configs, which budgets.

Three schedules share one interface, ``schedule.brackets(i) -> Bracket`` for iteration ``i``:

- ``paper`` (default): Hyperband as in Li et al. (2018) and the BOHB paper (Falkner et al., 2018).
  ``s_max = floor(log_eta(max/min))``; bracket ``s`` starts ``n = ceil((s_max+1)/(s+1) * eta**s)``
  configs at ``max * eta**-s`` and keeps ``floor(n * eta**-k)`` of them at stage ``k``.
- ``hpbandster``: the exact arithmetic of HpBandSter 0.7.4 (the seed project's optimizer), so its
  runs can be reproduced. Its budget grid is anchored at ``max_budget``; when ``max/min`` is not a
  power of ``eta`` the smallest budget rises above ``min_budget`` and ``schedule.warnings`` says so.
- ``random``: random search, every evaluation at ``max_budget``, ``s_max + 1`` configs per bracket
  (about the budget of one Hyperband bracket).

Example:
    >>> schedule = make_schedule("paper", min_budget=1, max_budget=9, eta=3)
    >>> [(b.n_configs, b.budgets) for b in map(schedule.brackets, range(3))]
    [([9, 3, 1], [1.0, 3.0, 9.0]), ([5, 1], [3.0, 9.0]), ([3], [9.0])]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from autocnn.errors import ConfigError

SCHEDULES = ("paper", "hpbandster", "random")


@dataclass(frozen=True)
class Bracket:
    """One run of successive halving: ``n_configs[k]`` configs are evaluated at ``budgets[k]``."""

    index: int
    n_configs: list[int]
    budgets: list[float]

    @property
    def total_budget(self) -> float:
        return float(sum(n * b for n, b in zip(self.n_configs, self.budgets, strict=True)))


@dataclass
class Schedule:
    """Base class: a cycle of ``cycle_length`` bracket shapes, repeated forever."""

    min_budget: float
    max_budget: float
    eta: float = 3
    warnings: list[str] = field(default_factory=list, init=False)

    name = "base"

    def __post_init__(self) -> None:
        self.min_budget = float(self.min_budget)
        self.max_budget = float(self.max_budget)
        if not (math.isfinite(self.min_budget) and self.min_budget > 0):
            raise ConfigError(f"min_budget must be a positive number, got {self.min_budget}")
        if not (math.isfinite(self.max_budget) and self.max_budget >= self.min_budget):
            raise ConfigError(
                f"max_budget must be >= min_budget ({self.min_budget}), got {self.max_budget}"
            )
        if not (isinstance(self.eta, (int, float)) and self.eta > 1):
            raise ConfigError(f"eta must be a number > 1 (usually 2, 3 or 4), got {self.eta!r}")

    @property
    def s_max(self) -> int:
        """Halving steps of the most aggressive bracket: log_eta(max/min), floored."""
        # Count in integers: floating log(9)/log(3) is not always exactly 2.
        s = 0
        while self.min_budget * self.eta ** (s + 1) <= self.max_budget * (1 + 1e-9):
            s += 1
        return s

    @property
    def cycle_length(self) -> int:
        return self.s_max + 1

    def brackets(self, i: int) -> Bracket:
        raise NotImplementedError

    def cycle(self) -> list[Bracket]:
        """The brackets of one full cycle (iterations ``0 .. cycle_length-1``)."""
        return [self.brackets(i) for i in range(self.cycle_length)]

    def _warn_if_min_raised(self, smallest: float) -> None:
        if smallest > self.min_budget * (1 + 1e-9):
            self.warnings.append(
                f"{self.name} schedule: with eta={self.eta:g} the budgets are anchored at "
                f"max_budget={self.max_budget:g}, so the smallest budget is {smallest:g}, not "
                f"min_budget={self.min_budget:g}; choose min_budget = max_budget / eta**k to use it"
            )


@dataclass
class PaperSchedule(Schedule):
    """Hyperband of Li et al., as in the BOHB paper (22 evaluations per cycle for eta=3, 1-9)."""

    name = "paper"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._warn_if_min_raised(self.max_budget * self.eta**-self.s_max)

    def brackets(self, i: int) -> Bracket:
        s_max = self.s_max
        s = s_max - (i % (s_max + 1))
        n0 = math.ceil((s_max + 1) / (s + 1) * self.eta**s - 1e-9)
        # floor(n0 * eta**-k), with a tolerance so that 9 * 3**-2 is 1, not 0.999...
        n_configs = [max(int(math.floor(n0 * self.eta**-k + 1e-9)), 1) for k in range(s + 1)]
        budgets = [float(self.max_budget * self.eta ** (k - s)) for k in range(s + 1)]
        return Bracket(index=i, n_configs=n_configs, budgets=budgets)


@dataclass
class HpBandSterSchedule(Schedule):
    """HpBandSter 0.7.4's BOHB/Hyperband iterations, float arithmetic and all."""

    name = "hpbandster"

    def __post_init__(self) -> None:
        super().__post_init__()
        eta = self.eta
        self.max_sh_iter = -int(np.log(self.min_budget / self.max_budget) / np.log(eta)) + 1
        grid = self.max_budget * np.power(
            eta, -np.linspace(self.max_sh_iter - 1, 0, self.max_sh_iter)
        )
        self.budget_grid = [float(b) for b in grid]
        self._warn_if_min_raised(self.budget_grid[0])

    @property
    def cycle_length(self) -> int:
        return self.max_sh_iter

    def brackets(self, i: int) -> Bracket:
        s = self.max_sh_iter - 1 - (i % self.max_sh_iter)
        n0 = int(np.floor(self.max_sh_iter / (s + 1)) * self.eta**s)
        n_configs = [max(int(n0 * self.eta ** (-k)), 1) for k in range(s + 1)]
        return Bracket(index=i, n_configs=n_configs, budgets=self.budget_grid[-s - 1 :])


@dataclass
class RandomSchedule(Schedule):
    """Random search: brackets of ``s_max + 1`` configs, each evaluated once at ``max_budget``."""

    name = "random"

    @property
    def cycle_length(self) -> int:
        return 1

    def brackets(self, i: int) -> Bracket:
        return Bracket(index=i, n_configs=[self.s_max + 1], budgets=[self.max_budget])


def make_schedule(name: str, min_budget: float, max_budget: float, eta: float = 3) -> Schedule:
    """The schedule called ``name`` ("paper", "hpbandster" or "random").

    Example:
        >>> make_schedule("hpbandster", 3, 10, eta=2).brackets(0).budgets
        [5.0, 10.0]
    """
    classes = {"paper": PaperSchedule, "hpbandster": HpBandSterSchedule, "random": RandomSchedule}
    if name not in classes:
        raise ConfigError(f"unknown schedule {name!r}; choose one of {list(SCHEDULES)}")
    return classes[name](min_budget=min_budget, max_budget=max_budget, eta=eta)
