"""benchmarks/ensemble_size.py scores every k-subset of nets as one averaged ensemble."""

from __future__ import annotations

import doctest

import numpy as np
import pytest


@pytest.fixture(scope="module")
def ensemble_size(benchmark_script):
    return benchmark_script("ensemble_size")


def one_hot(predicted: list[int], confidence: float) -> np.ndarray:
    p = np.full((len(predicted), 3), (1 - confidence) / 2)
    p[np.arange(len(predicted)), predicted] = confidence
    return p


def test_every_subset_is_scored_by_its_averaged_probabilities(ensemble_size):
    labels = np.array([0, 1, 2, 0])
    nets = [
        one_hot([1, 1, 2, 0], 0.7),  # wrong on image 0, the most confident
        one_hot([0, 2, 2, 0], 0.6),  # wrong on image 1
        one_hot([0, 1, 0, 0], 0.5),  # wrong on image 2, the least confident
    ]
    table = ensemble_size.ensemble_table(nets, labels)
    assert [row["k"] for row in table] == [1, 2, 3]
    assert [row["subsets"] for row in table] == [3, 3, 1]
    # worked by hand: in a pair the more confident net decides the image they disagree on, so
    # every pair is 3 of 4 right; all three outvote each net's one mistake
    assert [(row["mean"], row["min"], row["max"]) for row in table] == [
        (0.75, 0.75, 0.75),
        (0.75, 0.75, 0.75),
        (1.0, 1.0, 1.0),
    ]


def test_its_docstring_example_holds(ensemble_size):
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    found = finder.find(ensemble_size.ensemble_table, "ensemble_table", globs=vars(ensemble_size))
    for test in found:
        runner.run(test)
    assert runner.tries > 0 and runner.failures == 0
