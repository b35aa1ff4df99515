"""The report's figures, drawn with matplotlib's object API (Agg; no pyplot, no display needed).

The figures of a search run are here, those of a trained model's test metrics (confusion,
per-class accuracy, class distribution) in :mod:`autocnn.report.model_figures`. Each function
takes what it shows and returns a ``matplotlib.figure.Figure``; it raises
:class:`~autocnn.report.analysis.NothingToShow` when there is nothing to draw (the report then
prints the reason in place of the figure). :func:`save` writes a PNG.

Example::

    figure = trajectory_figure(load_run("runs/kmnist"))
    save(figure, Path("report/trajectory.png"))
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from autocnn.report.analysis import (
    NothingToShow,
    best_so_far_per_budget,
    concurrency,
    history,
    incumbent_trajectory,
    losses_by_budget,
    rank_correlations,
    time_unit,
)
from autocnn.report.importance import Importance
from autocnn.report.load import RunData

STYLE = {
    "font.size": 11,
    "axes.titlesize": 12.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9.5,
    "legend.frameon": False,
}
ACCENT, WARN, MUTED = "#1f6fb4", "#e07b24", "#9aa4ad"
DPI = 110


def new_figure(width: float, height: float) -> Figure:
    """An empty figure in the report's style (shared by every figure module of the report)."""
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def add_axes(figure: Figure, *args, **kwargs):
    """``figure.subplots(...)`` in the report's style."""
    with matplotlib.rc_context(STYLE):
        return figure.subplots(*args, **kwargs)


