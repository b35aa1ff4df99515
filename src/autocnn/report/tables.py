"""The report's tables: run overview, failures, top configurations, and any table in a JSON.

:func:`tables_from_json` is the tolerant reader for a study's ``study.json``: it knows no schema
and renders what looks like a table — a list of records, a mapping of records, a mapping of
scalars — wherever it sits in the file, titled by its path.

Example::

    >>> [t.title for t in tables_from_json({"final": [{"dataset": "k49", "test_acc": 0.9}]})]
    ['final']
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from autocnn.report.analysis import RankedConfig
from autocnn.report.html import Table, format_value
from autocnn.report.load import ModelMetrics, RunData

MAX_ROWS = 200
MAX_TABLES = 30


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _record(value: Any) -> bool:
    """A dict whose values are mostly scalars (one nested value is shown as JSON)."""
    return isinstance(value, dict) and bool(value) and sum(_scalar(v) for v in value.values()) > 0


def _columns(records: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for record in records:
        columns += [str(k) for k in record if str(k) not in columns]
    return columns


def tables_from_json(payload: Any, title: str = "") -> list[Table]:
    """Every table-like value in ``payload`` (see the module docstring), at most 30."""
    tables: list[Table] = []

    def add(table: Table) -> None:
        if len(tables) < MAX_TABLES:
            if len(table.rows) > MAX_ROWS:
                table.caption = f"first {MAX_ROWS} of {len(table.rows)} rows. " + table.caption
                table.rows = table.rows[:MAX_ROWS]
            tables.append(table)

    def visit(node: Any, path: str) -> None:
        name = path or "study"
        if isinstance(node, list) and node and all(_record(v) for v in node):
            columns = _columns(node)
            add(Table(name, columns, [[r.get(c) for c in columns] for r in node], compact=True))
            return
        if not isinstance(node, dict) or not node:
            return
        records = {k: v for k, v in node.items() if _record(v)}
        if len(records) >= 2 and all(all(_scalar(x) for x in v.values()) for v in records.values()):
            columns = _columns(list(records.values()))
            rows = [[key, *[value.get(c) for c in columns]] for key, value in records.items()]
            add(Table(name, ["", *columns], rows, compact=True))
            rest = {k: v for k, v in node.items() if k not in records}
        else:
            rest = node
        scalars = [[k, v] for k, v in rest.items() if _scalar(v)]
        if scalars:
            add(Table(name if not path else f"{name} (values)", ["key", "value"], scalars))
        for key, value in rest.items():
            if isinstance(value, (dict, list)):
                visit(value, f"{path}.{key}" if path else str(key))

    visit(payload, title)
    return tables


def _when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def overview_table(run: RunData) -> Table:
    """Settings and totals of a run, as key/value rows."""
    settings = run.run_settings
    counts: dict[str, int] = {}
    for evaluation in run.evaluations:
        counts[evaluation.status] = counts.get(evaluation.status, 0) + 1
    finished = run.finished
    end = max((e.finished or e.submitted for e in finished), default=run.t0)
    rows: list[list[Any]] = [
        ["run folder", str(run.path)],
        ["dataset", settings.get("dataset")],
        ["search space", settings.get("space")],
        ["method", settings.get("method")],
        ["eta", settings.get("eta")],
        [
            "budgets",
            f"{_short(settings.get('min_budget'))} \u2026 {_short(settings.get('max_budget'))}",
        ],
        ["fidelity", settings.get("fidelity")],
        ["metric (loss = 1 \u2212 metric)", settings.get("metric")],
        ["configurations", len(run.configs)],
        ["evaluations by status", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))],
        ["started", _when(run.t0 if run.evaluations else None)],
        ["wall time [s]", round(end - run.t0, 1) if finished else None],
        ["evaluation time [s]", round(sum(e.seconds or 0.0 for e in finished), 1)],
        [f"compute [{run.cost_unit}]", round(sum(e.cost or 0.0 for e in finished), 3)],
    ]
    if run.incumbent is not None:
        inc = run.incumbent
        rows.append(
            [
                "incumbent",
                f"config {inc.config_id}: validation error {inc.loss:.4f} at budget {inc.budget:g}",
            ]
        )
    rows = [[k, format_value(v)] for k, v in rows if v is not None]
    return Table("Run overview", ["", "value"], rows, align_numbers=False)


def failures_table(run: RunData, limit: int = 20) -> Table:
    """Evaluations that did not finish ok, with the first line of their error."""
    rows = []
    for e in run.failures[:limit]:
        first_line = (e.error or "").strip().splitlines()[0] if e.error else ""
        rows.append([e.id, e.config_id, e.budget, e.status, first_line[:160]])
    caption = (
        f"{len(run.failures)} of {len(run.finished)} finished evaluations did not finish ok; "
        "they count as the worst loss for the optimizer."
    )
    if len(run.failures) > limit:
        caption += f" First {limit} shown."
    return Table(
        "Failed, diverged or crashed evaluations",
        ["evaluation", "config", "budget", "status", "error"],
        rows,
        caption,
        compact=True,
    )


def top_configs_table(ranked: list[RankedConfig]) -> Table:
    """The best configurations with their result and their hyperparameters."""
    rows = []
    for r in ranked:
        e = r.evaluation
        metrics = e.metrics or {}
        rows.append(
            [
                r.rank,
                r.config_id,
                e.budget,
                e.loss,
                metrics.get("val_acc"),
                metrics.get("val_balanced_acc"),
                metrics.get("n_params"),
                e.seconds,
                "model" if r.model_based else "random",
                ", ".join(f"{k}={_short(v)}" for k, v in sorted(r.config.items())),
            ]
        )
    return Table(
        "Top configurations",
        [
            "rank",
            "config",
            "budget",
            "val. error",
            "val. acc.",
            "val. bal. acc.",
            "parameters",
            "seconds",
            "proposed by",
            "configuration",
        ],
        rows,
        "Ranked by the largest budget reached, then by validation error (the incumbent first).",
        compact=True,
    )


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def per_class_table(model: ModelMetrics) -> Table | None:
    """Per class: training images beside accuracy, so a reader sees whether the tail improved."""
    rows = model.per_class_rows()
    if not rows:
        return None
    known = model.train_counts is not None
    caption = (
        "Training images per class beside the accuracy (recall) on the evaluated set: on a "
        "long-tailed dataset the rare classes are where imbalance handling should help."
        if known
        else "The evaluation did not record its training images per class."
    )
    return Table(
        f"Per-class accuracy and training images \u2014 {model.name}",
        ["class", "training images", f"{model.split} images", "accuracy"],
        rows,
        caption,
        compact=True,
    )
