"""``fit``: a dataset and a wall-clock budget in, the best model the budget buys out.

The stages, each recorded in ``fit.json`` as it ends, so that ``resume=True`` skips what is done
and gives the rest only the time that is left (:class:`~autocnn.fit.folder.BudgetClock`):

1. **probe** the space's default on this machine and dataset (one worker's threads, and all
   threads), counted in the budget;
2. **plan** (:mod:`autocnn.fit.plan`): fidelity, budgets, workers, search/final split; for
   images larger than 32 pixels first the input size (:mod:`autocnn.fit.resolution`), after
   which the fit trains on ``resize:SIDE:NAME``;
3. **search**: BOHB with the space's default and portfolio first, budgets in seconds of
   training, stopped hard at its share of the time;
4. **final**: the incumbent (:mod:`autocnn.optimize.incumbent`'s rule; the default unless the
   incumbent beats it by more than validation noise) measured again with all threads, then
   trained on all training data until the budget's deadline, and tested once (the only read of
   the test set); as two nets of two seeds, half the time each, probabilities averaged, where
   the plan has room and the search's curve is flat (:mod:`autocnn.fit.plan`,
   :mod:`autocnn.fit.final_training`);
5. **export** (TorchScript, ONNX where installed) and **report**;
6. with ``baseline=True``, after the budget: the space's default trained for the same total
   time, tested the same way: the bar a search has to clear.

A dataset without a test part (a ``dir:`` folder of class folders, an ``npz:`` file of ``x, y``)
is fitted as ``holdout:NAME`` (:mod:`autocnn.data.loading`): a stratified 15 % of its training
images is held out before anything else, and read only by the final test.

Example::

    result = fit("kmnist10k", time="5m", out="fits/k10k", data_dir="../shared/data/kmnist")
    print(result["summary"]["test_accuracy"])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autocnn import data, space
from autocnn.data.cpus import usable_cpus
from autocnn.data.resize import MAX_SIDE, resize_images
from autocnn.errors import ConfigError, RunError
from autocnn.fit.budget import parse_duration
from autocnn.fit.deliver import deliver, fit_summary
from autocnn.fit.final_training import baseline_stage, final_stage
from autocnn.fit.folder import BudgetClock, FitFolder
from autocnn.fit.plan import FitPlan, Speeds, make_plan
from autocnn.fit.probe import Probe, probe_speed
from autocnn.fit.resolution import (
    LARGEST_AUTO_SIDE,
    SizeChoice,
    candidate_sides,
    choose_size,
    fixed_size,
)
from autocnn.optimize.lock import RunLock
from autocnn.optimize.settings import Execution, RunSettings
from autocnn.space.imbalance import default_method, with_imbalance

Log = Callable[[str], None]
# Two 1-thread workers side by side each run ~10 % slower than one alone (memory bandwidth;
# issue #17: 365 + 364 img/s vs 406 alone), so the plan uses the probe's speed times this.
PARALLEL_SLOWDOWN = 0.9


def fit(
    dataset: str | None = None,
    *,
    time: str | float | None = None,
    out: str | Path,
    data_dir: str | Path | None = None,
    space: str = "extended",
    seed: int = 0,
    portfolio: bool = True,
    imbalance: bool = True,
    image_size: str | int = "auto",
    baseline: bool = False,
    dry_run: bool = False,
    resume: bool = False,
    backend: str = "local",
    address: str | None = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Search and train within ``time`` (``"30m"``, ``"90s"``, ``"1.5h"`` or seconds); see the
    module docstring. Returns ``fit.json``'s content; ``dry_run`` plans and returns the plan.
    ``imbalance=False``: no class-imbalance handling on imbalanced data (the search fixes it to
    none, as ``optimize --no-imbalance``; the default trains with plain cross-entropy).
    ``image_size``: ``"auto"`` (chosen from measurement, :mod:`autocnn.fit.resolution`) or the
    longer side in pixels to train on."""
    folder = FitFolder(out)
    if resume:
        state = folder.read()
        if state.get("done") and not (baseline and "baseline" not in state):
            log(f"{folder.path}: this fit has finished; nothing to resume")
            return state
    else:
        if folder.exists():
            raise RunError(
                f"{out} already holds a fit; resume it (--resume) or choose another --out"
            )
        if dataset is None or time is None:
            raise ConfigError(
                "fit needs a dataset and --time (e.g. autocnn fit kmnist10k --time 5m)"
            )
        total = parse_duration(time)
        side = _image_size(image_size)
        if not data.has_test_part(dataset):  # else the final test would fail after the budget
            log(f"{dataset} has no test part: {data.HOLDOUT_FRACTION:.0%} of its training images "
                "(stratified) are held out as one, read only by the final test "
                f"(the dataset {data.HOLDOUT_PREFIX}{dataset})")  # fmt: skip
            dataset = f"{data.HOLDOUT_PREFIX}{dataset}"
        # what a search would check, before any file is written
        settings = RunSettings(dataset, data_dir=data_dir, space=space, seed=seed, split_seed=seed)
        Execution(backend=backend, address=address, cpus_per_trial=cpus_per_trial,
                  gpus_per_trial=gpus_per_trial)  # fmt: skip
        state = {"dataset": dataset, "data_dir": settings.data_dir, "space": space,
                 "seed": seed, "portfolio": portfolio, "handle_imbalance": imbalance,
                 "image_size": side,
                 "budget_seconds": total,
                 "backend": {"backend": backend, "address": address,
                             "cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial},
                 "stages": {}}  # fmt: skip
    clock = BudgetClock(None if dry_run else folder, folder.spent() if resume else 0.0)
    header_hw = None if "plan" in state else data.image_size_from_headers(state["dataset"])
    # the split the search will use (before the size is chosen, at most at the largest size
    # the choice may give: photos are never decoded at full size)
    scan = _scan_name(state, header_hw)
    train_set, val_set = _split(state, scan)
    if "imbalance" not in state:  # the default's class-imbalance handling, as a search's
        method = default_method(train_set.class_counts().tolist())
        state["imbalance"] = method if state.get("handle_imbalance", True) else "none"
        if state["imbalance"] != "none":
            log(f"imbalanced classes: the default trains with {method}")
        elif method != "none":
            log("imbalanced classes, handled by nothing (no imbalance handling asked)")
    if "plan" not in state:
        size, probe = _input_size(state, train_set, val_set, clock, log, header_hw)
        state["input_size"] = size.to_dict()
        if size.side is not None:  # the search, final and test all see the scaled images
            state["given_dataset"] = state["dataset"]  # the baseline's: a user's own size
            state["dataset"] = size.dataset(state["dataset"])
            if scan != state["dataset"]:
                data.clear_cache()  # the images at the size read first: not needed again
                train_set, val_set = _split(state)
        state["plan"] = _plan(state, train_set, val_set, clock, log, probe).to_dict()
    plan = FitPlan.from_dict(state["plan"])
    for line in plan.describe():
        log(line)
    if dry_run:
        return state
    folder.path.mkdir(parents=True, exist_ok=True)
    with RunLock(folder.path), clock:  # one owner: a second fit --resume is refused
        folder.write(state)
        if "search" not in state["stages"]:
            state["stages"]["search"] = _search(folder, state, plan, clock, on_event, log)
            folder.write(state)
        if "final" not in state["stages"]:
            state["stages"]["final"] = final_stage(folder, state, plan, clock, log)
            folder.write(state)
        if "deliver" not in state["stages"]:
            state["stages"]["deliver"] = deliver(folder, state, log)
        if not state.get("done"):
            state["summary"] = fit_summary(state, clock.elapsed())
            state["done"] = True
            folder.write(state)
        if baseline and "baseline" not in state:  # after the budget: not on its clock
            from autocnn.fit.report_page import write_report

            state["baseline"] = baseline_stage(folder, state, plan, log)
            state["summary"] = fit_summary(state, state["summary"]["seconds"])
            folder.write(state)
            write_report(folder, state)  # the baseline beside the fit's result
    return state


def _image_size(value: str | int) -> int | None:
    """``--image-size``: "auto" (None) or a longer side in pixels, checked before any file."""
    if value == "auto" or value is None:
        return None
    text = str(value)
    if not text.isdigit() or not 4 <= int(text) <= MAX_SIDE:
        raise ConfigError(
            f"--image-size must be auto or a number of pixels 4-{MAX_SIDE} (the longer side "
            f"to train on), got {value!r}"
        )
    return int(text)


def _split(state: dict, name: str | None = None) -> tuple[data.ImageSet, data.ImageSet]:
    """(train, validation) of the fit's dataset, or of ``name``: the same images at another
    size (the split reads labels only)."""
    train = data.load(name or state["dataset"], "train", data_dir=state["data_dir"])
    return data.train_val_split(train, RunSettings.val_fraction, seed=state["seed"])


def _scan_name(state: dict, header_hw: tuple[int, int] | None) -> str:
    """The name to read a set of photos by before its size is chosen: scaled to the size fixed
    by ``--image-size``, or to the largest the choice may give (:func:`candidate_sides`), where
    their file headers say they are larger; else the dataset itself."""
    if header_hw is None:
        return state["dataset"]
    side = state.get("image_size") or LARGEST_AUTO_SIDE
    return f"{data.RESIZE_PREFIX}{side}:{state['dataset']}" if side < max(header_hw) else (
        state["dataset"])  # fmt: skip


def _input_size(
    state: dict, train_set, val_set, clock: BudgetClock, log: Log, hw: tuple | None = None
) -> tuple[SizeChoice, Probe | None]:
    """The size to train on: the user's, or chosen from the default's speed measured at the
    smallest candidate size (:mod:`autocnn.fit.resolution`; a probe of about a second). The
    probe comes back too when it measured the size chosen: the plan needs no second one.
    ``hw``: the images' own size where their headers told it (``train_set`` may be scaled)."""
    hw = tuple(hw or train_set.input_shape[1:])
    probe = None
    if state.get("image_size") is not None:
        choice = fixed_size(hw, state["image_size"])
    elif len(sides := candidate_sides(hw)) == 1:
        return fixed_size(hw, max(hw)), None  # nothing to choose: said nowhere
    else:
        probe_side = sides[-1]
        small = _scaled(train_set, probe_side)
        probe = probe_speed(space.default_config(state["space"]), small, threads=1, steps=12)
        cpus = _cpus(state)
        choice = choose_size(
            hw, n_train=len(train_set), n_val=len(val_set), total_seconds=state["budget_seconds"],
            spent=clock.elapsed() + probe.seconds, cpus=cpus,  # + the plan's, if any
            img_per_s_at_smallest=probe.img_per_s * (PARALLEL_SLOWDOWN if cpus > 1 else 1.0),
        )  # fmt: skip
    (h, w), (th, tw) = choice.original, choice.hw
    log(f"input size: {w}x{h} images, trained at {tw}x{th} ({choice.reason})")
    return choice, probe if probe is not None and choice.side == probe_side else None


def _scaled(images: data.ImageSet, side: int) -> data.ImageSet:
    """``images`` scaled in memory to a longer side of ``side``: for a speed probe (the pixels
    differ a little from decoding the files at that size, the speed does not), so a folder of
    photos is not read once more for it."""
    import torch

    hw = data.scaled_shape(images.input_shape[1:], side)
    return dataclasses.replace(images, x=torch.from_numpy(resize_images(images.x.numpy(), hw)))


def _plan(
    state: dict, train_set, val_set, clock: BudgetClock, log: Log, one: Probe | None = None
) -> FitPlan:
    """Probe the default here with one worker's thread (unless ``one`` measured it on these
    images already), then plan the rest. (All threads' speed matters only for the final
    training, which measures its own net again.)"""
    cpus = _cpus(state)
    if one is None:
        log(f"measuring this machine: the {state['space']} space's default on {state['dataset']}"
            " ...")  # fmt: skip
        one = probe_speed(space.default_config(state["space"]), train_set, threads=1, steps=12)
    log(f"measured: {one.img_per_s:,.0f} training images/s on one thread ({one.precision})")
    worker = one.img_per_s * (PARALLEL_SLOWDOWN if cpus > 1 else 1.0)
    speeds = Speeds(worker_img_s=worker, cpus=cpus)
    return make_plan(state["budget_seconds"], n_train=len(train_set), n_val=len(val_set),
                     speeds=speeds, spent=clock.elapsed())  # fmt: skip


def _cpus(state: dict) -> int:
    """CPUs the search may use: this machine's, or a Ray cluster's divided per trial."""
    options = state["backend"]
    if options["backend"] != "ray":
        return usable_cpus()
    from autocnn.optimize.ray_backend import import_ray

    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=options["address"] or "local", ignore_reinit_error=True)
    per_trial = max(options["cpus_per_trial"], 1e-9)
    return max(1, int(ray.cluster_resources().get("CPU", 1) // per_trial))


def _search(
    folder: FitFolder, state: dict, plan: FitPlan, clock: BudgetClock, on_event, log: Log
) -> dict:
    from autocnn.fit.duel import settle
    from autocnn.optimize.incumbent import choose, flat_at_the_top, keep_reference_unless_beaten
    from autocnn.optimize.run import optimize
    from autocnn.optimize.store import Store

    deadline = plan.spent_before_plan + plan.search_seconds
    options = state["backend"]
    ray = options["backend"] == "ray"
    execution = Execution(
        workers=plan.workers, time_limit=max(0.0, deadline - clock.elapsed()),
        hard_time_limit=True, backend=options["backend"], address=options["address"],
        cpus_per_trial=options["cpus_per_trial"] if ray else 1.0,
        gpus_per_trial=options["gpus_per_trial"] if ray else 0.0,
    )  # fmt: skip
    run = folder.search
    if not plan.search_seconds:  # the plan found no search worth its time
        return {"evaluations": 0, "counts": {}, "seconds": 0.0, "elapsed": clock.elapsed(),
                "incumbent": _default_choice(state)}  # fmt: skip
    if run.exists():  # killed mid-search: go on with the time left
        summary = optimize(out=run.path, resume=True, execution=execution, on_event=on_event)
    else:
        settings = RunSettings(
            state["dataset"], data_dir=state["data_dir"], space=state["space"],
            eta=plan.eta, min_budget=plan.min_budget, max_budget=plan.max_budget,
            iterations=0, fidelity=plan.fidelity, epochs=plan.epochs, seed=state["seed"],
            split_seed=state["seed"], portfolio=state["portfolio"],
            imbalance=state.get("handle_imbalance", True),
        )  # fmt: skip
        summary = optimize(out=run.path, settings=settings, execution=execution,
                           on_event=on_event)  # fmt: skip
    unused = execution.time_limit - summary.seconds
    early = summary.stopped == "time_limit" and unused >= 1  # the runner starts what can end
    if early:
        log(f"the search ends {unused:.0f} s early (no evaluation left could finish in time): "
            "the final training gets them")  # fmt: skip
    with Store.open(run.db, readonly=True) as store:
        rows = store.scored()
        best = choose(rows)
        # the search's first config is the space's default (start_with_default): the final
        # training gets another config only if it beats the default by more than noise
        kept = keep_reference_unless_beaten(rows, best, reference_id=0, n_val=plan.n_val)
        # two nets of the kept config when the plan has time for two and the search's best
        # validation error was flat between its two largest budgets (halving costs little)
        flat = flat_at_the_top(rows, n_val=plan.n_val)
        chosen = {0} | {r.config_id for r in (best, kept) if r is not None}  # 0: the default
        configs = {c: store.config(c) for c in chosen}
        totals = store.summary()
        # one worker's speed of each, the final's check on its own probe (elsewhere on Ray)
        speeds = {} if ray else {str(c): _median_speed(store, c) for c in chosen}
    stage = {"evaluations": totals.n_done, "counts": totals.counts, "seconds": summary.seconds,
             "img_per_s": {c: v for c, v in speeds.items() if v}}  # fmt: skip
    if early:
        stage["unused_seconds"] = unused  # given to the final training
    if kept is None:  # too little time for even one evaluation: the known-good default
        return {**stage, "incumbent": _default_choice(state), "elapsed": clock.elapsed()}
    left = plan.total_seconds - plan.reserve_seconds - clock.elapsed()
    kept, duel = settle(run, rows, kept, configs, plan=plan, seconds_left=left, log=log)
    if duel is not None:
        stage["duel"] = duel
    if kept.config_id != best.config_id:
        stage["not_beaten"] = {"config_id": best.config_id, "budget": best.budget,
                               "val_loss": best.loss}  # fmt: skip
    if kept.config_id != best.config_id and duel is None:
        log(f"the search's best (config {best.config_id}, validation error {best.loss:.4f} at "
            f"{best.budget:.0f} s) does not beat the default by more than the noise of "
            f"{plan.n_val} validation images at their largest common budget: the final training "
            "keeps the default")  # fmt: skip
    stage["nets"] = plan.members if flat else 1
    if plan.members > 1 and flat:
        log(f"the final trains config {kept.config_id} as {plan.members} nets (seeds from "
            f"{state['seed']}), probabilities averaged: the search's best did not improve "
            "measurably with 3x the training")  # fmt: skip
    elif plan.members > 1:
        log(f"the final trains config {kept.config_id} as one net: the search's best still "
            "improved measurably with 3x the training")  # fmt: skip
    return {**stage, "incumbent": _choice(kept, configs), "elapsed": clock.elapsed()}


def _median_speed(store, config_id: int) -> float | None:
    """The median training images per second of a config's finished evaluations."""
    import statistics

    speeds = [e.metrics.get("images_per_second") for e in store.evaluations(status="ok",
              config_id=config_id)]  # fmt: skip
    speeds = [s for s in speeds if s]
    return statistics.median(speeds) if speeds else None


def _choice(row, configs: dict[int, dict]) -> dict:
    return {"config_id": row.config_id, "budget": row.budget, "val_loss": row.loss,
            "config": configs[row.config_id]}  # fmt: skip


def _default_choice(state: dict) -> dict:
    """The space's default, with the imbalance handling a search of this data starts from."""
    config = with_imbalance(space.default_config(state["space"]), state.get("imbalance", "none"))
    return {"config_id": None, "budget": None, "val_loss": None, "config": config}
