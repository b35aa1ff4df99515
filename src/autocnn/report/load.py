"""Read what a report shows: a run folder, a study folder, or a metrics JSON, read-only.

A report never trains and never writes into what it reads. Three inputs are understood:

- a **run folder** (``run.db`` from ``autocnn optimize``): the SQLite store, opened read-only, gives
  settings, configs and every evaluation with its metrics (per-epoch ``history``, validation
  ``confusion`` and ``per_class_acc``) and timestamps;
- a **study folder** (``study.json`` and/or run folders below it): every run found (up to three
  levels deep). A ``study.json`` written by ``autocnn study`` (it has ``summary`` and ``rows``) is
  rendered by :mod:`autocnn.report.study`, which reads its final evaluations itself; any other
  ``study.json`` is shown table by table, and every JSON file below the folder that holds a
  confusion matrix becomes an evaluated model;
- a **metrics JSON** file: any JSON holding ``confusion`` (a square list of lists) and/or
  ``per_class_acc`` somewhere inside it.

The study and metrics readers are deliberately tolerant: they agree on no schema, they look for
shapes (a square matrix under a key naming a confusion, a list of dicts that is a table).

Example::

    source = load_source("runs/kmnist")
    run = source.runs[0]
    print(run.name, len(run.finished), run.budgets)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autocnn.errors import RunError
from autocnn.optimize.store import (
    STORE_NAME,
    ConfigRow,
    EvaluationRow,
    Incumbent,
    Store,
)

STUDY_FILE = "study.json"
MAX_DEPTH = 3  # how deep below a study folder runs and metrics files are looked for
MAX_MODELS = 12  # confusion matrices shown per report, at most


@dataclass
class RunData:
    """Everything a report needs from one run folder, read once from its store."""

    path: Path
    name: str
    settings: dict[str, Any]
    configs: dict[int, ConfigRow]
    evaluations: list[EvaluationRow]
    incumbent: Incumbent | None

    @property
    def run_settings(self) -> dict[str, Any]:
        """The settings ``api.optimize`` stored (dataset, space, method, budgets, ...)."""
        run = self.settings.get("run")
        return dict(run) if isinstance(run, dict) else {}

    @property
    def finished(self) -> list[EvaluationRow]:
        """Evaluations with a result (any status), in order of finishing."""
        done = [e for e in self.evaluations if e.status != "pending"]
        return sorted(done, key=lambda e: (e.finished or e.submitted, e.id))

    @property
    def ok(self) -> list[EvaluationRow]:
        return [e for e in self.finished if e.status == "ok" and _finite(e.loss)]

    @property
    def failures(self) -> list[EvaluationRow]:
        return [e for e in self.finished if e.status != "ok"]

    @property
    def budgets(self) -> list[float]:
        """The distinct budgets that have at least one finished evaluation, ascending."""
        return sorted({e.budget for e in self.finished})

    @property
    def t0(self) -> float:
        """Wall-clock start of the run: the first submission (Unix seconds)."""
        return min((e.submitted for e in self.evaluations), default=0.0)

    @property
    def budget_unit(self) -> str:
        fidelity = self.run_settings.get("fidelity", "epochs")
        if fidelity == "time":
            return "seconds of training"
        return "epochs" if fidelity in ("epochs", "annealed") else f"budget ({fidelity} fidelity)"

    @property
    def cost_unit(self) -> str:
        """What an evaluation's ``cost`` counts: epochs trained (times the data fraction)."""
        return "epochs trained" if self.run_settings.get("fidelity") == "time" else self.budget_unit


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def load_run(path: str | Path, name: str | None = None) -> RunData:
    """Read a run folder's store (read-only; works while the run is still writing)."""
    path = Path(path)
    with Store.open(path / STORE_NAME if path.is_dir() else path, readonly=True) as store:
        run = RunData(
            path=path,
            name=name or path.name,
            settings=store.settings,
            configs={row.config_id: row for row in store.configs()},
            evaluations=store.evaluations(),
            incumbent=store.incumbent(),
        )
    return run


