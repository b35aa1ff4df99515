"""The paired comparison of two tested models (McNemar's exact test), on constructed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autocnn.errors import DataError
from autocnn.final.evaluation import PREDICTIONS_FILE
from autocnn.final.paired import PairedComparison, compare_predictions, compare_tested


def _two_sided_binomial(k: int, n: int) -> float:
    """Twice the smaller tail of Binomial(n, 1/2) at k, capped at 1: by hand, from its terms."""
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def _case(only_first: int, only_second: int, both: int, neither: int, seed: int = 0):
    """Labels and two models' predictions with exactly these counts, in a shuffled order."""
    n = only_first + only_second + both + neither
    y = np.random.default_rng(seed).integers(0, 5, n)
    wrong = (y + 1) % 5
    first_right = [True] * only_first + [False] * only_second + [True] * both + [False] * neither
    second_right = [False] * only_first + [True] * only_second + [True] * both + [False] * neither
    order = np.random.default_rng(seed + 1).permutation(n)
    first = np.where(np.array(first_right)[order], y, wrong)
    second = np.where(np.array(second_right)[order], y, wrong)
    return y, first, second


@pytest.mark.parametrize(
    ("only_first", "only_second", "both", "neither"),
    [(12, 3, 1970, 15), (3, 12, 1970, 15), (7, 7, 50, 0), (20, 0, 0, 0), (1, 0, 30, 2)],
)
def test_counts_and_p_value_are_mcnemars_exact_test(only_first, only_second, both, neither):
    y, first, second = _case(only_first, only_second, both, neither)
    c = compare_predictions(y, first, second)
    assert (c.n, c.only_first, c.only_second) == (len(y), only_first, only_second)
    disagree = only_first + only_second
    assert c.p_value == pytest.approx(_two_sided_binomial(only_first, disagree), rel=1e-9)
    assert c.accuracy_difference == pytest.approx(np.mean(first == y) - np.mean(second == y))
    swapped = compare_predictions(y, second, first)  # the test is symmetric
    assert (swapped.only_first, swapped.only_second) == (only_second, only_first)
    assert swapped.p_value == pytest.approx(c.p_value)
    assert PairedComparison.from_dict(c.to_dict()) == c


def test_a_clear_difference_is_significant_and_a_tie_is_not():
    assert compare_predictions(*_case(20, 2, 1900, 78)).p_value < 0.001
    assert compare_predictions(*_case(10, 9, 1900, 81)).p_value > 0.8


def test_models_that_never_disagree_on_correctness_have_p_one():
    y, first, _ = _case(0, 0, 40, 10)
    c = compare_predictions(y, first, first.copy())
    assert (c.only_first, c.only_second, c.p_value) == (0, 0, 1.0)
    text = "0 test images right only with A, 0 only with B (McNemar exact p = 1.00)"
    assert c.describe("A", "B") == text


def test_predictions_of_different_images_are_refused():
    y, first, second = _case(2, 2, 10, 0)
    with pytest.raises(DataError, match="different images"):
        compare_predictions(y, first[:-1], second)


def test_two_final_folders_compare_their_tested_models(tmp_path):
    y, first, second = _case(9, 4, 100, 7)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    # a: two models and their ensemble (the tested model); b: one model
    both = np.stack([second, second])
    np.savez(tmp_path / "a" / PREDICTIONS_FILE, y=y, seeds=[0, 1], labels=both, ensemble=first)
    np.savez(tmp_path / "b" / PREDICTIONS_FILE, y=y, seeds=[0], labels=second[None])
    c = compare_tested(tmp_path / "a", tmp_path / "b")
    assert (c.only_first, c.only_second) == (9, 4)
    (tmp_path / "old").mkdir()  # a final evaluation from before the file: nothing to compare
    assert compare_tested(tmp_path / "a", tmp_path / "old") is None
    np.savez(tmp_path / "b" / PREDICTIONS_FILE, y=(y + 1) % 5, seeds=[0], labels=second[None])
    with pytest.raises(DataError, match="different images"):
        compare_tested(tmp_path / "a", tmp_path / "b")
