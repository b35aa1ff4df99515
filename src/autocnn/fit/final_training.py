"""The fit's final training: a config trained on all training data until a deadline, then
tested once; the incumbent's (``final_stage``) and the baseline's (``baseline_stage``).

Several nets share the time equally, each with its own seed; their probabilities are averaged
(:func:`autocnn.final.evaluation.final_evaluation`). The deadline, not an epoch count, ends each
net: the trainer's schedule advances with the steps or the time, whichever is further along, so
a net has annealed by its deadline on a machine slower than measured.

The speed measured right before the training (:func:`measure_speed`) sets what is held back for
the train and test passes after it. A transient load during that probe (a process finishing
beside the fit) once read 106 img/s where the machine then trained ~860, and held back ~30 s of
a 600-s budget for passes that took ~4 (2026-12-01, BENCHMARKS §14). The search measured the same
config on the same images (one thread per worker, the other workers busy), so a probe with all
threads that is slower than that is a busier machine, not the config: probed again, the fastest
kept, and the user told.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from time import monotonic

from autocnn import data, space
from autocnn.fit.folder import BudgetClock, FitFolder
from autocnn.fit.plan import FitPlan, final_epochs
from autocnn.fit.probe import Probe, probe_speed

Log = Callable[[str], None]
# Probes again (at most) when the first is slower than the search's own measurement.
REPROBES = 2


def final_stage(
    folder: FitFolder, state: dict, plan: FitPlan, clock: BudgetClock, log: Log
) -> dict:
    """The search's incumbent (as the nets it chose) trained until the budget's reserve."""
    search = state["stages"]["search"]
    incumbent, nets = search["incumbent"], search.get("nets", 1)
    left = plan.total_seconds - plan.reserve_seconds - clock.elapsed()
    what = "the incumbent" if nets == 1 else f"the incumbent, {nets} nets"
    searched = search.get("img_per_s", {}).get(str(incumbent["config_id"]))  # absent: older
    row = train_until(incumbent["config"], monotonic() + left, folder.final, state, log, what,
                      nets=nets, searched_img_per_s=searched)  # fmt: skip
    shutil.copyfile(row["model"], folder.model)
    return {**row, "elapsed": clock.elapsed()}


def train_until(
    config: dict,
    deadline: float,
    out: Path,
    state: dict,
    log: Log,
    what: str,
    nets: int = 1,
    dataset: str | None = None,
    searched_img_per_s: float | None = None,
) -> dict:
    """Train ``config`` on all training data until ``deadline`` (a monotonic time), as ``nets``
    nets of consecutive seeds with an equal share of the time each (each share ends with that
    net's train and test passes), and test them once (final_evaluation; several nets also as
    one ensemble, their probabilities averaged). ``dataset``: the fit's (None) or another name
    of the same images (the baseline's, at the images' own size). ``searched_img_per_s``: the
    search's median speed of ``config`` on these images (:func:`measure_speed`), if known."""
    import torch

    dataset = dataset or state["dataset"]
    from autocnn.final.evaluation import final_evaluation
    from autocnn.train import train

    full = data.load(dataset, "train", data_dir=state["data_dir"])  # train + val
    # measured right before training, with all threads: the epoch bound of each share
    speed = measure_speed(config, full, torch.get_num_threads(), searched_img_per_s, log)
    passes = passes_seconds(len(full), speed)
    seeds = [state["seed"] + i for i in range(nets)]

    def predicted(seconds: float) -> float:  # the epochs at the measured speed (the bound: more)
        return seconds * speed / len(full)

    def fit_net(seed: int, save_to: Path):
        i = seeds.index(seed)
        end = monotonic() + (deadline - monotonic()) / (nets - i) - passes
        bound = final_epochs(end - monotonic(), len(full), speed)
        if nets > 1:
            log(f"net {i + 1} of {nets}: {end - monotonic():.0f} s, "
                f"~{predicted(end - monotonic()):.0f} epochs")  # fmt: skip
        return train(config, full, None, epochs=bound, seed=seed, save_to=save_to, deadline=end)

    if out.exists():  # a partial final training of a killed session: ours to redo
        shutil.rmtree(out)
    left = deadline - monotonic()
    first = final_epochs(left / nets - passes, len(full), speed)
    share = f"~{predicted(left - passes):.0f} epochs" if nets == 1 else "an equal share each"
    log(f"final training of {what}: {left - passes:.0f} s on {len(full)} images ({speed:.0f} "
        f"img/s measured; {share})")  # fmt: skip
    result = final_evaluation(
        fit_net, dataset, config=config, epochs=first, seeds=seeds, out=out,
        data_dir=state["data_dir"], extra={"space": state["space"], "kind": "fit"},
    )  # fmt: skip
    s, rows = result.summary, result.per_seed
    ok = [r for r in rows if r["status"] == "ok"]
    together = s.get("ensemble")  # two or more nets trained: their averaged probabilities
    row = {
        "epochs": first,
        "epochs_trained": ok[0]["epochs"],
        "test_accuracy": together["test_acc"] if together else s["test_acc"]["mean"],
        "test_balanced_accuracy": (
            together["test_balanced_acc"] if together else s["test_balanced_acc"]["mean"]
        ),
        "train_accuracy": s["train_acc"]["mean"],
        "n_params": sum(r["n_params"] for r in ok),
        "seconds": s["seconds"],
        "model": str(out / result.model),
        "img_per_s": speed,
    }
    if nets > 1:
        row["models"] = [str(out / r["model"]) for r in ok]
        row["members"] = [
            {"status": r["status"], "seed": r["seed"], "test_accuracy": r.get("test_acc"),
             "test_balanced_accuracy": r.get("test_balanced_acc"), "epochs_trained": r["epochs"],
             "n_params": r["n_params"], "img_per_s": speed}
            for r in rows
        ]  # fmt: skip
    return row