@dataclass
class ModelMetrics:
    """Class-level results of one evaluated model: confusion matrix and/or per-class accuracy."""

    name: str
    split: str  # "validation", "test" or "unknown"
    confusion: np.ndarray | None = None
    per_class_acc: list[float | None] | None = None
    class_counts: np.ndarray | None = None  # images per class of the evaluated set
    train_counts: np.ndarray | None = None  # images per class the model was trained on
    class_names: list[str] | None = None  # what the data calls each class (dir: folders)

    def __post_init__(self) -> None:
        if self.train_counts is not None:
            self.train_counts = np.asarray(self.train_counts, dtype=np.int64)
        if self.class_counts is None and self.confusion is not None:
            self.class_counts = self.confusion.sum(axis=1)
        if self.per_class_acc is None and self.confusion is not None:
            support = self.confusion.sum(axis=1)
            hits = np.diag(self.confusion)
            self.per_class_acc = [
                float(h / s) if s > 0 else None for h, s in zip(hits, support, strict=True)
            ]

    @property
    def n_classes(self) -> int:
        return len(self.per_class_acc or [])

    def per_class_rows(self) -> list[list[Any]]:
        """Per class: training images (if known), evaluated images, accuracy; the tail shows
        whether rare training classes are the ones the model gets wrong."""
        rows = []
        for c, acc in enumerate(self.per_class_acc or []):
            train = int(self.train_counts[c]) if self.train_counts is not None else None
            evaluated = int(self.class_counts[c]) if self.class_counts is not None else None
            label = f"{c} {self.class_names[c]}" if self.class_names else c
            rows.append([label, train, evaluated, acc])
        return rows

    @property
    def accuracy(self) -> float | None:
        if self.confusion is None or self.confusion.sum() == 0:
            return None
        return float(np.trace(self.confusion) / self.confusion.sum())

    @property
    def balanced_accuracy(self) -> float | None:
        present = [a for a in self.per_class_acc or [] if a is not None]
        return float(np.mean(present)) if present else None


def _as_confusion(value: Any) -> np.ndarray | None:
    """A square, non-negative numeric matrix, or None if ``value`` is not one."""
    if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
        return None
    try:
        matrix = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or not np.isfinite(matrix).all():
        return None
    if (matrix < 0).any():
        return None
    return matrix.astype(np.int64) if np.allclose(matrix, np.rint(matrix)) else matrix


def _as_accuracies(value: Any) -> list[float | None] | None:
    if not isinstance(value, list) or not value:
        return None
    if not all(v is None or (_finite(v) and not isinstance(v, bool)) for v in value):
        return None
    return [None if v is None else float(v) for v in value]


def _split_of(path: str) -> str:
    lowered = path.lower()
    if "test" in lowered:
        return "test"
    if "val" in lowered:
        return "validation"
    return "unknown"


