"""A cheap, seeded stand-in for training: a synthetic validation error over any ConfigSpace.

Used by tests and by simulated benchmarks of the optimizer. For a config ``x`` and budget ``b``:

- every ACTIVE hyperparameter adds a penalty: ``w_j * ((x_j - x*_j) / 0.5) ** 2`` for a number
  (in ConfigSpace's [0, 1] vector form) or ``w_j * p_j[choice]`` for a category (0 for the best
  choice); the weights ``w_j`` fall off geometrically (a few hyperparameters matter a lot, most a
  little, as in real tuning), so conditional children matter only when their parent turns them on;
- the error at the full budget is ``floor + (1 - floor) * (1 - exp(-penalty / scale))``;
- a smaller budget keeps only part of the final accuracy: the error becomes
  ``1 - (1 - error) * (1 - gap * (0.2 + 0.6 * slowness(x)))`` with
  ``gap = 1 - sqrt(b / max_budget)`` and ``slowness`` a second, different function of ``x`` in
  [0, 1): low budgets rank configs imperfectly but in correlation with the final ranking, like short
  training runs do;
- seeded Gaussian noise (larger at small budgets), derived from a hash of (config, budget, seed), so
  the same evaluation always returns the same number in any process.

The known optimum is ``floor`` (at ``optimum_config()``, full budget, before noise).

Example:
    >>> space = conditional_space()
    >>> objective = SyntheticObjective(space, max_budget=9, seed=0)
    >>> best = objective.optimum_config()
    >>> abs(objective.loss(best, 9, noise=False) - objective.floor) < 1e-9
    True
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ConfigSpace as CS
import numpy as np

from autocnn.optimize.models.encoding import SpaceEncoding
from autocnn.optimize.trial import Result, Trial


class SyntheticObjective:
    """A deterministic, budget-dependent synthetic objective; also a runner objective.

    ``sleep_per_budget`` seconds are slept per unit of budget trained (continuing from
    ``previous_budget``) to simulate training time; ``fail_fraction`` of the configs (chosen by
    hash) fail, to exercise error handling.
    """

    def __init__(
        self,
        space: CS.ConfigurationSpace,
        max_budget: float,
        *,
        seed: int = 0,
        noise: float = 0.01,
        floor: float = 0.02,
        sleep_per_budget: float = 0.0,
        fail_fraction: float = 0.0,
    ) -> None:
        self.space = space
        self.max_budget = float(max_budget)
        self.seed = int(seed)
        self.noise = float(noise)
        self.floor = float(floor)
        self.sleep_per_budget = float(sleep_per_budget)
        self.fail_fraction = float(fail_fraction)
        self.encoding = SpaceEncoding(space)
        rng = np.random.default_rng(self.seed)
        d, kinds = self.encoding.dim, self.encoding.kinds
        self.weights = rng.permutation(2.0 * 0.75 ** np.arange(d))
        self.slow_weights = rng.permutation(0.75 ** np.arange(d))
        raw_optimum = np.where(kinds > 0, 0.0, rng.uniform(0.15, 0.85, d))
        self.slow_optimum = rng.uniform(0.0, 1.0, d)
        # per category: the penalty of each choice, 0 for the best one
        self.choice_penalty: dict[int, np.ndarray] = {}
        for j in np.flatnonzero(kinds > 0):
            penalty = rng.uniform(0.3, 1.0, kinds[j])
            best = rng.integers(kinds[j])
            penalty[best] = 0.0
            raw_optimum[j] = best
            self.choice_penalty[int(j)] = penalty
        # put the optimum on the grid of integer/ordinal hyperparameters so it can be reached
        full = self.encoding.snap(raw_optimum)[0]
        self.optimum = np.where(np.isnan(full), raw_optimum, full)
        self.scale = 0.25 * float(self.weights.sum())

    # --- the function ----------------------------------------------------------------------------
    def _penalty(self, vector: np.ndarray, weights: np.ndarray, optimum: np.ndarray) -> float:
        active = ~np.isnan(vector)
        numeric = active & (self.encoding.kinds == 0)
        z = (vector[numeric] - optimum[numeric]) / 0.5
        total = float(np.sum(weights[numeric] * z * z))
        for j, penalty in self.choice_penalty.items():
            if active[j]:
                total += float(weights[j] * penalty[int(vector[j])])
        return total

    def loss(self, config: Mapping[str, Any], budget: float, noise: bool = True) -> float:
        """The synthetic validation error of ``config`` trained to ``budget``."""
        vector = self.encoding.encode(config)
        penalty = self._penalty(vector, self.weights, self.optimum)
        final = self.floor + (1 - self.floor) * (1 - math.exp(-penalty / self.scale))
        gap = 1.0 - math.sqrt(min(max(float(budget) / self.max_budget, 0.0), 1.0))
        slow_penalty = self._penalty(vector, self.slow_weights, self.slow_optimum)
        slowness = 1 - math.exp(-slow_penalty / (0.25 * float(self.slow_weights.sum())))
        # short training keeps only part of the final accuracy; slow configs keep less
        value = 1 - (1 - final) * (1 - gap * (0.2 + 0.6 * slowness))
        if noise and self.noise > 0:
            value += self.noise * (1 + 2 * gap) * self._unit_normal(config, budget)
        return float(min(max(value, 0.0), 1.0))

    def optimum_config(self) -> dict[str, Any]:
        """A config with the lowest possible full-budget error (``floor``)."""
        return self.encoding.decode(self.optimum)

    def _hash_rng(self, config: Mapping[str, Any], *extra: Any) -> np.random.Generator:
        key = json.dumps([sorted(config.items()), *extra, self.seed], default=str)
        digest = hashlib.sha256(key.encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def _unit_normal(self, config: Mapping[str, Any], budget: float) -> float:
        return float(self._hash_rng(config, float(budget)).normal())

    # --- runner objective ------------------------------------------------------------------------
    def __call__(self, trial: Trial, workdir: Path | None = None) -> Result:
        """Evaluate a trial like a training run would (``workdir`` is not used)."""
        start = time.perf_counter()
        if self.sleep_per_budget > 0:
            time.sleep(self.sleep_per_budget * self.cost(trial))
        return self.result(trial, start)

    @staticmethod
    def cost(trial: Trial) -> float:
        """Budget units a trial trains: a promoted config continues from ``previous_budget``."""
        return float(trial.budget) - float(trial.previous_budget or 0.0)

    def result(self, trial: Trial, start: float | None = None) -> Result:
        """The trial's Result without the simulated training time (what ``__call__`` returns
        after its sleep); ``seconds`` counts from ``start`` (``perf_counter``) when given."""
        start = time.perf_counter() if start is None else start
        cost = self.cost(trial)
        if self.fail_fraction > 0 and self._hash_rng(trial.config).random() < self.fail_fraction:
            return Result(
                "failed",
                error="synthetic failure (fail_fraction)",
                seconds=time.perf_counter() - start,
                cost=cost,
            )
        loss = self.loss(trial.config, trial.budget)
        return Result(
            "ok",
            loss=loss,
            metrics={"val_error": loss, "budget": float(trial.budget)},
            seconds=time.perf_counter() - start,
            cost=cost,
        )


def simulate(
    optimizer: Any,
    objective: SyntheticObjective,
    max_evaluations: int,
    workers: int = 1,
    max_cost: float = math.inf,
) -> list[tuple[Trial, Result]]:
    """Run ``optimizer`` on ``objective`` in-process: up to ``workers`` evaluations outstanding,
    finished first-in first-out, until ``max_evaluations`` results, ``max_cost`` budget spent
    (the sum of ``Result.cost``), or the optimizer has nothing more to run.

    Example:
        >>> from autocnn.optimize.bohb import BOHB
        >>> space = conditional_space()
        >>> optimizer = BOHB(space, min_budget=1, max_budget=9)
        >>> history = simulate(optimizer, SyntheticObjective(space, 9), 30)
        >>> len(history)
        30
    """
    history: list[tuple[Trial, Result]] = []
    running: list[Trial] = []
    spent = 0.0
    while len(history) < max_evaluations and spent < max_cost:
        while len(running) < workers and len(history) + len(running) < max_evaluations:
            trial = optimizer.ask()
            if trial is None:
                break
            running.append(trial)
        if not running:
            break
        trial = running.pop(0)
        result = objective(trial)
        optimizer.tell(trial, result)
        history.append((trial, result))
        spent += result.cost
    return history


@dataclass(frozen=True)
class SimulatedEvaluation:
    """One evaluation of :func:`simulate_parallel`: who ran it and when, in virtual seconds."""

    trial: Trial
    result: Result
    worker: int
    start: float
    end: float


def simulate_parallel(
    optimizer: Any,
    objective: SyntheticObjective,
    workers: int,
    *,
    seconds_per_budget: float = 1.0,
    max_time: float = math.inf,
    max_evaluations: int | None = None,
    overhead: float = 0.0,
    stop_when: Callable[[SimulatedEvaluation], bool] | None = None,
    fixed_seconds: float = 0.0,
    finish_by: float | None = None,
) -> list[SimulatedEvaluation]:
    """``workers`` parallel workers on a virtual clock: an evaluation of ``c`` budget units takes
    ``fixed_seconds + c * seconds_per_budget`` virtual seconds (its start and validation pass,
    and its training), and results arrive in the order they finish.

    The runner's main loop is modelled as one server: every ask and every tell advances the clock
    by ``overhead`` seconds, so a slow optimizer leaves workers idle as it would for real. No new
    evaluation starts after ``max_time``, ``max_evaluations`` asks or once ``stop_when`` returned
    True for a finished evaluation; running ones finish and are told. ``finish_by`` is a hard
    time limit as the runner keeps it (:mod:`autocnn.optimize.durations`, with exact
    durations): an evaluation that would end after it is not started, and no other starts after
    it. Fully deterministic (no sleeping, no wall clock), so parallel speed-ups can be measured
    over many seeds in seconds; ``benchmarks/simulate.py`` checks the model against real
    worker processes.

    Example:
        >>> from autocnn.optimize.bohb import BOHB
        >>> space = conditional_space()
        >>> history = simulate_parallel(BOHB(space, min_budget=1, max_budget=9),
        ...                             SyntheticObjective(space, 9), workers=4, max_time=30)
        >>> busy = sum(e.end - e.start for e in history)
        >>> round(busy / (4 * max(e.end for e in history)), 2) > 0.9
        True
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    clock = 0.0
    free = list(range(workers))  # a heap: the lowest free worker id takes the next trial
    running: list[tuple[float, int, int, Trial, float]] = []  # (end, seq, worker, trial, start)
    history: list[SimulatedEvaluation] = []
    n_asked = 0
    stopped = False
    while True:
        while (
            free
            and not stopped
            and clock < max_time
            and (max_evaluations is None or n_asked < max_evaluations)
        ):
            trial = optimizer.ask()
            clock += overhead
            if trial is None:
                break
            end = clock + fixed_seconds + objective.cost(trial) * seconds_per_budget
            if finish_by is not None and end > finish_by:
                stopped = True  # it stays asked and never runs, as in the runner
                break
            n_asked += 1
            worker = heapq.heappop(free)
            heapq.heappush(running, (end, n_asked, worker, trial, clock))
        if not running:
            return history
        end, _, worker, trial, start = heapq.heappop(running)
        clock = max(clock, end)
        result = objective.result(trial)
        optimizer.tell(trial, result)
        clock += overhead
        history.append(SimulatedEvaluation(trial, result, worker, start, end))
        heapq.heappush(free, worker)
        stopped = stopped or (stop_when is not None and stop_when(history[-1]))