def passes_seconds(n_train: int, img_per_s: float) -> float:
    """What a net's share holds back for its train and test passes after training: a pass over
    ``n_train`` images and a test part of up to a quarter of that, ~3x faster than training.

    >>> passes_seconds(10_000, img_per_s=2_500)
    1.6666666666666667
    """
    return 1.25 * n_train / (3 * img_per_s)


def measure_speed(
    config: dict,
    images: data.ImageSet,
    threads: int,
    searched_img_per_s: float | None,
    log: Log,
    probe: Callable[..., Probe] = probe_speed,
) -> float:
    """Training images per second of ``config`` on ``images`` with ``threads`` threads, probed
    (10 steps); probed again up to :data:`REPROBES` times, the fastest kept, while it is slower
    than ``searched_img_per_s`` (one search worker's median speed of the same config, the other
    workers busy: all threads alone should be faster). ``probe``: :func:`probe_speed`'s
    signature (a test may count the calls).

    >>> from autocnn.fit.probe import Probe
    >>> readings = iter([300.0, 900.0])  # a load that ends after the first probe
    >>> fake = lambda *args, **kwargs: Probe(next(readings), seconds=0.1)
    >>> said = []
    >>> measure_speed({}, None, 2, searched_img_per_s=600.0, log=said.append, probe=fake)
    900.0
    >>> said[0][:50]
    'the machine is busier than during the search: 300 '
    """
    speeds = [probe(config, images, threads=threads, steps=10).img_per_s]
    if searched_img_per_s and speeds[-1] < searched_img_per_s:
        log(f"the machine is busier than during the search: {speeds[-1]:.0f} img/s with "
            f"{threads} threads, where one search worker trained this config at "
            f"{searched_img_per_s:.0f}; measuring again")  # fmt: skip
        while len(speeds) <= REPROBES and max(speeds) < searched_img_per_s:
            speeds.append(probe(config, images, threads=threads, steps=10).img_per_s)
        if max(speeds) < searched_img_per_s:
            log(f"still busier ({max(speeds):.0f} img/s at best of {len(speeds)}): the final "
                "plans with that speed; its deadline holds whatever the speed")  # fmt: skip
    return max(speeds)


def baseline_stage(folder: FitFolder, state: dict, plan: FitPlan, log: Log) -> dict:
    """The space's default trained for the fit's whole budget (less the same reserve), as a
    user would train it without autocnn: plain cross-entropy, also on imbalanced data (the
    fit's own default starts from the imbalance handling a search of that data starts from),
    at the images' own size.
    ``paired``: the fit's model against it, image by image (:mod:`autocnn.final.paired`)."""
    from autocnn.final.paired import compare_tested

    deadline = monotonic() + plan.total_seconds - plan.reserve_seconds
    config = space.default_config(state["space"])
    # at the images' own size, as a user would train without autocnn (the fit may scale them)
    given = state.get("given_dataset", state["dataset"])
    # the search's speed of the default holds for these images only if the fit did not scale them
    searched = state["stages"]["search"].get("img_per_s", {}).get("0")
    row = train_until(config, deadline, folder.baseline, state, log, "the default (baseline)",
                      dataset=given, searched_img_per_s=searched if given == state["dataset"]
                      else None)  # fmt: skip
    paired = compare_tested(folder.final, folder.baseline)  # None: a final from before the file
    return {**row, "paired": None if paired is None else paired.to_dict()}