def _train_counts(payload: Any) -> list[int] | None:
    """The first list of training images per class in ``payload``: a key naming both "train"
    and "class_counts" (``train_class_counts`` of a training result, ``class_counts_train`` of a
    final evaluation's summary)."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            lowered = str(key).lower()
            if "class_counts" in lowered and "train" in lowered and isinstance(value, list):
                if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                    return value
        for value in payload.values():
            if isinstance(value, dict) and (found := _train_counts(value)) is not None:
                return found
    return None


def find_model_metrics(payload: Any, name: str, split: str | None = None) -> list[ModelMetrics]:
    """Every dict inside ``payload`` that holds a confusion matrix or per-class accuracies.

    Keys are matched by meaning, not exact name: one containing ``confusion`` (a square matrix) and
    one containing ``per_class`` (a list of numbers or nulls). The split is taken from ``split``
    or guessed from the key path (``test`` / ``val``). Training images per class (a key with
    ``train`` and ``class_counts``, anywhere in ``payload``) go with every model of that size.

    Example::

        >>> found = find_model_metrics({"test": {"confusion": [[3, 1], [0, 4]]}}, "model")
        >>> found[0].split, found[0].per_class_acc
        ('test', [0.75, 1.0])
    """
    found: list[ModelMetrics] = []

    def visit(node: Any, path: str) -> None:
        if len(found) >= MAX_MODELS:
            return
        if isinstance(node, dict):
            confusion, per_class, hit_key = None, None, ""
            for key, value in node.items():
                lowered = str(key).lower()
                if confusion is None and "confusion" in lowered:
                    confusion, hit_key = _as_confusion(value), hit_key or str(key)
                elif per_class is None and "per_class" in lowered:
                    per_class, hit_key = _as_accuracies(value), hit_key or str(key)
            if confusion is not None and per_class is not None and len(per_class) != len(confusion):
                per_class = None  # inconsistent: trust the matrix
            if confusion is not None or per_class is not None:
                where = f"{path}.{hit_key}" if path else hit_key
                label = f"{name} ({path})" if path else name
                found.append(ModelMetrics(label, split or _split_of(where), confusion, per_class))
            for key, value in node.items():
                if isinstance(value, (dict, list)) and "confusion" not in str(key).lower():
                    visit(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
            for index, value in enumerate(node):
                visit(value, f"{path}[{index}]")

    visit(payload, "")
    counts = _train_counts(payload)
    names = _class_names(payload)
    for model in found:
        if counts is not None and len(counts) == model.n_classes:
            model.train_counts = np.asarray(counts, dtype=np.int64)
        if names is not None and len(names) == model.n_classes:
            model.class_names = names
    return found


def _class_names(payload: Any) -> list[str] | None:
    """The first ``class_names`` list of strings in ``payload`` (a final evaluation's summary
    records the training data's, for ``dir:`` sets)."""
    if isinstance(payload, dict):
        names = payload.get("class_names")
        if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
            return names
        for value in payload.values():
            if isinstance(value, dict) and (found := _class_names(value)) is not None:
                return found
    return None


def read_json(path: Path) -> Any:
    """A JSON file's content, or RunError saying what is wrong with it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"cannot read {path} as JSON ({error}); give a valid JSON file") from error


@dataclass
class Source:
    """What a report is built from: runs, evaluated models, study tables, and notes."""

    path: Path
    kind: str  # "run", "study" or "metrics"
    runs: list[RunData] = field(default_factory=list)
    models: list[ModelMetrics] = field(default_factory=list)
    study: Any = None  # the parsed study.json, if any
    notes: list[str] = field(default_factory=list)


def is_autocnn_study(payload: Any) -> bool:
    """Whether ``payload`` is the ``study.json`` that ``autocnn study`` writes."""
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("summary"), dict)
        and isinstance(payload.get("rows"), list)
        and all(isinstance(row, dict) for row in payload["rows"])
    )


def _walk(root: Path, depth: int = MAX_DEPTH) -> list[Path]:
    """Files below ``root`` up to ``depth`` levels, sorted; skips hidden and ``trials`` folders."""
    found: list[Path] = []
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or child.name == "trials":
            continue
        if child.is_dir() and depth > 0:
            found.extend(_walk(child, depth - 1))
        elif child.is_file():
            found.append(child)
    return found


def load_source(path: str | Path, metrics: list[str | Path] | None = None) -> Source:
    """Read a run folder, a study folder or a metrics JSON (see the module docstring).

    ``metrics`` are extra JSON files whose confusion matrices are added (e.g. a final evaluation
    of the run's incumbent on the test set).
    """
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path} does not exist; give a run folder, a study folder or a JSON file")
    if path.is_file():
        source = Source(path, "metrics")
        payload = read_json(path)
        source.models = find_model_metrics(payload, path.stem)
        if not source.models:
            raise RunError(
                f"{path} holds no confusion matrix or per-class accuracy (keys containing "
                "'confusion' / 'per_class'); give a metrics JSON, a run folder or a study folder"
            )
    elif (path / STORE_NAME).exists():
        source = Source(path, "run", runs=[load_run(path)])
    else:
        files = _walk(path)
        stores = [f for f in files if f.name == STORE_NAME]
        study_file = path / STUDY_FILE
        if not stores and not study_file.exists():
            raise RunError(
                f"{path} is neither a run folder ({STORE_NAME}) nor a study folder "
                f"({STUDY_FILE} or run folders inside it); give one of those or a metrics JSON"
            )
        source = Source(path, "study")
        if study_file.exists():
            source.study = read_json(study_file)
        else:
            source.notes.append(f"{path} has no {STUDY_FILE}: showing the runs found inside it.")
        for store in stores:
            relative = store.parent.relative_to(path)
            source.runs.append(load_run(store.parent, name=str(relative)))
        # An autocnn study's final evaluations are read (seeds pooled) by report.study.
        scanned = [] if is_autocnn_study(source.study) else files
        for file in scanned:
            if file.suffix != ".json" or file.stat().st_size > 20_000_000:
                continue
            try:
                payload = read_json(file)
            except RunError as error:
                source.notes.append(f"skipped {file.relative_to(path)}: {error}")
                continue
            source.models.extend(find_model_metrics(payload, str(file.relative_to(path))))
    for extra in metrics or []:
        found = find_model_metrics(read_json(Path(extra)), Path(extra).stem)
        if not found:
            raise RunError(
                f"{extra} holds no confusion matrix or per-class accuracy; give a metrics JSON "
                "such as the one a final evaluation writes"
            )
        source.models.extend(found)
    if len(source.models) > MAX_MODELS:
        source.notes.append(f"showing the first {MAX_MODELS} of {len(source.models)} models")
        source.models = source.models[:MAX_MODELS]
    return source
