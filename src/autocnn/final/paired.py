"""Two models tested on the same images: is the difference between them more than chance?

Two test accuracies 0.10 points apart on 2,000 images are two images apart; whether that says
anything depends on how many images the models disagree on, which the accuracies hide. The
paired view counts the images only the first model gets right and those only the second gets
right. If the two were equally good, each such image would be a fair coin toss, so the
two-sided p-value is the binomial test of one count out of their sum: McNemar's exact test
(``scipy.stats.binomtest``). ``autocnn fit --baseline`` uses it to say whether the fit and the
default trained for the same time differ measurably.

Example:
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 0, 1, 2, 2, 2])
    >>> first = np.array([0, 1, 0, 0, 1, 2, 2, 2])    # wrong on image 2
    >>> second = np.array([0, 0, 1, 1, 0, 2, 2, 2])   # wrong on images 1, 3 and 4
    >>> c = compare_predictions(y, first, second)
    >>> c.only_first, c.only_second, c.accuracy_difference, round(c.p_value, 3)
    (3, 1, 0.25, 0.625)
    >>> c.describe("the fit", "the baseline")
    '3 test images right only with the fit, 1 only with the baseline (McNemar exact p = 0.62)'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autocnn.errors import DataError


@dataclass(frozen=True)
class PairedComparison:
    """Two models' correctness on the same ``n`` test images (``to_dict()``: JSON values)."""

    n: int
    only_first: int  # images the first model gets right and the second wrong
    only_second: int
    p_value: float  # McNemar's exact test: 1.0 when the models never disagree on correctness

    @property
    def accuracy_difference(self) -> float:
        """First minus second test accuracy (a fraction)."""
        return (self.only_first - self.only_second) / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accuracy_difference": self.accuracy_difference}

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> PairedComparison:
        return cls(int(row["n"]), int(row["only_first"]), int(row["only_second"]),
                   float(row["p_value"]))  # fmt: skip

    def describe(self, first: str, second: str) -> str:
        return (
            f"{self.only_first} test images right only with {first}, {self.only_second} only "
            f"with {second} (McNemar exact p = {self.p_value:.2f})"
        )


def compare_predictions(y: np.ndarray, first: np.ndarray, second: np.ndarray) -> PairedComparison:
    """The paired comparison of two models' predicted labels ``first`` and ``second`` for the
    images whose true labels are ``y`` (DataError when the three lengths differ)."""
    from scipy.stats import binomtest

    y, first, second = (np.asarray(a).reshape(-1) for a in (y, first, second))
    if not len(y) == len(first) == len(second):
        raise DataError(
            f"paired comparison of predictions for different images: {len(y)} labels, "
            f"{len(first)} and {len(second)} predictions"
        )
    right_first, right_second = first == y, second == y
    only_first = int(np.sum(right_first & ~right_second))
    only_second = int(np.sum(right_second & ~right_first))
    disagree = only_first + only_second
    p_value = binomtest(only_first, disagree, 0.5).pvalue if disagree else 1.0
    return PairedComparison(len(y), only_first, only_second, float(min(1.0, p_value)))


def compare_tested(first: Path, second: Path) -> PairedComparison | None:
    """The paired comparison of the models two final evaluations tested (folders holding
    :data:`~autocnn.final.evaluation.PREDICTIONS_FILE`; an ensemble's averaged prediction where
    it has one). None when either folder lacks the file (a final made before it was written);
    DataError when they tested different images."""
    from autocnn.final.evaluation import saved_predictions

    tested = [saved_predictions(folder) for folder in (first, second)]
    if any(t is None for t in tested):
        return None
    (y, a), (y2, b) = tested
    if not np.array_equal(y, y2):
        raise DataError(f"{first} and {second} were tested on different images")
    return compare_predictions(y, a, b)