def save(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG at ``path`` (white background) and return the path."""
    with matplotlib.rc_context(STYLE):
        figure.savefig(path, dpi=DPI, facecolor="white")
    return path


def budget_colors(budgets: list[float]) -> dict[float, tuple]:
    """One viridis colour per budget, dark for small budgets, bright for large ones."""
    cmap = matplotlib.colormaps["viridis"]
    n = len(budgets)
    return {b: cmap(0.1 + 0.75 * (i / max(n - 1, 1))) for i, b in enumerate(sorted(budgets))}


def loss_label(run: RunData) -> str:
    """The y label of a loss: what the loss is, in words."""
    metric = str(run.run_settings.get("metric", "metric")).replace("_", " ")
    return f"validation error (1 \u2212 {metric})"


def trajectory_figure(run: RunData) -> Figure:
    """Best validation error so far vs wall time and vs epochs trained."""
    steps = incumbent_trajectory(run)
    end_seconds = max(e.finished or e.submitted for e in run.finished) - run.t0
    end_cost = sum(e.cost or 0.0 for e in run.finished)
    scale, unit = time_unit(end_seconds)
    figure = new_figure(12, 4.2)
    left, right = add_axes(figure, 1, 2, sharey=True)
    colors = budget_colors(run.budgets)
    for budget, (times, losses) in best_so_far_per_budget(run).items():
        left.step(
            np.append(times, end_seconds) / scale,
            np.append(losses, losses[-1]),
            where="post",
            color=colors[budget],
            lw=1,
            ls="--",
            alpha=0.8,
            label=f"best at budget {budget:g}",
        )
    for axis, xs, end, xlabel in (
        (left, [s.seconds / scale for s in steps], end_seconds / scale, f"wall time [{unit}]"),
        (right, [s.cost for s in steps], end_cost, f"cumulative budget [{run.cost_unit}]"),
    ):
        ys = [s.loss for s in steps]
        axis.step(xs + [end], ys + [ys[-1]], where="post", color="black", lw=2, label="incumbent")
        axis.scatter(xs, ys, c=[colors[s.budget] for s in steps], s=40, zorder=3, edgecolor="k")
        axis.set_xlabel(xlabel)
    left.set_ylabel(loss_label(run))
    left.set_title("Incumbent over wall time")
    right.set_title("Incumbent over compute")
    left.legend(loc="upper right")
    return figure


def losses_over_time_figure(run: RunData) -> Figure:
    """Every finished evaluation's loss at its finish time, coloured by budget; failures marked."""
    if not run.finished:
        raise NothingToShow("no evaluation has finished yet")
    end = max(e.finished or e.submitted for e in run.finished) - run.t0
    scale, unit = time_unit(end)
    figure = new_figure(12, 4.2)
    axis = add_axes(figure)
    colors = budget_colors(run.budgets)
    ok = run.ok
    top = max((e.loss for e in ok), default=1.0)
    for budget in run.budgets:
        chosen = [e for e in ok if e.budget == budget]
        if chosen:
            axis.scatter(
                [(e.finished - run.t0) / scale for e in chosen],
                [e.loss for e in chosen],
                color=colors[budget],
                s=36,
                edgecolor="k",
                linewidth=0.4,
                label=f"budget {budget:g}",
            )
    if run.failures:
        axis.scatter(
            [((e.finished or e.submitted) - run.t0) / scale for e in run.failures],
            [top * 1.05 + 0.01] * len(run.failures),
            marker="x",
            color="crimson",
            s=50,
            label=f"failed / diverged ({len(run.failures)})",
        )
    axis.set_xlabel(f"wall time at finish [{unit}]")
    axis.set_ylabel(loss_label(run))
    axis.set_title("Losses over time, coloured by budget")
    axis.legend(loc="upper right", ncol=2)
    return figure


def concurrency_figure(run: RunData) -> Figure:
    """Finished evaluations (cumulative) and concurrently running evaluations over time."""
    times, running, finish_times, finished = concurrency(run)
    scale, unit = time_unit(float(times[-1]) if len(times) else 0.0)
    figure = new_figure(12, 3.8)
    left, right = add_axes(figure, 1, 2)
    order = np.argsort(finish_times, kind="mergesort")
    left.step(np.r_[0, finish_times[order]] / scale, np.r_[0, finished], where="post", color=ACCENT)
    left.set_xlabel(f"wall time [{unit}]")
    left.set_ylabel("evaluations finished")
    left.set_title("Finished evaluations over time")
    left.yaxis.get_major_locator().set_params(integer=True)
    right.step(times / scale, running, where="post", color=WARN)
    right.fill_between(times / scale, running, step="post", color=WARN, alpha=0.25)
    right.set_xlabel(f"wall time [{unit}]")
    right.set_ylabel("evaluations running")
    right.set_title("Concurrent evaluations (worker utilisation)")
    right.yaxis.get_major_locator().set_params(integer=True)
    return figure


def histogram_figure(run: RunData) -> Figure:
    """Distribution of the validation error at each budget (one panel per budget)."""
    table = losses_by_budget(run)
    if not table:
        raise NothingToShow("no evaluation finished successfully, so there are no losses")
    colors = budget_colors(list(table))
    n = len(table)
    figure = new_figure(min(4.0 * n, 14), 3.6)
    axes = np.atleast_1d(add_axes(figure, 1, n, sharex=True, squeeze=False)[0])
    all_losses = np.concatenate([list(v.values()) for v in table.values()])
    low, high = float(all_losses.min()), float(all_losses.max())
    bins = np.linspace(low, high if high > low else low + 1e-3, 16)
    for axis, (budget, losses) in zip(axes, table.items(), strict=True):
        values = np.array(list(losses.values()))
        axis.hist(values, bins=bins, color=colors[budget], edgecolor="white")
        axis.axvline(values.min(), color="black", ls=":", lw=1)
        axis.set_title(f"budget {budget:g} ({len(values)} configs)")
        axis.set_xlabel("validation error")
        axis.yaxis.get_major_locator().set_params(integer=True)
    axes[0].set_ylabel("configurations")
    return figure


def correlation_figure(run: RunData) -> Figure:
    """Spearman rank correlation of the losses across budgets, as an annotated matrix."""
    pairs = rank_correlations(run)
    budgets = sorted({p.budget_a for p in pairs} | {p.budget_b for p in pairs})
    index = {b: i for i, b in enumerate(budgets)}
    n = len(budgets)
    rho = np.full((n, n), np.nan)
    counts = np.zeros((n, n), dtype=int)
    table = losses_by_budget(run)
    for i, b in enumerate(budgets):
        rho[i, i], counts[i, i] = 1.0, len(table.get(b, {}))
    for p in pairs:
        i, j = index[p.budget_a], index[p.budget_b]
        rho[i, j] = rho[j, i] = p.rho
        counts[i, j] = counts[j, i] = p.n
    figure = new_figure(max(4.8, 1.1 * n + 2.6), max(4.0, 1.0 * n + 1.6))
    axis = add_axes(figure)
    axis.grid(False)
    off_diagonal = rho.copy()
    np.fill_diagonal(off_diagonal, np.nan)
    axis.imshow(np.eye(n), cmap="Greys", vmin=0, vmax=6)  # light grey diagonal underneath
    image = axis.imshow(np.ma.masked_invalid(off_diagonal), cmap="RdBu", vmin=-1, vmax=1)
    for i in range(n):
        for j in range(n):
            if i == j:
                text, color = f"{counts[i, i]} configs", "black"
            else:
                value = rho[i, j]
                text = "n/a" if np.isnan(value) else f"\u03c1 = {value:.2f}"
                text += f"\nn = {counts[i, j]}"
                color = "white" if not np.isnan(value) and abs(value) > 0.6 else "black"
            axis.text(j, i, text, ha="center", va="center", fontsize=9.5, color=color)
    labels = [f"{b:g}" for b in budgets]
    axis.set_xticks(range(n), labels)
    axis.set_yticks(range(n), labels)
    axis.set_xlabel(f"budget [{run.budget_unit}]")
    axis.set_ylabel(f"budget [{run.budget_unit}]")
    axis.set_title("Rank correlation of losses across budgets")
    figure.colorbar(image, ax=axis, label="Spearman \u03c1", shrink=0.85)
    return figure


def learning_curves_figure(run: RunData, ranked: list) -> Figure:
    """Train vs validation loss and accuracy per epoch for the top configurations."""
    curves = [(r, history(r.evaluation)) for r in ranked]
    curves = [(r, h) for r, h in curves if h]
    if not curves:
        raise NothingToShow("the top configurations stored no per-epoch history")
    figure = new_figure(12, 4.4)
    left, right = add_axes(figure, 1, 2, sharex=True)
    cmap = matplotlib.colormaps["tab10"]
    for index, (r, records) in enumerate(curves):
        color = cmap(index % 10)
        epochs = [rec["epoch"] for rec in records]
        label = f"#{r.rank} config {r.config_id}"
        for axis, key in ((left, "loss"), (right, "acc")):
            train = [rec.get(f"train_{key}") for rec in records]
            val = [rec.get(f"val_{key}") for rec in records]
            axis.plot(
                epochs,
                nan_array(train),
                color=color,
                ls="--",
                marker="s",
                ms=5,
                lw=1.2,
                mfc="white",
            )
            axis.plot(epochs, nan_array(val), color=color, marker="o", ms=6, lw=2, label=label)
    for axis, what in ((left, "cross-entropy loss"), (right, "accuracy")):
        axis.set_xlabel("epoch")
        axis.set_ylabel(what)
    left.set_title("Loss per epoch")
    right.set_title("Accuracy per epoch")
    handles = [
        Line2D([], [], color="black", marker="o", lw=2, label="validation"),
        Line2D([], [], color="black", marker="s", mfc="white", ls="--", lw=1.2, label="train"),
    ]
    left.legend(handles=handles, loc="upper right")
    right.legend(loc="lower right")
    return figure


def nan_array(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values])


def importance_figure(importance: Importance, top: int = 15) -> Figure:
    """Main-effect share and permutation importance of the most important hyperparameters."""
    order = np.argsort(-importance.main_effect, kind="mergesort")[:top][::-1]
    names = [importance.names[i] for i in order]
    height = max(3.2, 0.32 * len(names) + 1.4)
    figure = new_figure(12, height)
    left, right = add_axes(figure, 1, 2, sharey=True)
    y = np.arange(len(names))
    left.barh(y, 100 * importance.main_effect[order], color=ACCENT)
    left.set_yticks(y, names)
    left.set_xlabel("share of the surrogate's variance [%]")
    left.set_title("Main effect (fANOVA-style)")
    right.barh(
        y,
        importance.permutation[order],
        xerr=importance.permutation_std[order],
        color=WARN,
        ecolor=MUTED,
    )
    right.set_xlabel("increase in squared error when shuffled")
    right.set_title("Permutation importance")
    return figure
