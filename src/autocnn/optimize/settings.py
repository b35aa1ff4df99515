"""The one description of a search: :class:`RunSettings` (what defines a run; stored in its
database, read back by ``--resume``) and :class:`Execution` (how this call runs it: workers,
limits, backend; free to change on a resume).

Each option is declared once, here, with its default, its check and its help text; the CLI
(:func:`add_arguments`), ``api.optimize``, the store, the training objective, configuration
transfer, the study and ``fit`` all take these objects, so adding an option is one edit.

Example:
    >>> settings = RunSettings("kmnist10k", max_budget=27, iterations=0)
    >>> settings.iterations is None          # 0 means "no bracket limit"
    True
    >>> RunSettings.from_dict(settings.to_dict()) == settings
    True
    >>> RunSettings("kmnist10k", eta=1)
    Traceback (most recent call last):
    ...
    autocnn.errors.ConfigError: --eta must be greater than 1 (got 1); e.g. --eta 3
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from autocnn.errors import ConfigError

METHODS = ("bohb", "bohb-kde", "hyperband", "random")
SCHEDULES = ("paper", "hpbandster")
FIDELITIES = ("epochs", "annealed", "data", "both", "time")
METRICS = ("balanced_accuracy", "accuracy")
BACKENDS = ("local", "ray")
SAMPLERS = ("random", "prior")  # autocnn.optimize.sampling
DATA_OPTIONS = ("dataset", "data_dir", "val_fraction", "split_seed")  # also used by `train`
# Values a stored run made before an option existed ran with (not today's defaults).
_LEGACY = {
    "start_with_default": False,
    "fidelity": "epochs",
    "epochs": 0.0,
    "portfolio": False,
    "sampler": "random",
    "early_stopping": False,
}


def option(default: Any, help: str, *, flag: str | None = None, **cli: Any) -> Any:
    """A dataclass field with its CLI help (``flag``: a different flag, e.g. ``--no-continue``
    for a True default; ``cli``: argparse extras such as ``choices`` or ``metavar``)."""
    return field(default=default, metadata={"help": help, "flag": flag, **cli})


@dataclass(frozen=True)
class RunSettings:
    """What defines a search; two runs with equal settings make the same decisions."""

    dataset: str = option(
        None, "a name `autocnn datasets` lists (kmnist10k, ...), npz:PATH, idx:DIR or dir:DIR"
    )
    data_dir: str | None = option(None, "folder holding the dataset's files", metavar="DIR")
    space: str = option("seed", "search space: seed (the 2019 study's) or extended")
    method: str = option(
        "bohb",
        "bohb: TPE-style model (default); bohb-kde: HpBandSter's KDE model; hyperband: no "
        "model; random: random search at --max-budget",
        choices=METHODS,
    )
    eta: float = option(3.0, "successive-halving rate (3)")
    min_budget: float = option(1.0, "smallest budget, epochs (1)")
    max_budget: float = option(9.0, "largest budget, epochs (9)")
    iterations: int | None = option(
        4, "Hyperband brackets to run (4); 0: no limit, stop at --time-limit/--max-evaluations"
    )
    schedule: str = option(
        "paper",
        "bracket sizes: the BOHB paper's (default) or HpBandSter's exact grid",
        choices=SCHEDULES,
    )
    fidelity: str = option(
        "epochs",
        "what a budget buys: epochs (default; the LR schedule spans the max budget, promoted "
        "configs continue), annealed (epochs, each with its own complete LR schedule), a data "
        "fraction, both, or time (seconds of training, each with a complete LR schedule: "
        "configs compared at equal cost, as a time-limited final training will face them; "
        "no learning-curve early stopping)",
        choices=FIDELITIES,
    )
    epochs: float = option(
        0.0, "with --fidelity data/both: epochs at the full budget (default max-budget)"
    )
    seed: int = option(0, "seed of the optimizer and of training")
    val_fraction: float = option(0.2, "stratified validation share of the training data (0.2)")
    split_seed: int = option(0, "seed of the train/validation split")
    metric: str = option(
        "balanced_accuracy", "validation metric to maximise; loss = 1 - metric", choices=METRICS
    )
    continue_training: bool = option(
        True,
        "retrain promoted configs from scratch (as HpBandSter does) instead of continuing "
        "their checkpoints",
        flag="--no-continue",
    )
    start_with_default: bool = option(
        True,
        "sample the first config at random instead of starting with the space's default",
        flag="--no-default-first",
    )
    portfolio: bool = option(
        False,
        "evaluate the space's portfolio of strong, diverse configs first (the default among "
        "them; see autocnn.space.portfolio) instead of the default alone",
    )
    sampler: str = option(
        "prior",
        "where non-model configs come from: prior (default: PriorBand's mix of uniform samples, "
        "samples around the default/portfolio and around the incumbent; reached 0.93 on the "
        "seed space sooner in 3 of 3 seeds, BENCHMARKS §3.1; see autocnn.optimize.sampling) "
        "or random (uniform, as BOHB)",
        choices=SAMPLERS,
    )
    imbalance: bool = option(
        True,
        "search the class-imbalance handling (none / weighted loss / balanced sampling / logit "
        "adjustment; see autocnn.space.imbalance); --no-imbalance fixes it to none (plain "
        "cross-entropy)",
        flag="--no-imbalance",
    )
    early_stopping: bool = option(
        True,
        "learning-curve early stopping is on by default (an evaluation stops after a whole "
        "epoch when its curve, improving as fast as the run's best curve so far, could not beat "
        "what its rung needs; 0.93 reached sooner in 3 of 3 seeds at 150 and 600 s, BENCHMARKS "
        "§3.2; see autocnn.optimize.early_stopping); --no-early-stopping trains every "
        "evaluation to its budget",
        flag="--no-early-stopping",
    )

    def __post_init__(self) -> None:
        from autocnn.space import SPACES  # light: ConfigSpace only

        if not self.dataset:
            raise ConfigError("a search needs a dataset (--dataset NAME); see `autocnn datasets`")
        _choice("--space", self.space, tuple(SPACES))
        for name, values in (
            ("--method", METHODS),
            ("--schedule", SCHEDULES),
            ("--fidelity", FIDELITIES),
            ("--metric", METRICS),
            ("--sampler", SAMPLERS),
        ):
            _choice(name, getattr(self, name[2:]), values)
        _positive("--min-budget", self.min_budget)
        _positive("--max-budget", self.max_budget)
        if self.min_budget > self.max_budget:
            raise ConfigError(
                f"--min-budget ({self.min_budget:g}) exceeds --max-budget ({self.max_budget:g})"
            )
        if not (math.isfinite(self.eta) and self.eta > 1):
            raise ConfigError(f"--eta must be greater than 1 (got {self.eta:g}); e.g. --eta 3")
        if self.iterations is not None and self.iterations < 0:
            raise ConfigError(f"--iterations must be 0 (no limit) or more, got {self.iterations}")
        if not (math.isfinite(self.epochs) and self.epochs >= 0):
            raise ConfigError(f"--epochs must be 0 (= --max-budget) or positive, got {self.epochs}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"--val-fraction must be in (0, 1), got {self.val_fraction}")
        # normalised forms, so that equal runs compare (and store) equal
        object.__setattr__(self, "iterations", self.iterations or None)
        object.__setattr__(self, "data_dir", None if self.data_dir is None else str(self.data_dir))
        for name in ("eta", "min_budget", "max_budget", "epochs"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def stops_early(self) -> bool:
        """Whether learning-curve early stopping runs: its rule compares curves epoch by epoch,
        which under the time fidelity are at different points of their schedules."""
        return self.early_stopping and self.fidelity != "time"

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as stored in ``run.db``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> RunSettings:
        """Settings stored by any version: missing options get the value such runs ran with;
        unknown keys (from a newer version) are an error rather than silently ignored."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(stored) - names)
        if unknown:
            raise ConfigError(
                f"stored run settings have unknown options {unknown}: made by a newer autocnn?"
            )
        return cls(**{**_LEGACY, **stored})

    def replace(self, **changes: Any) -> RunSettings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Execution:
    """How one call runs a search; may differ between a run and its resumes."""

    workers: int = option(1, "parallel worker processes (1)")
    time_limit: float | None = option(
        None, "seconds; no new evaluation starts after it", metavar="SECONDS"
    )
    hard_time_limit: bool = option(
        False,
        "at --time-limit, stop running evaluations too (they stay pending; --resume re-runs "
        "them) instead of letting them finish",
    )
    max_evaluations: int | None = option(None, "stop after this many evaluations", metavar="N")
    backend: str = option(
        "local",
        "local: this process or --workers processes (default); ray: a Ray cluster, where "
        "--workers > 1 caps the trials in flight",
        choices=BACKENDS,
    )
    address: str | None = option(
        None,
        "Ray cluster to join: auto (on a node of it) or HOST:PORT of its head; default: start a "
        "local Ray instance",
    )
    cpus_per_trial: float = option(1.0, "CPUs each Ray evaluation reserves (1)")
    gpus_per_trial: float = option(0.0, "GPUs each Ray evaluation reserves (0)")
    max_retries: int = option(
        2, "re-runs of an evaluation whose Ray worker or node died before it counts as crashed"
    )
    storage: str | None = option(
        None,
        "folder every Ray node sees at the same path, for the checkpoints (RUN/trials links to "
        "DIR/trials); default: the run folder",
        metavar="DIR",
    )

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.time_limit is not None and not (
            math.isfinite(self.time_limit) and self.time_limit >= 0
        ):  # 0: start nothing new (a resumed budget that is spent)
            raise ConfigError(f"--time-limit must be 0 or more seconds, got {self.time_limit}")
        if self.max_evaluations is not None and self.max_evaluations < 1:
            raise ConfigError(f"--max-evaluations must be at least 1, got {self.max_evaluations}")
        _choice("--backend", self.backend, BACKENDS)
        if self.backend != "ray":
            for name, value in (("--address", self.address), ("--storage", self.storage)):
                if value is not None:
                    raise ConfigError(f"{name} is for the Ray backend: add --backend ray")
        if self.max_retries < 0:
            raise ConfigError(f"--max-retries must be 0 or more, got {self.max_retries}")
        if self.storage is not None:
            object.__setattr__(self, "storage", str(self.storage))


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword options -> (RunSettings fields, Execution fields); an unknown name is an error
    that lists the known ones (a typo must not be ignored)."""
    run_names = {f.name for f in fields(RunSettings)}
    exec_names = {f.name for f in fields(Execution)}
    unknown = sorted(set(options) - run_names - exec_names)
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown}; known: {sorted(run_names | exec_names)}")
    run = {k: v for k, v in options.items() if k in run_names}
    return run, {k: v for k, v in options.items() if k in exec_names}


def add_arguments(
    parser: argparse.ArgumentParser | Any,
    cls: type,
    *,
    skip: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
) -> None:
    """Add one CLI option per field of ``cls`` (RunSettings or Execution) to ``parser``.

    Every option defaults to ``None`` on the command line, so :func:`given` can tell what the
    user typed from what the dataclass defaults to.
    """
    for f in fields(cls):
        if f.name in skip or (only is not None and f.name not in only):
            continue
        meta = dict(f.metadata)
        flag = meta.pop("flag", None) or "--" + f.name.replace("_", "-")
        text = meta.pop("help")
        if isinstance(f.default, bool):
            parser.add_argument(
                flag,
                dest=f.name,
                action="store_const",
                const=not f.default,
                default=None,
                help=text,
            )
            continue
        kind = type(f.default) if f.default is not None else _NONE_DEFAULT_TYPES.get(f.name, str)
        parser.add_argument(flag, dest=f.name, type=kind, default=None, help=text, **meta)


# The CLI type of options whose default is None.
_NONE_DEFAULT_TYPES = {"time_limit": float, "max_evaluations": int}


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The options of ``cls`` the user gave on the command line (see :func:`add_arguments`)."""
    return {
        f.name: getattr(args, f.name)
        for f in fields(cls)
        if getattr(args, f.name, None) is not None
    }


def add_search_options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """The options of a search (:class:`RunSettings`) and of how it runs (:class:`Execution`),
    generated from their one definition; Ray's in their own group."""
    add_arguments(parser, RunSettings, skip=skip)
    ray_only = ("backend", "address", "cpus_per_trial", "gpus_per_trial", "max_retries", "storage")
    add_arguments(parser, Execution, skip=skip + ray_only)
    ray = parser.add_argument_group(
        "distributed (Ray)",
        "run each evaluation as a Ray task; needs pip install 'autocnn[ray]'. Example: "
        "autocnn optimize --dataset k49 --backend ray --address HEAD:6379 --out runs/k49",
    )
    names = tuple(n for n in Execution.__dataclass_fields__ if n not in ray_only)
    add_arguments(ray, Execution, skip=skip + names)


def _choice(flag: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{flag} {value!r} is not known; choose one of {', '.join(allowed)}")


def _positive(flag: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{flag} must be a positive number, got {value}")