def synthetic_loss(
    config: Mapping[str, Any],
    budget: float,
    max_budget: float,
    space: CS.ConfigurationSpace,
    seed: int = 0,
) -> float:
    """One-off :meth:`SyntheticObjective.loss` (build the objective once to evaluate many).

    Example:
        >>> space = conditional_space()
        >>> config = dict(space.get_default_configuration())
        >>> synthetic_loss(config, 1, 9, space) > synthetic_loss(config, 9, 9, space, seed=0) - 0.1
        True
    """
    return SyntheticObjective(space, max_budget, seed=seed).loss(config, budget)


def conditional_space(seed: int | None = None) -> CS.ConfigurationSpace:
    """A 30-hyperparameter conditional space shaped like a small CNN's (for tests and benchmarks).

    Conv blocks 2-3 exist only when ``n_conv_layers`` reaches them, dropout rates only with dropout,
    ``momentum`` only with SGD, fully connected widths only with enough FC layers; it mixes floats
    (some log-scaled), integers, categoricals, booleans and an ordinal.
    """
    space = CS.ConfigurationSpace(seed=seed)
    n_conv = CS.UniformIntegerHyperparameter("n_conv_layers", 1, 3, default_value=2)
    n_fc = CS.UniformIntegerHyperparameter("n_fc_layers", 0, 2, default_value=1)
    optimizer = CS.CategoricalHyperparameter("optimizer", ["adam", "adamw", "sgd", "adadelta"])
    space.add(
        [
            n_conv,
            n_fc,
            optimizer,
            CS.UniformFloatHyperparameter("learning_rate", 1e-5, 1.0, default_value=1e-3, log=True),
            CS.UniformFloatHyperparameter("weight_decay", 1e-6, 1e-2, default_value=1e-5, log=True),
            CS.UniformIntegerHyperparameter("batch_size", 16, 512, default_value=64, log=True),
            CS.CategoricalHyperparameter("activation", ["relu", "tanh", "sigmoid"]),
            CS.OrdinalHyperparameter("base_width", [8, 16, 32, 64]),
            CS.UniformFloatHyperparameter("label_smoothing", 0.0, 0.2, default_value=0.0),
        ]
    )
    momentum = CS.UniformFloatHyperparameter("momentum", 0.5, 0.99, default_value=0.9)
    space.add(momentum)
    space.add(CS.EqualsCondition(momentum, optimizer, "sgd"))
    for layer in (1, 2, 3):
        block = [
            CS.UniformIntegerHyperparameter(
                f"conv{layer}_channels", 4, 64, default_value=16, log=True
            ),
            CS.UniformIntegerHyperparameter(f"conv{layer}_kernel", 2, 7, default_value=3),
            CS.UniformIntegerHyperparameter(f"conv{layer}_stride", 1, 2, default_value=1),
            CS.CategoricalHyperparameter(f"conv{layer}_batchnorm", [False, True]),
            CS.CategoricalHyperparameter(f"conv{layer}_dropout", [False, True]),
        ]
        rate = CS.UniformFloatHyperparameter(f"conv{layer}_dropout_rate", 0.05, 0.5)
        space.add([*block, rate])
        space.add(CS.EqualsCondition(rate, block[4], True))
        if layer > 1:
            space.add([CS.GreaterThanCondition(hp, n_conv, layer - 1) for hp in block])
    for layer in (1, 2):
        units = CS.UniformIntegerHyperparameter(f"fc{layer}_units", 16, 512, log=True)
        space.add(units)
        space.add(CS.GreaterThanCondition(units, n_fc, layer - 1))
    return space
