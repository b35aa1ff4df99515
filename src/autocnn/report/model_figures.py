"""The figures of a trained model's metrics: confusion matrix, per-class accuracy, class counts.

Drawn like :mod:`autocnn.report.plots` (its style and helpers); each function raises
:class:`~autocnn.report.analysis.NothingToShow` when the metrics lack what it shows.

Example::

    figure = model_figure(model_metrics, "the incumbent (test set)")
    save(figure, Path("report/incumbent.png"))
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from autocnn.report.analysis import NothingToShow
from autocnn.report.load import ModelMetrics
from autocnn.report.plots import ACCENT, MUTED, WARN, add_axes, nan_array, new_figure


def _under(counts: np.ndarray | None) -> np.ndarray:
    """Under-represented classes: fewer than half the mean count (autocnn.data's rule)."""
    if counts is None or len(counts) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(counts) < 0.5 * np.mean(counts)


def _draw_confusion(figure: Figure, axis, model: ModelMetrics) -> None:
    matrix = np.asarray(model.confusion, dtype=float)
    n = len(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    axis.grid(False)
    image = axis.imshow(share, cmap="Blues", vmin=0, vmax=1)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                axis.text(
                    j,
                    i,
                    f"{int(matrix[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=8 if n > 10 else 9,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    step = 1 if n <= 20 else 5
    axis.set_xticks(range(0, n, step))
    axis.set_yticks(range(0, n, step))
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(f"Confusion matrix \u2014 {model.split} set")
    figure.colorbar(image, ax=axis, label="share of the true class", shrink=0.8)


def confusion_figure(model: ModelMetrics) -> Figure:
    """Row-normalised confusion matrix (recall per true class); counts written when few classes."""
    if model.confusion is None:
        raise NothingToShow(f"{model.name} has no confusion matrix")
    size = min(4.5 + 0.28 * len(model.confusion), 10)
    figure = new_figure(size + 1.2, size)
    _draw_confusion(figure, add_axes(figure), model)
    return figure


def _draw_per_class(axis, model: ModelMetrics) -> None:
    acc = nan_array(model.per_class_acc)
    n = len(acc)
    under = _under(model.class_counts) if model.class_counts is not None else np.zeros(n, bool)
    colors = [WARN if u else ACCENT for u in under]
    axis.bar(range(n), np.nan_to_num(acc), color=colors, edgecolor="white")
    if model.balanced_accuracy is not None:
        axis.axhline(model.balanced_accuracy, color="black", ls="--", lw=1)
        axis.text(n - 0.5, model.balanced_accuracy, " balanced acc.", va="bottom", ha="right")
    if under.any():
        handles = [
            Patch(color=ACCENT, label="class"),
            Patch(color=WARN, label="under-represented (< \u00bd mean count)"),
        ]
        axis.legend(handles=handles, loc="upper center", ncol=2)
    axis.set_ylim(0, 1.2)  # headroom for the legend above the bars
    axis.set_yticks(np.linspace(0, 1, 6))
    axis.set_xticks(range(0, n, 1 if n <= 20 else 5))
    axis.set_xlabel("class")
    axis.set_ylabel("accuracy (recall)")
    axis.set_title(f"Per-class accuracy \u2014 {model.split} set")


def per_class_figure(model: ModelMetrics) -> Figure:
    """Accuracy (recall) per class with under-represented classes marked."""
    if not model.per_class_acc:
        raise NothingToShow(f"{model.name} has no per-class accuracy")
    figure = new_figure(min(max(7, 0.25 * len(model.per_class_acc) + 4), 14), 3.8)
    _draw_per_class(add_axes(figure), model)
    return figure


def model_figure(model: ModelMetrics, title: str) -> Figure:
    """Confusion matrix and per-class accuracy side by side, under one title."""
    if model.confusion is None or not model.per_class_acc:
        raise NothingToShow(f"{model.name} has no confusion matrix")
    n = len(model.confusion)
    height = min(3.6 + 0.25 * n, 9)
    figure = new_figure(12.5, height)
    left, right = add_axes(figure, 1, 2, width_ratios=[1, 1.25])
    _draw_confusion(figure, left, model)
    _draw_per_class(right, model)
    figure.suptitle(title, fontsize=13.5, fontweight="bold")
    return figure


def class_distribution_figure(model: ModelMetrics) -> Figure:
    """Images per class of the evaluated set, with the under-representation threshold."""
    if model.class_counts is None or len(model.class_counts) == 0:
        raise NothingToShow(f"{model.name} has no class counts (no confusion matrix)")
    counts = np.asarray(model.class_counts, dtype=float)
    n = len(counts)
    under = _under(counts)
    figure = new_figure(min(max(7, 0.25 * n + 4), 14), 3.6)
    axis = add_axes(figure)
    axis.bar(range(n), counts, color=[WARN if u else MUTED for u in under], edgecolor="white")
    axis.axhline(counts.mean(), color="black", lw=1, label=f"mean ({counts.mean():.0f})")
    axis.axhline(0.5 * counts.mean(), color=WARN, ls="--", lw=1, label="\u00bd mean")
    axis.set_xticks(range(0, n, 1 if n <= 20 else 5))
    axis.set_xlabel("class")
    axis.set_ylabel("images")
    axis.set_title(f"Class distribution \u2014 {model.split} set ({int(counts.sum())} images)")
    axis.set_ylim(0, counts.max() * 1.22)  # headroom for the legend above the bars
    axis.legend(loc="upper center", ncol=2)
    return figure
