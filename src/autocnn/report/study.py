"""The study part of a report: final table, transfer comparison, runtimes, final evaluations.

Reads what ``autocnn study`` writes (see :mod:`autocnn.study.pipeline`): ``study.json`` with
``summary`` (per role ``source`` / ``dest``: dataset, best method, test balanced accuracy per
method as ``{mean, std, values}``), ``rows`` (one per dataset and method), ``settings``,
``preset``, ``datasets`` and ``stage_seconds``; and each final evaluation's ``metrics.json``
(per-seed test confusion matrices). This module only reads them; the study package is above the
report in the import order, so the few labels it shares are repeated here.

Example::

    payload = read_json(Path("studies/local/study.json"))
    final_table(payload).rows[1]
    # ['k49 (dest)', '81.02 ± 0.40', '88.10 ± 0.31', '86.3 ± 0.2', '89.0 ± 0.3', 'config transfer']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from autocnn.errors import RunError
from autocnn.report.analysis import NothingToShow
from autocnn.report.html import Table
from autocnn.report.load import ModelMetrics, _as_confusion, read_json
from autocnn.report.plots import MUTED, add_axes, new_figure

ROLES = ("source", "dest")
# The final table's columns, as study.md writes them (autocnn.study.table).
METHODS = {
    "default": "default",
    "bohb": "BOHB",
    "weights": "weight transfer",
    "config": "config transfer",
}
COLORS = {"default": "#9aa4ad", "bohb": "#1f6fb4", "weights": "#e07b24", "config": "#2e9d5b"}
# Search runs of a study, in pipeline order: folder -> (role, what it searched).
RUNS = {
    "runs/bohb-source": ("source", "BOHB search"),
    "runs/config-dest": ("dest", "configuration transfer search"),
    "runs/bohb-dest": ("dest", "BOHB search from scratch"),
}


def mean_std(stat: Any) -> str:
    """``"97.12 ± 0.31"`` (percent) for a ``{mean, std}`` dict; ``"-"`` when missing.

    >>> mean_std({"mean": 0.97123, "std": 0.0031}), mean_std(None)
    ('97.12 ± 0.31', '-')
    """
    if not isinstance(stat, dict) or not _number(stat.get("mean")):
        return "-"
    std = stat.get("std") if _number(stat.get("std")) else 0.0
    return f"{100 * stat['mean']:.2f} \u00b1 {100 * std:.2f}"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _percent(value: Any) -> str:
    return f"{100 * value:.2f}" if _number(value) else "-"


def _dataset(study: dict[str, Any], role: str) -> str:
    info = study["summary"].get(role)
    name = info.get("dataset") if isinstance(info, dict) else None
    return str(name or study.get("settings", {}).get(role) or role)


def final_table(study: dict[str, Any]) -> Table:
    """study.md's first table: per dataset, test balanced accuracy of each method and the best."""
    rows, strong = [], []
    for role in ROLES:
        info = study["summary"].get(role)
        if not isinstance(info, dict):
            continue
        cells = info.get("test_balanced_acc") or {}
        best = info.get("best")
        row = [f"{_dataset(study, role)} ({role})"]
        row += [mean_std(cells.get(method)) for method in METHODS]
        row.append(METHODS.get(best, best or "-"))
        if best in METHODS:
            strong.append((len(rows), 1 + list(METHODS).index(best)))
        rows.append(row)
    seeds = study.get("preset", {}).get("seeds")
    over = f"{seeds} final-evaluation seeds" if seeds else "the final-evaluation seeds"
    return Table(
        "Final table: test balanced accuracy [%]",
        ["dataset", *METHODS.values(), "best"],
        rows,
        f"Mean \u00b1 std over {over}, on each dataset's test set (read only by the final "
        "evaluations). BOHB on the destination searches from scratch; weight transfer fine-tunes "
        "the source model; config transfer runs BOHB on the space reduced by the source search. "
        "Bold: the best mean. '-': not run.",
        strong=strong,
    )


