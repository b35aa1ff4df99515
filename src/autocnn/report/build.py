"""Build a report: read the source, draw every figure, write PNGs, report.json and report.html.

What cannot be drawn for a run (no successful evaluation, one budget only, no history) becomes a
note in its place; the report is written all the same.

Example::

    result = report("runs/kmnist")          # -> runs/kmnist/report/report.html
    print(result.html, len(result.images))
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from autocnn.errors import RunError
from autocnn.report import study as studies
from autocnn.report.html import Document, Note, Section, render
from autocnn.report.load import Source, is_autocnn_study, load_source
from autocnn.report.sections import Builder
from autocnn.report.study_page import study_sections
from autocnn.report.tables import tables_from_json

HTML_NAME = "report.html"
JSON_NAME = "report.json"


@dataclass
class ReportResult:
    """Where the report went and what it holds."""

    out: Path
    html: Path
    images: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be drawn, and why


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
    builder = Builder(out_dir)
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
