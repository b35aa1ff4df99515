"""Build a report: read the source, draw every figure, write PNGs, report.json and report.html.

What cannot be drawn for a run (no successful evaluation, one budget only, no history) becomes a
note in its place; the report is written all the same.

Example::

    result = report("runs/kmnist")          # -> runs/kmnist/report/report.html
    print(result.html, len(result.images))
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from autocnn.errors import RunError
from autocnn.report import model_figures, plots
from autocnn.report import study as studies
from autocnn.report.analysis import (
    NothingToShow,
    incumbent_trajectory,
    rank_correlations,
    top_configs,
)
from autocnn.report.html import Document, Image, Note, Section, Table, render
from autocnn.report.importance import hyperparameter_importance
from autocnn.report.load import (
    ModelMetrics,
    RunData,
    Source,
    find_model_metrics,
    is_autocnn_study,
    load_source,
)
from autocnn.report.study_page import study_sections
from autocnn.report.tables import (
    failures_table,
    overview_table,
    per_class_table,
    tables_from_json,
    top_configs_table,
)

HTML_NAME = "report.html"
JSON_NAME = "report.json"
TOP_IMPORTANCE = 15  # hyperparameters shown in the importance figure and table


@dataclass
class ReportResult:
    """Where the report went and what it holds."""

    out: Path
    html: Path
    images: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be drawn, and why


class _Builder:
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
        header = [f"{model.split} set", f"{model.n_classes} classes"]
        if model.accuracy is not None:
            header.append(f"accuracy {model.accuracy:.4f}")
        if model.balanced_accuracy is not None:
            header.append(f"balanced accuracy {model.balanced_accuracy:.4f}")
        section.items.append(Note(f"{model.name}: " + ", ".join(header) + "."))
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
        facts = [f"{model.split} set", f"{model.n_classes} classes"]
        if model.accuracy is not None:
            facts.append(f"accuracy {model.accuracy:.4f}")
        if model.balanced_accuracy is not None:
            facts.append(f"balanced accuracy {model.balanced_accuracy:.4f}")
        self.figure(
            section,
            f"{prefix}model.png",
            title,
            lambda: model_figures.model_figure(model, f"{title} ({model.split} set)"),
            ", ".join(facts).capitalize() + ". Left: rows are true classes, columns predicted "
            "ones; colour: share of the row (recall on the diagonal), numbers: images. Right: "
            "recall per class; orange: under-represented classes; dashed: balanced accuracy.",
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


def _incumbent_model(run: RunData) -> ModelMetrics | None:
    if run.incumbent is None:
        return None
    evaluation = next(e for e in run.evaluations if e.id == run.incumbent.evaluation_id)
    name = f"config {run.incumbent.config_id} at budget {evaluation.budget:g}"
    # The store's metrics are the validation set's (search never reads the test set).
    found = find_model_metrics(evaluation.metrics or {}, name, split="validation")
    return found[0] if found else None


def _prepare_out(out: Path, overwrite: bool) -> None:
    if (out / HTML_NAME).exists():
        if not overwrite:
            raise RunError(
                f"{out} already holds a report ({HTML_NAME}); pass --force (overwrite=True) to "
                "replace it or choose another --out folder (nothing was overwritten)"
            )
        try:  # drop the previous report's images so no stale PNG survives
            previous = json.loads((out / JSON_NAME).read_text()).get("images", [])
        except (OSError, ValueError, AttributeError):
            previous = []
        for name in previous:
            if isinstance(name, str) and os.sep not in name and name.endswith(".png"):
                (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def default_out(source: str | Path) -> Path:
    """``RUN/report`` for a folder, ``NAME-report`` beside a JSON file."""
    source = Path(source)
    return source.parent / f"{source.stem}-report" if source.is_file() else source / "report"


def report(
    source: str | Path,
    out: str | Path | None = None,
    *,
    metrics: list[str | Path] | None = None,
    top: int = 5,
    force: bool = False,
    preface: Section | None = None,
    title: str | None = None,
) -> ReportResult:
    """Write PNGs, ``report.json`` and a self-contained ``report.html`` for a run or study.

    ``source`` is a run folder, a study folder or a metrics JSON (see :mod:`autocnn.report.load`);
    ``metrics`` adds JSON files with confusion matrices (e.g. a test-set evaluation); ``top`` is
    the number of configurations tabled and plotted. ``out`` defaults to ``SOURCE/report``; an
    existing report there is replaced only with ``force=True``. A caller that knows more than the
    files (``fit``: its plan and decisions) puts it first as ``preface``, under ``title``.
    """
    if top < 1:
        raise RunError(f"top must be at least 1, got {top}")
    loaded = load_source(source, metrics)
    out_dir = Path(out) if out is not None else default_out(source)
    _prepare_out(out_dir, force)
    builder = _Builder(out_dir)
    document = Document(title or _title(loaded), _subtitle(loaded))
    if preface is not None:
        document.sections.append(preface)
    if loaded.notes:
        document.sections.append(Section("Notes", [Note(n, "warning") for n in loaded.notes]))
    if is_autocnn_study(loaded.study):
        document.sections += study_sections(builder, loaded, top)
    elif loaded.study is not None:
        section = Section("Study results")
        tables = tables_from_json(loaded.study)
        section.items.append(
            Note(
                "Tables read from study.json as they are (the reader knows no schema; every "
                "list of records or mapping of values becomes a table, titled by its place in "
                "the file)."
            )
        )
        section.items.extend(tables or [Note("study.json holds nothing table-like.")])
        document.sections.append(section)
    many = len(loaded.runs) > 1
    for index, run in enumerate([] if is_autocnn_study(loaded.study) else loaded.runs):
        prefix = f"run{index + 1}-" if many else ""
        label = f" \u2014 {run.name}" if many else ""
        document.sections += builder.run_sections(run, prefix, label, top)
    if loaded.models:
        section = Section("Evaluated models")
        for index, model in enumerate(loaded.models):
            builder.model_items(section, model, f"model{index + 1}-")
        document.sections.append(section)
    html_path = out_dir / HTML_NAME
    tmp = html_path.with_suffix(".html.tmp")
    tmp.write_text(render(document, out_dir), encoding="utf-8")
    tmp.replace(html_path)
    payload = {
        "source": str(source),
        "images": [p.name for p in builder.images],
        "notes": builder.notes,
        **builder.numbers,
    }
    (out_dir / JSON_NAME).write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return ReportResult(out_dir, html_path, builder.images, builder.notes)


def _title(source: Source) -> str:
    kinds = {"run": "run", "study": "study", "metrics": "evaluation"}
    return f"autocnn {kinds[source.kind]} report \u2014 {source.path.name or source.path}"


def _subtitle(source: Source) -> str:
    if is_autocnn_study(source.study):
        return studies.subtitle(source.study, source.path)
    if source.kind == "run" and source.runs:
        settings = source.runs[0].run_settings
        bits = [settings.get("dataset"), settings.get("space"), settings.get("method")]
        return " \u00b7 ".join(str(b) for b in bits if b) + f" \u00b7 {source.path}"
    return str(source.path)
