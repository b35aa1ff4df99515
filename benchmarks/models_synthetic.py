"""Model modes on the synthetic 30-D conditional objective: final error vs total compute.

Random search, Hyperband, BOHB with the TPE model (default) and BOHB with HpBandSter's KDE model,
each simulated (no sleeping, no training) on ``autocnn.optimize.synthetic``'s conditional space with
budgets 1-9 epochs, eta 3. For each seed and each compute level C (epochs summed over all
evaluations) the incumbent's noise-free loss at the max budget is recorded; the table shows the
median over seeds. Cheap: about a minute per method for 16 seeds.

    python benchmarks/models_synthetic.py --seeds 16 --workers 1 --costs 200,400,800,1600
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date

from autocnn.optimize.bohb import make_optimizer
from autocnn.optimize.synthetic import SyntheticObjective, conditional_space, simulate

METHODS = ("random", "hyperband", "bohb", "bohb-kde")


def run(method: str, seed: int, costs: list[float], workers: int) -> list[float]:
    """Noise-free incumbent loss after each cumulative compute level in ``costs``."""
    space = conditional_space()
    objective = SyntheticObjective(space, 9, seed=seed)
    optimizer = make_optimizer(method, space, min_budget=1, max_budget=9, eta=3, seed=seed)
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
