"""``fit``: a dataset and a wall-clock budget in, a trained, tested, exported model out.

The tool plans everything from measurements on this machine (:mod:`.plan`, :mod:`.probe`),
searches within its share of the budget, trains the incumbent for the rest, and can train the
space's default for the same time beside it (``baseline=True``), the bar a search must clear.

Example::

    from autocnn.fit import fit
    result = fit("kmnist10k", time="5m", out="fits/a", data_dir="../shared/data/kmnist")
"""

from __future__ import annotations

from autocnn.fit.budget import parse_duration
from autocnn.fit.job import fit
from autocnn.fit.plan import FitPlan, Speeds, make_plan

__all__ = ["FitPlan", "Speeds", "fit", "make_plan", "parse_duration"]
