"""BOHB and the machinery around it: schedule, models, ask/tell optimizer, run store, runner.

The optimizer itself (``bohb``, ``schedule``, ``models``) imports neither torch nor the trainer;
``evaluate.TrainingObjective`` is the one bridge to ``autocnn.train``.

Example::

    from autocnn.optimize import make_optimizer
    optimizer = make_optimizer("bohb", space, min_budget=1, max_budget=9, n_iterations=4)
    trial = optimizer.ask()
"""

from autocnn.optimize.bohb import BOHB
from autocnn.optimize.methods import METHODS, make_optimizer
from autocnn.optimize.trial import Result, Trial

__all__ = ["BOHB", "METHODS", "Result", "Trial", "make_optimizer"]
