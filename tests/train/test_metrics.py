"""Metrics against hand-computed examples (balanced accuracy is the official K49 metric)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autocnn.train import (
    accuracy,
    balanced_accuracy,
    confusion_matrix,
    metrics_from_probabilities,
    per_class_accuracy,
)


def test_balanced_accuracy_hand_example():
    # class 0: 3 of 4 right; class 1: 1 of 2 right; class 2: 0 of 1 right; class 3 absent.
    y_true = [0, 0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 0, 1, 1, 3, 0]
    assert balanced_accuracy(y_true, y_pred, n_classes=4) == pytest.approx((3 / 4 + 1 / 2 + 0) / 3)
    assert accuracy(y_true, y_pred) == pytest.approx(4 / 7)
    assert per_class_accuracy(y_true, y_pred, n_classes=4) == [0.75, 0.5, 0.0, None]


def test_balanced_differs_from_plain_accuracy_on_imbalanced_data():
    # Always predicting the majority class: 90 % accuracy, 50 % balanced accuracy.
    y_true = np.array([0] * 90 + [1] * 10)
    y_pred = np.zeros(100, dtype=np.int64)
    assert accuracy(y_true, y_pred) == pytest.approx(0.9)
    assert balanced_accuracy(y_true, y_pred) == pytest.approx(0.5)


def test_confusion_matrix_rows_are_true_classes():
    cm = confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([1, 1, 1, 0]), n_classes=3)
    expected = np.array([[0, 1, 0], [0, 2, 0], [1, 0, 0]])
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64


def test_metrics_agree_with_a_loop_on_random_labels():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    recalls = [np.mean(y_pred[y_true == c] == c) for c in range(7)]
    assert balanced_accuracy(y_true, y_pred) == pytest.approx(float(np.mean(recalls)))
    assert per_class_accuracy(y_true, y_pred) == pytest.approx(recalls)


def test_metrics_from_probabilities_hand_example():
    # three samples of class 0, one of class 1; the second class-0 sample is misclassified
    probabilities = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3], [0.2, 0.8]])
    labels = torch.tensor([0, 0, 0, 1])
    got = metrics_from_probabilities(probabilities, labels, 2)
    assert got.accuracy == pytest.approx(0.75)
    assert got.balanced_accuracy == pytest.approx((2 / 3 + 1) / 2)
    assert got.loss == pytest.approx(
        -(math.log(0.9) + math.log(0.4) + math.log(0.7) + math.log(0.8)) / 4
    )
    assert got.confusion == [[2, 1], [0, 1]]
    with pytest.raises(ValueError, match="shape"):
        metrics_from_probabilities(probabilities, labels, 3)
