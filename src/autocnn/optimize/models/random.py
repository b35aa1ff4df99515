"""No model: every configuration is sampled at random (Hyperband, random search)."""

from __future__ import annotations

import numpy as np

from autocnn.optimize.models import Model


class RandomModel(Model):
    """Never proposes; the optimizer falls back to the space's prior every time.

    Example:
        >>> import ConfigSpace as CS, numpy as np
        >>> from autocnn.optimize.models.encoding import SpaceEncoding
        >>> model = RandomModel(SpaceEncoding(CS.ConfigurationSpace({"x": (0.0, 1.0)})))
        >>> model.propose(np.random.default_rng(0), np.empty((0, 1))) is None
        True
    """

    name = "random"

    def propose(self, rng: np.random.Generator, pending: np.ndarray) -> np.ndarray | None:
        return None
