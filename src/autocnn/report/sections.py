"""The sections of a run report, drawn into a report folder: the :class:`Builder` that
:func:`autocnn.report.build.report` and the study page (:mod:`autocnn.report.study_page`) share.

Each figure is drawn, saved as a PNG and placed in its section; what cannot be drawn for a run
(:class:`~autocnn.report.analysis.NothingToShow`) becomes a note in its place and in
``notes``. ``numbers`` collects what ``report.json`` holds beside the figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from autocnn.report import model_figures, plots
from autocnn.report.analysis import (
    NothingToShow,
    incumbent_trajectory,
    rank_correlations,
    top_configs,
)
from autocnn.report.html import Image, Note, Section, Table
from autocnn.report.importance import hyperparameter_importance
from autocnn.report.load import ModelMetrics, RunData, find_model_metrics
from autocnn.report.tables import (
    failures_table,
    overview_table,
    per_class_table,
    top_configs_table,
)

TOP_IMPORTANCE = 15  # hyperparameters shown in the importance figure and table


class Builder:
    """Draws sections into the report folder ``out``; collects the PNGs written (``images``),
    what could not be drawn (``notes``) and the numbers for ``report.json`` (``numbers``)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.images: list[Path] = []
        self.notes: list[str] = []
        self.numbers: dict[str, Any] = {}

    def figure(
        self, section: Section, file: str, title: str, draw: Callable[[], Figure], caption: str
    ) -> None:
        """Draw, save and add a figure; a NothingToShow becomes a note in its place."""
        try:
            figure = draw()
        except NothingToShow as reason:
            section.items.append(Note(f"{title}: {reason}."))
            self.notes.append(f"{title}: {reason}")
            return
        self.images.append(plots.save(figure, self.out / file))
        section.items.append(Image(file, title, caption))

    def run_sections(
        self, run: RunData, prefix: str, label: str, top: int, compact: bool = False
    ) -> list[Section]:
        """The sections of one run; ``compact`` (in a study) drops figures that show nothing."""
        unit = run.budget_unit
        overview = Section(f"Overview{label}", [overview_table(run)])
        if run.failures:
            overview.items.append(failures_table(run))
        if not run.finished:
            overview.items.append(Note("No evaluation has finished yet.", "warning"))

        trajectory = Section(f"Incumbent trajectory{label}")
        self.figure(
            trajectory,
            f"{prefix}trajectory.png",
            "Best validation error over wall time and over compute",
            lambda: plots.trajectory_figure(run),
            "Black: the incumbent (the best result at the largest budget reached so far, as "
            "HpBandSter defines it; it can rise when a longer-trained result arrives). Dashed: "
            f"the best result so far at each budget. Compute counts the {unit} actually trained "
            "by all evaluations, failed ones included.",
        )
        over_time = Section(f"Evaluations over time{label}")
        self.figure(
            over_time,
            f"{prefix}losses_over_time.png",
            "Losses over time",
            lambda: plots.losses_over_time_figure(run),
            "Each dot is one finished evaluation; crosses on top are failed or diverged ones.",
        )
        self.figure(
            over_time,
            f"{prefix}concurrency.png",
            "Finished and concurrent evaluations",
            lambda: plots.concurrency_figure(run),
            "Left: evaluations finished so far. Right: evaluations running at each moment; "
            "a flat line below the number of workers means idle workers.",
        )
        budgets = Section(f"Budgets: is the low fidelity trustworthy?{label}")
        self.figure(
            budgets,
            f"{prefix}histograms.png",
            "Performance histogram per budget",
            lambda: plots.histogram_figure(run),
            "Validation errors of all successful evaluations at each budget; dotted: the best.",
        )
        undefined = False
        try:
            if all(math.isnan(p.rho) for p in rank_correlations(run)):
                undefined = True
                budgets.items.append(
                    Note(
                        "No two budgets share 3 or more successfully evaluated configurations, "
                        "so no rank correlation is defined yet (n/a); longer runs fill this in."
                    )
                )
        except NothingToShow:
            pass  # the figure below says why
        if not (compact and undefined):
            self.figure(
                budgets,
                f"{prefix}correlation.png",
                "Rank correlation of losses across budgets",
                lambda: plots.correlation_figure(run),
                "Spearman's \u03c1 between the losses of the configurations evaluated at both "
                "budgets (n of them in each cell). Close to 1: a small budget ranks configurations "
                "as the large one does, so successive halving promotes the right ones.",
            )
        configs = Section(f"Top configurations{label}")
        try:
            ranked = top_configs(run, top)
        except NothingToShow as reason:
            configs.items.append(Note(f"Top configurations: {reason}."))
            ranked = []
        if ranked:
            configs.items.append(top_configs_table(ranked))
        self.figure(
            configs,
            f"{prefix}learning_curves.png",
            "Train vs validation per epoch (loss comparison)",
            lambda: plots.learning_curves_figure(run, ranked),
            "Per-epoch curves of the top configurations at the largest budget each reached. "
            "A widening gap between train (dashed, hollow squares) and validation (solid, dots) "
            "means over-fitting; a budget under one epoch gives a single point.",
        )
        importance = Section(f"Hyperparameter importance{label}")
        self._importance(importance, run, prefix)
        models = Section(f"Incumbent on the validation set{label}")
        incumbent = _incumbent_model(run)
        if incumbent is None:
            models.items.append(
                Note("The incumbent's evaluation stored no confusion matrix or per-class accuracy.")
            )
        elif compact:
            self.model_figure(
                models, incumbent, f"{prefix}incumbent-", f"Incumbent: {incumbent.name}"
            )
        else:
            self.model_items(models, incumbent, f"{prefix}incumbent-")
        self._numbers(run, prefix, ranked)
        return [overview, trajectory, over_time, budgets, configs, importance, models]

    def _importance(self, section: Section, run: RunData, prefix: str) -> None:
        try:
            result = hyperparameter_importance(run)
        except NothingToShow as reason:
            section.items.append(Note(f"Hyperparameter importance: {reason}."))
            self.notes.append(f"hyperparameter importance: {reason}")
            return
        self.numbers[f"{prefix}importance"] = {
            "budget": result.budget,
            "n_points": result.n_points,
            "oob_r2": result.fit_r2,
            "main_effect": dict(result.ranked()),
        }
        self.figure(
            section,
            f"{prefix}importance.png",
            "Which hyperparameters matter",
            lambda: plots.importance_figure(result, TOP_IMPORTANCE),
            "Left: share of the variance of a random-forest surrogate's prediction that each "
            "hyperparameter explains alone (fANOVA's main effect). Right: how much the "
            "surrogate's error grows when that hyperparameter is shuffled (includes "
            "interactions; bars: \u00b11 std over 10 shuffles).",
        )
        caution = "warning" if result.n_points < 30 else "info"
        section.items.append(Note(result.describe(), caution))
        order = [name for name, _ in result.ranked()]
        index = {name: i for i, name in enumerate(result.names)}
        rows = [
            [name, 100 * result.main_effect[index[name]], result.permutation[index[name]]]
            for name in order[:TOP_IMPORTANCE]
        ]
        shown = f"the {TOP_IMPORTANCE} largest of {len(order)}; " if len(order) > len(rows) else ""
        section.items.append(
            Table(
                "Importance values",
                ["hyperparameter", "main effect [%]", "permutation importance"],
                rows,
                f"{shown}main effects sum to {100 * result.main_effect.sum():.0f} %; the rest "
                "of the surrogate's variance comes from interactions between hyperparameters. "
                "All values are in report.json.",
                compact=True,
            )
        )

    def model_items(self, section: Section, model: ModelMetrics, prefix: str) -> None:
        section.items.append(Note(f"{model.name}: " + ", ".join(_facts(model)) + "."))
        self.figure(
            section,
            f"{prefix}confusion.png",
            f"Confusion matrix \u2014 {model.name}",
            lambda: model_figures.confusion_figure(model),
            "Rows: true class, columns: predicted class; colour: share of the row (recall on "
            "the diagonal), numbers: images.",
        )
        self.figure(
            section,
            f"{prefix}per_class.png",
            f"Per-class accuracy \u2014 {model.name}",
            lambda: model_figures.per_class_figure(model),
            "Orange (if any): under-represented classes, with fewer than half the mean number "
            "of images; dashed: balanced accuracy (the mean of the bars).",
        )
        if (table := per_class_table(model)) is not None:
            section.items.append(table)
        self.figure(
            section,
            f"{prefix}class_distribution.png",
            f"Class distribution \u2014 {model.name}",
            lambda: model_figures.class_distribution_figure(model),
            "Images per class in the evaluated set (the confusion matrix's row sums)."
            + (
                " The validation split is stratified, so it has the training part's class shares."
                if model.split == "validation"
                else ""
            ),
        )

    def model_figure(self, section: Section, model: ModelMetrics, prefix: str, title: str) -> None:
        """One figure for a model: confusion matrix and per-class accuracy side by side."""
        self.figure(
            section,
            f"{prefix}model.png",
            title,
            lambda: model_figures.model_figure(model, f"{title} ({model.split} set)"),
            ", ".join(_facts(model)).capitalize() + ". Left: rows are true classes, columns "
            "predicted ones; colour: share of the row (recall on the diagonal), numbers: images. "
            "Right: recall per class; orange: under-represented classes; dashed: balanced "
            "accuracy.",
        )
        if (table := per_class_table(model)) is not None:
            section.items.append(table)

    def _numbers(self, run: RunData, prefix: str, ranked: list) -> None:
        numbers: dict[str, Any] = {"run": str(run.path)}
        try:
            numbers["trajectory"] = [vars(s) for s in incumbent_trajectory(run)]
        except NothingToShow:
            numbers["trajectory"] = []
        try:
            numbers["rank_correlations"] = [vars(p) for p in rank_correlations(run)]
        except NothingToShow:
            numbers["rank_correlations"] = []
        numbers["top_configs"] = [
            {
                "rank": r.rank,
                "config_id": r.config_id,
                "budget": r.evaluation.budget,
                "loss": r.evaluation.loss,
                "config": r.config,
            }
            for r in ranked
        ]
        self.numbers[f"{prefix}run"] = numbers


def _facts(model: ModelMetrics) -> list[str]:
    facts = [f"{model.split} set", f"{model.n_classes} classes"]
    if model.accuracy is not None:
        facts.append(f"accuracy {model.accuracy:.4f}")
    if model.balanced_accuracy is not None:
        facts.append(f"balanced accuracy {model.balanced_accuracy:.4f}")
    return facts


def _incumbent_model(run: RunData) -> ModelMetrics | None:
    if run.incumbent is None:
        return None
    evaluation = next(e for e in run.evaluations if e.id == run.incumbent.evaluation_id)
    name = f"config {run.incumbent.config_id} at budget {evaluation.budget:g}"
    # The store's metrics are the validation set's (search never reads the test set).
    found = find_model_metrics(evaluation.metrics or {}, name, split="validation")
    return found[0] if found else None
