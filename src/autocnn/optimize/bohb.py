"""BOHB as a pure ask/tell object: successive-halving brackets plus a model that picks new configs.

The engine does no I/O, starts no threads, never reads the clock and does not import torch: a runner
asks for :class:`Trial` s, evaluates them wherever it likes, and tells the :class:`Result` s back.
The same class runs Hyperband (``model="random"``) and random search (``schedule="random"``).

Scheduling follows HpBandSter: brackets run successive halving; a bracket's stage ``k + 1``
starts once every evaluation of stage ``k`` is told, with the best ``n_configs[k + 1]`` configs
(by loss at that budget; failed ones are never promoted). When the open brackets all wait on
running evaluations, ``ask`` opens the next bracket (if ``n_iterations`` allows), so N workers stay
busy. A promoted config keeps its ``config_id`` and its Trial carries ``previous_budget``, so a
checkpoint can be continued.

Everything random comes from one seed: the same seed and the same sequence of ask/tell calls give
the same trials, which is what lets a killed run be resumed by replaying its log. ``state()`` /
``load_state()`` save and restore the whole state as JSON data (random generators, counters, open
brackets, pending trials, the model's observations), so that a resume need not replay every ask
(:mod:`autocnn.optimize.snapshot`). The brackets' bookkeeping lives in
:mod:`autocnn.optimize.brackets`.

Example:
    >>> import ConfigSpace as CS
    >>> from autocnn.optimize.trial import Result
    >>> space = CS.ConfigurationSpace({"x": (0.0, 1.0)})
    >>> opt = BOHB(space, min_budget=1, max_budget=9, n_iterations=3, seed=0)
    >>> while (trial := opt.ask()) is not None:
    ...     opt.tell(trial, Result("ok", loss=(trial.config["x"] - 0.3) ** 2 + 1 / trial.budget))
    >>> opt.finished, opt.n_told
    (True, 22)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ConfigSpace import ConfigurationSpace

from autocnn.errors import ConfigError
from autocnn.optimize.brackets import BracketRun as _BracketRun
from autocnn.optimize.brackets import Entry as _Entry
from autocnn.optimize.models import make_model
from autocnn.optimize.models.encoding import SpaceEncoding
from autocnn.optimize.sampling import make_sampler
from autocnn.optimize.schedule import make_schedule
from autocnn.optimize.snapshot import (
    SnapshotError,
    assign,
    check_header,
    decode,
    digest,
    encode,
    load_fields,
    save_fields,
)
from autocnn.optimize.trial import Result, Trial
from autocnn.space.configs import to_plain


class BOHB:
    """Bayesian optimisation + Hyperband over a ConfigSpace, as an ask/tell object.

    ``model``: "tpe" (default), "kde" (HpBandSter's BOHB model) or "random" (Hyperband).
    ``schedule``: "paper" (default), "hpbandster" or "random" (random search).
    ``n_iterations``: number of brackets; ``None`` never finishes.
    ``min_points_in_model``: results needed on a budget before its model exists (kde: at least
    and by default d + 1; tpe: default 10).
    ``start_with_default``: the first new config is the space's default (as SMAC's initial
    design does): a known-good starting point costs one smallest-budget evaluation and gives the
    model a reference that random samples of a large space rarely reach.
    ``initial_configs``: more configs evaluated first, in order, after the default (a portfolio
    of known-good, diverse nets: :mod:`autocnn.space.portfolio`).
    ``sampler``: "random" (the engine's default: uniform samples, as BOHB; runs made through
    ``RunSettings`` default to "prior", measured faster there) or "prior": PriorBand's mix of
    uniform, prior and incumbent-local samples instead (:mod:`autocnn.optimize.sampling`; it
    also holds πBO's prior weight for the TPE model, off by default). ``prior_configs``: the
    prior's centres (default: the initial design, else the space's default).
    """

    def __init__(
        self,
        space: ConfigurationSpace,
        *,
        min_budget: float,
        max_budget: float,
        eta: float = 3,
        n_iterations: int | None = None,
        schedule: str = "paper",
        model: str = "tpe",
        seed: int = 0,
        random_fraction: float = 1 / 3,
        top_n_percent: float = 15,
        num_samples: int = 64,
        bandwidth_factor: float = 3.0,
        min_bandwidth: float = 1e-3,
        min_points_in_model: int | None = None,
        start_with_default: bool = False,
        initial_configs: Sequence[Mapping[str, Any]] = (),
        sampler: str = "random",
        prior_configs: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        if not 0.0 <= random_fraction <= 1.0:
            raise ConfigError(f"random_fraction must be in [0, 1], got {random_fraction}")
        if n_iterations is not None and (int(n_iterations) != n_iterations or n_iterations < 0):
            raise ConfigError(f"n_iterations must be a whole number >= 0, got {n_iterations}")
        self.space = space
        self.schedule = make_schedule(schedule, min_budget, max_budget, eta)
        self.encoding = SpaceEncoding(space)
        self.model = make_model(
            model,
            self.encoding,
            top_n_percent=top_n_percent,
            num_samples=num_samples,
            bandwidth_factor=bandwidth_factor,
            min_bandwidth=min_bandwidth,
            min_points_in_model=min_points_in_model,
        )
        self.n_iterations = None if n_iterations is None else int(n_iterations)
        self.random_fraction = float(random_fraction)
        self.start_with_default = bool(start_with_default)
        default = [to_plain(space.get_default_configuration())] if start_with_default else []
        extra = [to_plain(dict(c)) for c in initial_configs]
        # exactly these values (a decode of their vectors could round 0.003 to 0.0029...)
        self._initial_design = default + [c for c in extra if c not in default]
        self.seed = int(seed)
        # The settings that define the run: a resumed run must be built with the same ones.
        self.settings: dict[str, Any] = {
            "min_budget": float(min_budget),
            "max_budget": float(max_budget),
            "eta": eta,
            "n_iterations": self.n_iterations,
            "schedule": schedule,
            "model": model,
            "seed": self.seed,
            "random_fraction": self.random_fraction,
            "top_n_percent": top_n_percent,
            "num_samples": num_samples,
            "bandwidth_factor": bandwidth_factor,
            "min_bandwidth": min_bandwidth,
            "min_points_in_model": min_points_in_model,
            "start_with_default": self.start_with_default,
        }
        if extra:  # absent otherwise, so that runs made before the option still resume
            self.settings["initial_configs"] = extra
        self.sampler = make_sampler(
            sampler, self.encoding, prior_configs, self._initial_design, self.model
        )
        if sampler != "random":  # likewise
            self.settings["sampler"] = sampler
        if prior_configs is not None:
            self.settings["prior_configs"] = [to_plain(dict(c)) for c in prior_configs]
        seeds = np.random.SeedSequence(self.seed).generate_state(2)
        self._rng = np.random.default_rng(seeds[0])
        self._prior_random_state = np.random.RandomState(seeds[1])  # ConfigSpace samples with it
        self._brackets: list[_BracketRun] = []
        self._n_started = 0
        self._next_config_id = 0
        self._pending: dict[int, tuple[Trial, _BracketRun, _Entry]] = {}
        self._best: dict[float, tuple[float, int, dict[str, Any]]] = {}  # budget -> best
        self.n_asked = 0
        self.n_told = 0
        self.stats = {"model_based": 0, "random": 0}  # how new configs were chosen

    # --- ask / tell ----------------------------------------------------------------------------
    def ask(self) -> Trial | None:
        """The next evaluation to run, or None (all remaining work waits on pending results, or
        the run is finished)."""
        self._brackets = [b for b in self._brackets if not b.done]
        for run in self._brackets:
            started = run.next_trial(self._sample)
            if started is not None:
                return self._register(started, run)
        while self.n_iterations is None or self._n_started < self.n_iterations:
            run = _BracketRun(self.schedule.brackets(self._n_started))
            self._n_started += 1
            self._brackets.append(run)
            started = run.next_trial(self._sample)
            if started is not None:
                return self._register(started, run)
        return None

    def tell(self, trial: Trial, result: Result) -> None:
        """Record the result of a trial from :meth:`ask`; failures (inf loss) rank last."""
        record = self._pending.get(trial.config_id)
        if record is None or record[0].budget != trial.budget:
            raise ValueError(
                f"tell: no pending evaluation of config {trial.config_id} at budget "
                f"{trial.budget}; pending: {[(t.config_id, t.budget) for t in self.pending()]}"
            )
        asked, run, entry = self._pending.pop(trial.config_id)
        loss = float(result.loss) if result.ok and math.isfinite(result.loss) else math.inf
        entry.losses[asked.budget] = loss
        run.running.discard(asked.config_id)
        self.model.observe(entry.vector, asked.budget, loss)
        self.n_told += 1
        best = self._best.get(asked.budget)
        if math.isfinite(loss) and (best is None or loss < best[0]):
            self._best[asked.budget] = (loss, asked.config_id, dict(entry.config))

    def observe(self, config: dict[str, Any], budget: float, loss: float) -> None:
        """Warm start: feed an earlier result to the model only (no bracket, no incumbent)."""
        self.model.observe(self.encoding.encode(config), float(budget), float(loss))

    # --- snapshot (autocnn.optimize.snapshot): the state, as JSON data ---------------------------
    # Attributes saved as they are (plain values, numpy arrays and random generators: see
    # autocnn.optimize.snapshot.encode); a new one (a sampler's random generator, a counter) is
    # one more name here: a snapshot without it then cannot be loaded, and that resume replays
    # the log instead. Bump STATE_VERSION when an attribute changes meaning. The brackets, the
    # pending trials and the model are saved by state().
    _STATE_FIELDS = (
        "_rng", "_prior_random_state", "_n_started", "_next_config_id", "_best", "n_asked",
        "n_told", "stats",
    )  # fmt: skip
    STATE_VERSION = 1

    def state(self) -> dict[str, Any]:
        """Everything this optimizer's future depends on, as JSON values: the random generators,
        the counters, the open brackets, the pending trials and the model's observations.
        :meth:`load_state` on a BOHB built with the same settings and space continues exactly
        as this one would."""
        brackets = [run.state() for run in self._brackets]
        where = {id(run): position for position, run in enumerate(self._brackets)}
        pending = [  # the config is the entry's (a copy of it)
            [where[id(run)], {**vars(trial), "config": None}]
            for trial, run, _ in self._pending.values()
        ]
        return {
            **self._fingerprints(),
            **save_fields(self, self._STATE_FIELDS),
            "brackets": brackets,
            "pending": encode(pending),
            "model": self.model.state(),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Become the BOHB ``state`` was taken from (see :meth:`state`). SnapshotError, with
        this optimizer untouched, if the state is not one of this BOHB's."""
        check_header(state, **self._fingerprints())
        values = load_fields(state, self._STATE_FIELDS)
        try:
            brackets = [
                _BracketRun.from_state(b, self.schedule.brackets, self.encoding.encode)
                for b in state["brackets"]
            ]
            pending: dict[int, tuple[Trial, _BracketRun, _Entry]] = {}
            for position, fields in decode(state["pending"]):
                run = brackets[position]
                entry = next(e for e in run.entries if e.config_id == fields["config_id"])
                trial = Trial(**{**fields, "config": dict(entry.config)})
                pending[trial.config_id] = (trial, run, entry)
        except (KeyError, TypeError, ValueError, IndexError, StopIteration) as error:
            raise SnapshotError(
                f"a bracket or trial of the state does not fit: {error!r}"
            ) from error
        self.model.load_state(state["model"])  # the last check: the model is assigned whole
        assign(self, {**values, "_brackets": brackets, "_pending": pending})

    def _fingerprints(self) -> dict[str, Any]:
        return {
            "kind": "BOHB",
            "version": self.STATE_VERSION,
            "settings": digest(self.settings),
            "space": self._space_digest,
        }

    @functools.cached_property
    def _space_digest(self) -> str:  # names, types, ranges, defaults, conditions
        return digest(str(self.space))

    # --- state ---------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """True once all ``n_iterations`` brackets are done (never with ``n_iterations=None``)."""
        if self.n_iterations is None or self._n_started < self.n_iterations:
            return False
        for run in self._brackets:
            run.settle()
        return all(run.done for run in self._brackets)

    @property
    def total_evaluations(self) -> int | None:
        """How many evaluations the run will have (None without ``n_iterations``): those asked so
        far plus what the open and the unopened brackets still plan. Failed configs are not
        promoted, so it shrinks when they fail; once finished it equals ``n_asked``.

        Example:
            >>> import ConfigSpace as CS
            >>> space = CS.ConfigurationSpace({"x": (0.0, 1.0)})
            >>> BOHB(space, min_budget=1, max_budget=9, n_iterations=4).total_evaluations
            35
        """
        if self.n_iterations is None:
            return None
        left = 0
        for run in self._brackets:
            run.settle()  # as ``finished`` does: stages whose results are all in move on
            left += run.n_left()
        sizes = [sum(bracket.n_configs) for bracket in self.schedule.cycle()]
        unopened = max(0, self.n_iterations - self._n_started)
        full, rest = divmod(unopened, len(sizes))
        left += full * sum(sizes)
        left += sum(sizes[(self._n_started + k) % len(sizes)] for k in range(rest))
        return self.n_asked + left

    def promotable_config_ids(self) -> set[int]:
        """Configs whose latest checkpoint a later evaluation may continue from (the runner
        deletes the others' trial folders): in each open bracket, the current stage's configs
        that did not fail there, unless that stage is the bracket's last and they are done."""
        ids: set[int] = set()
        for run in self._brackets:
            run.settle()
            ids.update(run.promotable())
        return ids

    def pending(self) -> list[Trial]:
        """The trials asked for and not yet told, in the order they were asked."""
        return [record[0] for record in self._pending.values()]

    @property
    def n_pending(self) -> int:
        return len(self._pending)

    @property
    def warnings(self) -> list[str]:
        """Notes for the user about the settings (e.g. a raised smallest budget)."""
        return list(self.schedule.warnings)

    def incumbent(self) -> tuple[int, dict[str, Any], float, float] | None:
        """``(config_id, config, budget, loss)``: the best result at the largest budget that has a
        finite loss (HpBandSter's rule: a larger budget's result beats any smaller budget's)."""
        if not self._best:
            return None
        budget = max(self._best)
        loss, config_id, config = self._best[budget]
        return config_id, dict(config), budget, loss

    def stop_threshold(self, trial: Trial) -> float | None:
        """The loss a pending ``trial`` must be able to beat to matter (learning-curve early
        stopping, :mod:`autocnn.optimize.early_stopping`): before a bracket's last stage, the
        loss that gets a config promoted (once enough of its stage are told); at the last stage,
        the best loss told at its budget. None: nothing to compare with yet."""
        record = self._pending.get(trial.config_id)
        if record is None or record[0].budget != trial.budget:
            return None
        _, run, _ = record
        if run.stage + 1 < len(run.bracket.budgets):
            return run.promotion_threshold(trial.config_id)
        best = self._best.get(float(trial.budget))
        return None if best is None else best[0]

    # --- internals -----------------------------------------------------------------------------
    def _pending_vectors(self) -> np.ndarray:
        # Only new configs are "lied" about: a promoted one is known to be good already.
        vectors = [e.vector for t, _, e in self._pending.values() if t.previous_budget is None]
        return np.stack(vectors) if vectors else np.empty((0, self.encoding.dim))

    def _sample(self) -> _Entry:
        if self._next_config_id < len(self._initial_design):
            return self._entry(dict(self._initial_design[self._next_config_id]), False)
        vector = None
        if self._rng.random() >= self.random_fraction:
            vector = self.model.propose(self._rng, self._pending_vectors())
        model_based = vector is not None
        if vector is None and self.sampler is not None:
            vector = self.sampler.sample(self._rng, self.model)[0]
        elif vector is None:
            vector = self.encoding.sample_prior(1, self._prior_random_state)[0]
        return self._entry(self.encoding.decode(vector, snapped=True), model_based)

    def _entry(self, config: dict[str, Any], model_based: bool) -> _Entry:
        self.stats["model_based" if model_based else "random"] += 1
        config_id = self._next_config_id
        self._next_config_id += 1
        # encode(decode(v)) is the canonical vector: the same one a warm start would produce
        return _Entry(config_id, config, self.encoding.encode(config), model_based)

    def _register(self, started: tuple[Trial, _Entry], run: _BracketRun) -> Trial:
        trial, entry = started
        self._pending[trial.config_id] = (trial, run, entry)
        self.n_asked += 1
        return trial