def detail_table(study: dict[str, Any]) -> Table:
    """study.md's second table: train / validation / test accuracy, size and runtimes."""
    rows = []
    for r in study["rows"]:
        role = r.get("dataset")
        rows.append(
            [
                _dataset(study, role) if role in ROLES else role,
                r.get("label") or METHODS.get(r.get("method"), r.get("method")),
                mean_std(r.get("train_acc")),
                _percent(r.get("val_acc")),
                _percent(r.get("val_balanced_acc")),
                mean_std(r.get("test_acc")),
                mean_std(r.get("test_balanced_acc")),
                _percent(r.get("ensemble_test_balanced_acc")),
                mean_std(r.get("test_worst_class_acc")),
                r.get("imbalance") or "-",
                r.get("n_params"),
                r.get("epochs"),
                f"{r['search_seconds']:.1f}" if _number(r.get("search_seconds")) else "-",
                f"{r['final_seconds']:.1f}" if _number(r.get("final_seconds")) else "-",
            ]
        )
    return Table(
        "Details per method",
        ["dataset", "method", "train acc", "val acc", "val bal. acc", "test acc",
         "test bal. acc", "ensemble bal. acc", "worst-class acc", "imbalance", "parameters",
         "final epochs",
         "search [s]", "final [s]"],
        rows,
        "Accuracies in %. Validation: the search's incumbent (BOHB, config transfer) or a "
        "validation run (default config, weight transfer); train and test: mean \u00b1 std over "
        "the final-evaluation seeds; worst-class: the lowest per-class test accuracy of "
        "each seed's model ('-': a study from before it was recorded); ensemble: the seeds' "
        "models as one (probabilities averaged; 2+ seeds); imbalance: the class-imbalance "
        "handling the final models trained with. Search seconds: wall time of the "
        "search; final seconds: all "
        "seeds' final training and testing.",
        compact=True,
    )  # fmt: skip


def datasets_table(study: dict[str, Any]) -> Table | None:
    """The two datasets: size, classes, image shape and class imbalance."""
    info = study.get("datasets")
    if not isinstance(info, dict) or not info:
        return None
    rows = []
    for role in ROLES:
        d = info.get(role)
        if isinstance(d, dict):
            shape = d.get("input_shape")
            rows.append(
                [
                    role,
                    d.get("name"),
                    d.get("n_train"),
                    d.get("n_classes"),
                    "\u00d7".join(str(s) for s in shape) if isinstance(shape, list) else shape,
                    d.get("imbalance_ratio"),
                ]
            )
    return Table(
        "Datasets",
        ["role", "dataset", "training images", "classes", "image shape", "imbalance ratio"],
        rows,
        "Training part (search and fine-tuning split it further into train / validation). "
        "Imbalance ratio: images of the largest class / images of the smallest.",
    )


def settings_table(study: dict[str, Any]) -> Table:
    """The study's settings and preset as compact key/value rows."""
    settings = study.get("settings") if isinstance(study.get("settings"), dict) else {}
    preset = study.get("preset") if isinstance(study.get("preset"), dict) else {}
    rows: list[list[Any]] = [[k.replace("_", " "), v] for k, v in settings.items()]
    rows.append(["metric", study.get("metric")])
    if preset:
        budgets = f"{preset.get('min_budget', 0):.3g} \u2026 {preset.get('max_budget', 0):.3g}"
        searches = f"{preset.get('iterations')} BOHB iterations"
        if preset.get("source_search_seconds") is not None:  # time-budgeted searches
            searches = (
                f"BOHB for {preset['source_search_seconds']:.0f} s on the source, "
                f"{preset.get('dest_search_seconds', 0):.0f} s per search on the destination"
            )
        rows.append(
            [
                f"preset {preset.get('name', '')}".strip(),
                f"eta {preset.get('eta')}, budgets {budgets} epochs, "
                f"{searches}; final training "
                f"{preset.get('final_epochs')} epochs \u00d7 {preset.get('seeds')} seeds; "
                f"fine-tuning {preset.get('finetune_epochs')} epochs (head only for "
                f"{preset.get('freeze_epochs')}, backbone lr \u00d7"
                f"{preset.get('backbone_lr_factor')})",
            ]
        )
    rows = [[k, v] for k, v in rows if v is not None]
    return Table("Settings", ["", "value"], rows, align_numbers=False)


