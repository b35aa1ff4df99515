"""Model modes on the synthetic 30-D conditional objective: final error vs total compute.

Random search, Hyperband, BOHB with the TPE model (default) and BOHB with HpBandSter's KDE model,
each simulated (no sleeping, no training) on ``autocnn.optimize.synthetic``'s conditional space with
budgets 1-9 epochs, eta 3. For each seed and each compute level C (epochs summed over all
evaluations) the incumbent's noise-free loss at the max budget is recorded; the table shows the
median over seeds. Cheap: about a minute per method for 16 seeds.

    python benchmarks/models_synthetic.py --seeds 16 --workers 1 --costs 200,400,800,1600

Prior-guided sampling (``sampler="prior"``, :mod:`autocnn.optimize.sampling`): ``bohb-prior``
centres the prior on the space's default (unrelated to the synthetic optimum), ``-near`` on the
optimum moved by N(0, 0.1) per numeric dimension (a good prior), ``-far`` on numeric values at the
far end of [0, 1] from the optimum and the worst category (a wrong prior). Each of these
variants evaluates its centre first, as runs do (the default: ``--no-default-first`` is off);
``bohb-default``, ``bohb-near`` and ``bohb-far`` do so with uniform samples (the same first
config, no prior sampling): the baselines. ``bohb`` itself samples its first config too.

    python benchmarks/models_synthetic.py --seeds 16 --costs 100,200,400,800 --methods \
        bohb-default,bohb-prior,bohb-near,bohb-prior-near,bohb-far,bohb-prior-far
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date

import numpy as np

from autocnn.optimize.methods import make_optimizer
from autocnn.optimize.synthetic import SyntheticObjective, conditional_space, simulate

METHODS = ("random", "hyperband", "bohb", "bohb-kde")


def prior_centre(objective: SyntheticObjective, where: str, seed: int) -> dict:
    """A config near the objective's optimum ("near") or far from it ("far")."""
    encoding, optimum = objective.encoding, objective.optimum.copy()
    numeric = encoding.kinds == 0
    if where == "near":
        noise = np.random.default_rng(1000 + seed).normal(0.0, 0.1, optimum.shape)
        optimum[numeric] = np.clip(optimum[numeric] + noise[numeric], 0.0, 1.0)
    else:  # mirrored through the centre of [0, 1], pushed to the far side; worst category
        optimum[numeric] = np.where(optimum[numeric] < 0.5, 0.95, 0.05)
        for j, penalty in objective.choice_penalty.items():
            optimum[j] = float(np.argmax(penalty))
    return encoding.decode(optimum)


def run(method: str, seed: int, costs: list[float], workers: int) -> list[float]:
    """Noise-free incumbent loss after each cumulative compute level in ``costs``."""
    space = conditional_space()
    objective = SyntheticObjective(space, 9, seed=seed)
    kwargs: dict = {}
    variant = method.split("-")
    if method != "bohb-kde" and variant[0] == "bohb" and len(variant) > 1:
        if "prior" in variant:
            kwargs["sampler"] = "prior"
        if variant[-1] in ("near", "far"):
            kwargs["initial_configs"] = [prior_centre(objective, variant[-1], seed)]
        else:  # -default, -prior: the space's default first
            kwargs["start_with_default"] = True
        method = "bohb"
    optimizer = make_optimizer(
        method, space, min_budget=1, max_budget=9, eta=3, seed=seed, **kwargs
    )
    spent, finals = 0.0, []
    for cost in costs:
        history = simulate(optimizer, objective, 10**6, workers, max_cost=cost - spent)
        spent += sum(result.cost for _, result in history)
        finals.append(objective.loss(optimizer.incumbent()[1], 9, noise=False))
    return finals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--costs", default="200,400,800,1600")
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    costs = [float(c) for c in args.costs.split(",")]
    print(
        f"{date.today()} {platform.machine()}; seeds 0..{args.seeds - 1}, workers "
        f"{args.workers}; median noise-free incumbent loss after C epochs of compute\n"
    )
    print("| method | " + " | ".join(f"C={c:g}" for c in costs) + " | seconds |")
    print("|---|" + "---|" * (len(costs) + 1))
    for method in args.methods.split(","):
        started = time.perf_counter()
        per_seed = [run(method, seed, costs, args.workers) for seed in range(args.seeds)]
        medians = [statistics.median(values) for values in zip(*per_seed, strict=True)]
        print(
            f"| {method} | "
            + " | ".join(f"{m:.3f}" for m in medians)
            + f" | {time.perf_counter() - started:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
