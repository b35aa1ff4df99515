"""The plan of a fit: from a wall-clock budget and measured speeds to every search setting.

Nothing here is a constant a user must know. :func:`make_plan` is a pure function of the budget,
the dataset's size and the speeds measured on this machine (:mod:`autocnn.fit.probe`), so the
same measurements always give the same plan, and tests check how it adapts.

The policy, and the measurements behind it (2-core x86 machine, BENCHMARKS.md):

- **Reserve** ``6 s + 1.5 %`` of the budget for what follows the final training (export and
  report: measured 4 s on kmnist10k-1k, ~5 s on kmnist10k, ~19 s on the 64k set; the final
  model's train and test passes are budgeted with the final training). With ``10 s + 2 %`` a
  3-minute fit used only 94.4 % of its budget (BENCHMARKS §9).
- **Search share** of what remains: 40 % from 30 minutes up, falling linearly in log-time to
  15 % at 5 minutes and below. The accuracy benchmark (§7) met its target with 43 % search / 57 %
  final training at 30 minutes; with a few minutes the final training's epochs matter more than a
  few more search evaluations (§7: single models at 20-23 epochs 98.55 %, at 26-33 epochs
  98.87 %).
- **Workers × threads**: one single-thread worker per CPU. Measured side by side for three nets
  (seed default, a mid seed-space net, the extended default), 6,400 and 51,200 training images,
  batch 64 and 256, fp32 and bf16: two 1-thread processes evaluate 1.12-1.63x as many images
  per second as one 2-thread process in every case (§1.1, issue #17), so no per-net switch is
  needed on this CPU. The probe runs under the training precision (bf16 autocast where native,
  :mod:`autocnn.train.precision`), so the plan sees the speed the search will have.
- **Budgets are seconds of training** (the ``time`` fidelity of
  :mod:`autocnn.optimize.evaluate`): every evaluation trains for its budget with a complete LR
  schedule, so configs are compared at equal cost, as the final training, also ended by the
  clock, will face them. With epochs as budgets (``annealed``), a fit at 30 minutes chose nets
  2-4x slower than the default because they were better at equal epochs; the final training
  then gave them 85-138 epochs where the default got 424-481, and both seeds lost to the
  default trained as long (98.75 / 99.00 % vs 99.45 / 99.05 %, BENCHMARKS §9). On large data
  a small budget trains on part of an epoch: a random subset, so no separate data fidelity is
  needed.
- ``eta = 3`` over three rungs, the smallest budget a ninth of the largest, and the largest
  chosen so that **three configs reach it** (:func:`largest_budget`): the search's schedule is
  simulated on a virtual clock (BOHB's own brackets, the plan's workers, each evaluation its
  budget plus its start and validation pass, and the runner's rule of starting only what can
  finish before the limit), and the largest budget is the longest, up to a sixth of the search's
  worker-seconds, whose simulated search brings three configs to it. A fixed sixth let exactly
  one config reach it and ended the search at 83 % of its time, as every 30-minute fit on
  kmnist10k did for real (BENCHMARKS §9: one evaluation at 234 s, two more killed at the limit);
  with 8 workers a fixed share made the largest evaluation as long as the whole search, so that
  none reached it. With 2 workers three configs reach an eighth of the worker-seconds (the
  default: 55 epochs at 30 minutes on kmnist10k, 73 with a sixth). The time a search leaves
  unused goes to the final training.
- **No search when it cannot inform**: if the largest evaluation would train fewer than
  :data:`MIN_SEARCH_IMAGES` images (300 steps of 128), its ranking says little about nets trained
  many times longer, so all the time goes to the final training of the space's default (measured
  on kmnist10k, 5 minutes: a 41-second search ranked nets after half an epoch and chose one that
  reached 93.05 % test accuracy; issue #13's notes). The search then starts at about 15 minutes
  on kmnist10k-sized data.
- **A final ensemble of two nets when the final time is long** (:func:`final_members` says
  whether the plan has room): the kept config trained twice, with two seeds, for half the final
  time each, probabilities averaged (a deep ensemble: different seeds make different mistakes).
  Room means each half is at least :data:`MEMBER_BUDGETS` times the search's largest
  evaluation; the search must also show its best validation error flat between its two largest
  budgets (:func:`~autocnn.optimize.incumbent.flat_at_the_top`): if three times the training
  bought less than the noise, half of a much longer final training costs little. Measured on
  kmnist10k (BENCHMARKS §9): the default's test accuracy is flat from ~200 epochs on (221
  epochs: 99.30 %; 442: 99.25 / 99.30 %; 789-824: 99.25 / 99.35 %). With 20-45 epochs per model
  (an earlier, slower plan, §7) two half-length models lost to one: the steep part of the curve
  this rule avoids. The second net is the same config, not the search's runner-up: on 1,600
  validation images a runner-up "not clearly worse" (config 2, the same validation error) tested
  0.45 points below the default, and averaging with it gave 99.25 % where the default alone
  reached 99.30 % (§9). Two nets, not more: every subset of six default nets of 240-259
  epochs (three fits' finals; ``benchmarks/ensemble_size.py``, §9) averaged 99.30 % test
  accuracy alone, 99.38 % in pairs, 99.41 % in threes and 99.40 % in fours to sixes: a third net
  adds less than one of the 2,000 test images, and would cost each net a third of its time.
- **Final training**: until the budget's deadline. The learning-rate schedule advances with steps
  or time, whichever is further (``autocnn.train.train(deadline=...)``), so the budget holds and
  the schedule completes even when the machine is slower than measured (on a loaded machine it
  was 4x slower than its probe). The epoch count (:func:`final_epochs`) is only an upper bound:
  twice what the rest buys at the incumbent's speed, measured again with all threads right
  before, so that a machine faster than measured (a probe during a load peak: 101 img/s measured,
  ~400 real) still trains until the deadline.

Example:
    >>> speed = Speeds(worker_img_s=400.0, cpus=2)
    >>> small = make_plan(1800, n_train=6400, n_val=1600, speeds=speed)
    >>> small.fidelity, small.workers, round(small.min_budget), round(small.max_budget)
    ('time', 2, 20, 180)
    >>> big = make_plan(1800, n_train=240000, n_val=60000, speeds=speed)
    >>> round(big.max_budget)  # seconds: a sixth of an epoch of 240,000 images
    105
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from autocnn.errors import ConfigError

ETA = 3.0
RUNGS = 3  # budgets max/9, max/3, max
START_SECONDS = 1.0  # an evaluation's start beside its budget: model build, data to the device
MIN_SEARCH_IMAGES = 300 * 128
MIN_SEARCH_SECONDS = 15.0  # the first worker starts in ~3-4 s (fork server importing torch)
MAX_MEMBERS = 2  # nets in the final ensemble
MEMBER_BUDGETS = 2.0  # a member's final seconds, at least, in units of the largest evaluation
AT_THE_TOP = 3  # configs the search should bring to its largest budget
# The simulated evaluations take this much longer than planned. Measured: a budget of 234 s took
# 235 s; on the 64k set 15-s budgets took 16-23 s and 44-s budgets 44-47 s (BENCHMARKS §9).
SIMULATED_SLOWDOWN = 1.2
LARGEST_SHARE = 1 / 6  # the largest evaluation's share of the search's worker-seconds, at most


@dataclass(frozen=True)
class Speeds:
    """Training speed of the reference net measured here (images per second of one worker,
    validation passes excluded) and the CPUs the search may use."""

    worker_img_s: float
    cpus: int
    workers: int | None = None  # None: one per CPU; a Ray cluster says how many trials fit


@dataclass(frozen=True)
class FitPlan:
    """Every decision of a fit, with the numbers it came from (stored in ``fit.json``)."""

    total_seconds: float
    spent_before_plan: float  # the probe's time, counted in the budget
    reserve_seconds: float
    search_seconds: float
    final_seconds: float
    workers: int
    threads_per_worker: int
    fidelity: str
    min_budget: float
    max_budget: float
    eta: float
    epochs: float  # with fidelity "both" (plans before the time fidelity): epochs at full budget
    epoch_seconds: float  # one worker, one epoch of the training split + its validation pass
    smallest_evaluation_seconds: float
    largest_evaluation_seconds: float
    n_train: int
    n_val: int
    speeds: dict[str, Any]
    members: int = 1  # nets the final training trains (plans stored before ensembles: 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> FitPlan:
        return cls(**stored)

    def describe(self) -> list[str]:
        """The plan as a user reads it (printed before the fit starts)."""
        if self.fidelity == "time":
            per_epoch = self.epoch_seconds - self.n_val / (3.0 * self.speeds["worker_img_s"])
            budget = (
                f"{self.min_budget:.0f}-{self.max_budget:.0f} s of training each (the default: "
                f"{self.min_budget / per_epoch:.2g}-{self.max_budget / per_epoch:.2g} epochs), "
                "each a complete schedule"
            )
        elif self.fidelity == "annealed":  # plans stored before the time fidelity
            budget = f"{self.min_budget:g}-{self.max_budget:g} epochs, each a complete schedule"
        else:
            fraction = math.sqrt(self.min_budget / self.max_budget)
            budget = (
                f"data subsets {fraction:.0%}-100 % with {self.epochs * fraction:.2g}-"
                f"{self.epochs:.2g} epochs"
            )
        final = f"final training {format_clock(self.final_seconds)}"
        if self.members > 1:
            final += (
                f" (or {self.members} nets of {format_clock(self.final_seconds / self.members)}, "
                "averaged, if the search's best is flat with time)"
            )
        head = f"budget {format_clock(self.total_seconds)}: probe " + format_clock(
            self.spent_before_plan
        )
        tail = f"test + export + report {format_clock(self.reserve_seconds)}"
        if not self.search_seconds:
            return [
                f"{head}, final training {format_clock(self.final_seconds)}, {tail}",
                f"search: none. Its largest evaluation would train fewer than {MIN_SEARCH_IMAGES}"
                " images, too few to rank nets for a final training many times longer: the "
                "space's default gets all the time (a longer --time buys a search)",
                f"cost: one epoch {self.epoch_seconds:.1f} s per worker ({self.n_train} training "
                f"/ {self.n_val} validation images)",
            ]
        return [
            f"{head}, search {format_clock(self.search_seconds)}, {final}, {tail}",
            f"search: {self.workers} worker(s) x {self.threads_per_worker} thread(s), BOHB eta "
            f"{self.eta:g}, budgets {budget}",
            f"cost: one epoch {self.epoch_seconds:.1f} s per worker; evaluations "
            f"{self.smallest_evaluation_seconds:.0f}-{self.largest_evaluation_seconds:.0f} s "
            f"({self.n_train} training / {self.n_val} validation images)",
        ]


def make_plan(
    total_seconds: float,
    *,
    n_train: int,
    n_val: int,
    speeds: Speeds,
    spent: float = 0.0,
) -> FitPlan:
    """The plan for a budget of ``total_seconds`` of which ``spent`` are gone (the probe)."""
    if not (math.isfinite(total_seconds) and total_seconds > 0):
        raise ConfigError(f"--time must be a positive duration, got {total_seconds}")
    reserve = 6.0 + 0.015 * total_seconds
    available = total_seconds - spent - reserve
    if available < 2 * MIN_SEARCH_SECONDS:
        raise ConfigError(
            f"a budget of {format_clock(total_seconds)} leaves {max(available, 0):.0f} s after "
            f"measuring this machine ({spent:.0f} s) and the final test + report "
            f"({reserve:.0f} s); give at least "
            f"{format_clock(spent + reserve + 2 * MIN_SEARCH_SECONDS + 60)} (e.g. --time 5m)"
        )
    share = search_share(total_seconds)
    search = max(MIN_SEARCH_SECONDS, share * available)
    workers = speeds.workers or max(1, speeds.cpus)
    threads = max(1, speeds.cpus // workers)
    # one worker's seconds per epoch: training, and a validation pass (~3x faster per image)
    validation = n_val / (3.0 * speeds.worker_img_s)
    epoch_seconds = n_train / speeds.worker_img_s + validation
    fixed = validation + START_SECONDS
    max_budget = largest_budget(
        search, workers, fixed, shortest=MIN_SEARCH_IMAGES / speeds.worker_img_s
    )
    if not max_budget:  # no search: see the module docstring
        search = 0.0
    largest = max_budget + fixed if search else 0.0
    min_budget = max_budget / ETA ** (RUNGS - 1)
    return FitPlan(
        total_seconds=float(total_seconds),
        spent_before_plan=float(spent),
        reserve_seconds=reserve,
        search_seconds=search,
        final_seconds=available - search,
        workers=workers,
        threads_per_worker=threads,
        fidelity="time",
        min_budget=float(min_budget),
        max_budget=float(max_budget),
        eta=ETA,
        epochs=0.0,
        epoch_seconds=epoch_seconds,
        smallest_evaluation_seconds=min_budget + validation + START_SECONDS if search else 0.0,
        largest_evaluation_seconds=largest,
        n_train=int(n_train),
        n_val=int(n_val),
        speeds=dataclasses.asdict(speeds),
        members=final_members(available - search, max_budget if search else 0.0),
    )


def largest_budget(
    search_seconds: float, workers: int, fixed_seconds: float, *, shortest: float
) -> float:
    """The search's largest budget (seconds of training; 0: no search worth running): the
    longest from a sixth of the worker-seconds down, in steps of 5 %, whose simulated search
    brings :data:`AT_THE_TOP` configs to it, else the one that brings the most; none shorter
    than ``shortest`` (see the module docstring).

    >>> round(largest_budget(706, 2, 1.5, shortest=20))  # kmnist10k, 30 minutes
    190
    >>> round(largest_budget(706, 8, 1.5, shortest=20))  # 8 workers: not the whole search
    393
    >>> largest_budget(60, 2, 1.5, shortest=20)
    0.0
    """
    budget = search_seconds * workers * LARGEST_SHARE - fixed_seconds
    best, most = 0.0, 0
    while budget >= shortest:
        reached = configs_at_the_top(budget, search_seconds, workers, fixed_seconds)
        if reached >= AT_THE_TOP:
            return budget
        if reached > most:
            best, most = budget, reached
        budget *= 0.95
    return best


def configs_at_the_top(
    max_budget: float, search_seconds: float, workers: int, fixed_seconds: float
) -> int:
    """How many configs a search brings to ``max_budget``: BOHB's brackets on a virtual clock
    (:func:`~autocnn.optimize.synthetic.simulate_parallel`), every evaluation taking its budget
    plus ``fixed_seconds``, times :data:`SIMULATED_SLOWDOWN`, none started that cannot end
    within ``search_seconds``. Which configs
    are promoted does not change the schedule, so every loss is the same."""
    from ConfigSpace import ConfigurationSpace, Float

    from autocnn.optimize.bohb import BOHB
    from autocnn.optimize.synthetic import SyntheticObjective, simulate_parallel
    from autocnn.optimize.trial import Result

    class Flat:  # every evaluation costs its budget and scores the same
        cost = staticmethod(SyntheticObjective.cost)

        def result(self, trial):
            return Result("ok", loss=0.5)

    space = ConfigurationSpace(seed=0)
    space.add(Float("x", (0.0, 1.0)))
    optimizer = BOHB(space, min_budget=max_budget / ETA ** (RUNGS - 1), max_budget=max_budget,
                     eta=ETA, seed=0)  # fmt: skip
    slow = SIMULATED_SLOWDOWN
    history = simulate_parallel(
        optimizer, Flat(), workers, seconds_per_budget=slow,
        fixed_seconds=fixed_seconds * slow, finish_by=search_seconds,
    )  # fmt: skip
    return sum(1 for e in history if e.trial.budget >= max_budget)


def search_share(total_seconds: float) -> float:
    """The search's share of the budget left after probing and the reserve.

    >>> [round(search_share(s), 2) for s in (120, 300, 900, 1800, 7200)]
    [0.15, 0.15, 0.3, 0.4, 0.4]
    """
    position = math.log(max(total_seconds, 300) / 300) / math.log(1800 / 300)
    return 0.15 + 0.25 * min(1.0, position)


def final_members(final_seconds: float, max_budget: float) -> int:
    """How many nets the final training trains (see the module docstring); 1 without a search.

    >>> final_members(1059, 234), final_members(800, 234), final_members(300, 0)
    (2, 1, 1)
    """
    if max_budget <= 0:
        return 1
    fits = int(final_seconds // (MEMBER_BUDGETS * max_budget))
    return max(1, min(MAX_MEMBERS, fits))


# A final training's epoch bound, over the epochs its measured speed predicts. The deadline ends
# a final training and its learning rate follows the time (autocnn.train.trainer); the bound
# ends it only where it runs this much faster than the probe right before it measured. A probe
# taken while another process still ran read 106 img/s where the machine then trained 860: with
# a margin of 2 that fit stopped at 63 % of its budget (BENCHMARKS §14, 2026-12-02).
FINAL_EPOCH_MARGIN = 16.0


def final_epochs(
    seconds: float, n_images: int, img_per_s: float, margin: float = FINAL_EPOCH_MARGIN
) -> float:
    """The epoch bound of a final training of ``seconds`` at a measured ``img_per_s``: the
    epochs predicted, times ``margin`` (the deadline, not the epochs, ends a final training);
    at least a quarter epoch.

    >>> final_epochs(600, n_images=8000, img_per_s=650)
    780.0
    """
    epochs = margin * seconds * img_per_s / max(1, n_images)
    return float(max(0.25, math.floor(epochs) if epochs >= 2 else round(epochs, 2)))


def format_clock(seconds: float) -> str:
    """Seconds as a user reads them.

    >>> format_clock(45), format_clock(1773.4)
    ('45 s', '29:33')
    """
    seconds = max(0.0, seconds)
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{secs} s"