def stage_table(study: dict[str, Any]) -> Table | None:
    """Seconds per pipeline stage, with its share of the total."""
    stages = study.get("stage_seconds")
    if not isinstance(stages, dict):
        return None
    times = {k: float(v) for k, v in stages.items() if _number(v)}
    total = sum(times.values())
    if not times or total <= 0:
        return None
    rows: list[list[Any]] = [
        [name, f"{seconds:.1f}", f"{100 * seconds / total:.0f} %"]
        for name, seconds in times.items()
    ]
    rows.append(["total", f"{total:.1f}", "100 %"])
    return Table(
        "Runtime per stage",
        ["stage", "seconds", "share"],
        rows,
        "Wall time of each pipeline stage (a resumed stage counts its last run only).",
        strong=[(len(rows) - 1, 0), (len(rows) - 1, 1)],
    )


def comparison_figure(study: dict[str, Any]) -> Figure:
    """Per dataset one bar per method: mean test balanced accuracy, std error bars, seed dots."""
    groups = []
    for role in ROLES:
        info = study["summary"].get(role)
        cells = info.get("test_balanced_acc") if isinstance(info, dict) else None
        if isinstance(cells, dict):
            present = [m for m in METHODS if isinstance(cells.get(m), dict)]
            present = [m for m in present if _number(cells[m].get("mean"))]
            if present:
                groups.append((role, info.get("best"), {m: cells[m] for m in present}))
    if not groups:
        raise NothingToShow("study.json holds no test balanced accuracy")
    figure = new_figure(max(7.0, 1.6 + 3.2 * len(groups)), 4.6)
    axis = add_axes(figure)
    width = 0.8 / len(METHODS)
    top = 0.0
    for g, (_role, best, cells) in enumerate(groups):
        for m, method in enumerate(METHODS):
            if method not in cells:
                continue
            stat = cells[method]
            x = g + (m - (len(METHODS) - 1) / 2) * width
            mean = 100 * stat["mean"]
            std = 100 * stat["std"] if _number(stat.get("std")) else 0.0
            axis.bar(
                x, mean, width * 0.92, yerr=std, capsize=4, color=COLORS[method],
                edgecolor="black" if method == best else "white",
                linewidth=1.6 if method == best else 0.5,
                label=METHODS[method] if g == 0 or method not in groups[0][2] else None,
            )  # fmt: skip
            values = [100 * v for v in stat.get("values") or [] if _number(v)]
            axis.scatter([x] * len(values), values, s=12, color="black", zorder=3, alpha=0.6)
            label = f"{mean:.1f}" + ("\n\u2605 best" if method == best else "")
            axis.text(x, mean + std + 1.0, label, ha="center", va="bottom", fontsize=9)
            top = max(top, mean + std, *values)
    axis.set_xticks(range(len(groups)), [f"{_dataset(study, r)}\n({r})" for r, _, _ in groups])
    axis.set_ylabel("test balanced accuracy [%]")
    axis.set_ylim(0, min(100.0, top * 1.18 + 6) if top < 90 else 108)
    axis.set_xlim(-0.6, len(groups) - 0.4)
    axis.grid(axis="x", visible=False)
    axis.set_title("Transfer comparison: test balanced accuracy per method")
    handles, labels = axis.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: list(METHODS.values()).index(labels[i]))
    axis.legend(
        [handles[i] for i in order], [labels[i] for i in order],
        loc="upper left", ncol=len(order), frameon=False,
    )  # fmt: skip
    axis.axhline(0, color=MUTED, lw=0.8)
    return figure


@dataclass
class FinalEvaluation:
    """One final evaluation of a study: which dataset and method, its pooled test results."""

    role: str
    dataset: str
    method: str
    label: str
    folder: str  # relative to the study folder
    n_seeds: int
    model: ModelMetrics | None  # seeds' test confusion matrices summed; None if none stored
    note: str = ""

    @property
    def title(self) -> str:
        return f"{self.dataset} ({self.role}) \u2014 {self.label}"


def _metrics_folder(root: Path, model: Any) -> Path | None:
    """The folder holding metrics.json above a row's model path (inside the study folder)."""
    if not isinstance(model, str) or not model:
        return None
    for parent in Path(model).parents:
        if str(parent) in ("", ".") or parent.is_absolute() or ".." in parent.parts:
            continue
        if (root / parent / "metrics.json").is_file():
            return parent
    return None


def load_final_evaluations(root: Path, study: dict[str, Any]) -> list[FinalEvaluation]:
    """Each row's final evaluation, its seeds' test confusion matrices summed into one model."""
    found = []
    for row in study["rows"]:
        role = str(row.get("dataset"))
        method = str(row.get("method"))
        label = str(row.get("label") or METHODS.get(method, method))
        dataset = _dataset(study, role) if role in ROLES else role
        folder = _metrics_folder(root, row.get("model"))
        if folder is None:
            found.append(
                FinalEvaluation(role, dataset, method, label, "", 0, None,
                                f"no metrics.json found for model {row.get('model')}")
            )  # fmt: skip
            continue
        try:
            payload = read_json(root / folder / "metrics.json")
        except RunError as error:
            found.append(FinalEvaluation(role, dataset, method, label, str(folder), 0, None,
                                         str(error)))  # fmt: skip
            continue
        seeds = payload.get("per_seed") if isinstance(payload, dict) else None
        matrices = [
            _as_confusion(s.get("test_confusion"))
            for s in seeds or []
            if isinstance(s, dict) and s.get("status", "ok") == "ok"
        ]
        matrices = [m for m in matrices if m is not None]
        shapes = {m.shape for m in matrices}
        if not matrices or len(shapes) != 1:
            why = "no per-seed test confusion matrix" if not matrices else "matrices differ"
            found.append(FinalEvaluation(role, dataset, method, label, str(folder), 0, None,
                                         f"{folder}/metrics.json: {why}"))  # fmt: skip
            continue
        summary = payload.get("summary") if isinstance(payload.get("summary"), dict) else {}
        counts = summary.get("class_counts_train")
        if not isinstance(counts, list) or len(counts) != len(matrices[0]):
            counts = None
        pooled = ModelMetrics(
            f"{dataset} \u2014 {label}", "test", np.sum(matrices, axis=0), train_counts=counts
        )
        found.append(
            FinalEvaluation(role, dataset, method, label, str(folder), len(matrices), pooled)
        )
    return found


def run_title(study: dict[str, Any], name: str) -> tuple[int, str]:
    """(order, section title) of a study's run folder; unknown runs come last, by name."""
    if name in RUNS:
        role, what = RUNS[name]
        return list(RUNS).index(name), f"{what} on {_dataset(study, role)} ({role})"
    return len(RUNS), f"run {name}"


def subtitle(study: dict[str, Any], path: Path) -> str:
    settings = study.get("settings") if isinstance(study.get("settings"), dict) else {}
    bits = [
        f"{_dataset(study, 'source')} \u2192 {_dataset(study, 'dest')}",
        f"preset {settings.get('preset')}" if settings.get("preset") else None,
        f"space {settings.get('space')}" if settings.get("space") else None,
        f"seed {settings.get('seed')}" if settings.get("seed") is not None else None,
        str(path),
    ]
    return " \u00b7 ".join(b for b in bits if b)
