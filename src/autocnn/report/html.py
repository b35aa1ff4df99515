"""One self-contained HTML page: sections of figures, tables and notes, images inlined as base64.

The page has no external reference at all (no script, no stylesheet link, no web font, every
``<img>`` a ``data:`` URI), so it opens offline, from an e-mail attachment or a CI artefact.
Every text is escaped; only this module writes markup.

Example::

    page = Document("autocnn report", sections=[Section("Run", [Note("no evaluations yet")])])
    Path("report.html").write_text(render(page, image_dir=Path("report")))
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Image:
    """A PNG in the report folder, shown with a title and an explanation."""

    file: str  # name of the PNG, relative to the report folder
    title: str
    caption: str = ""


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""
    compact: bool = False  # small font, for wide tables
    strong: list[tuple[int, int]] = field(default_factory=list)  # (row, column) cells in bold
    align_numbers: bool = True  # False for key/value tables, which read better left-aligned


@dataclass
class Heading:
    """A sub-heading inside a section (e.g. one part of a run in a study report)."""

    text: str


@dataclass
class Note:
    """A sentence shown in place of something that could not be drawn, or a caution."""

    text: str
    kind: str = "info"  # "info" or "warning"


@dataclass
class Section:
    title: str
    items: list[Image | Table | Note | Heading] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "section"


@dataclass
class Document:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def images(self) -> list[Image]:
        return [item for s in self.sections for item in s.items if isinstance(item, Image)]


CSS = """
:root { --ink:#1d2630; --muted:#5b6773; --line:#dde3e8; --accent:#1f6fb4; --warn:#b85c00; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:#f5f7f9; }
header { background:#16324f; color:#fff; padding:22px 36px; }
header h1 { margin:0 0 4px; font-size:26px; }
header p { margin:0; color:#c9d6e3; }
nav { background:#fff; border-bottom:1px solid var(--line); padding:10px 36px; font-size:14px; }
nav { display:flex; flex-wrap:wrap; gap:2px 18px; }
nav a { color:var(--accent); text-decoration:none; white-space:nowrap; }
main { max-width:1320px; margin:0 auto; padding:8px 36px 48px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; margin:22px 0;
  padding:6px 24px 18px; }
h2 { font-size:20px; border-bottom:2px solid var(--accent); padding-bottom:4px; }
h3 { font-size:16px; margin:18px 0 6px; }
h3.part { font-size:17px; color:var(--accent); margin-top:30px; padding-top:10px;
  border-top:1px solid var(--line); }
td.strong { font-weight:700; background:#e7f3e9; }
figure { margin:10px 0 22px; }
figure img { max-width:100%; height:auto; border:1px solid var(--line); border-radius:4px; }
figcaption, .caption { color:var(--muted); font-size:13.5px; margin-top:4px; }
table { border-collapse:collapse; margin:6px 0 4px; font-size:14px; }
th, td { border-bottom:1px solid var(--line); padding:4px 10px; text-align:left;
  vertical-align:top; }
th { background:#eef2f5; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
table.compact { font-size:12.5px; }
table.compact td.config { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:11.5px;
  max-width:640px; }
.note { border-left:4px solid var(--accent); background:#eef5fb; padding:8px 12px;
  margin:10px 0; }
.note.warning { border-color:var(--warn); background:#fdf3e8; }
.scroll { overflow-x:auto; }
footer { color:var(--muted); font-size:13px; text-align:center; padding:12px; }
"""


def format_value(value: Any) -> str:
    """A cell's text: floats to 4 significant digits, None as a dash, nested values as JSON.

    >>> format_value(0.123456), format_value(None), format_value(1e-5)
    ('0.1235', '\u2014', '1e-05')
    """
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        import json

        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)


# Numbers written as text ("97.12 ± 0.31", "14.0") are right-aligned like numbers.
_NUMERIC_TEXT = re.compile(r"^-?\d+(\.\d+)?( \u00b1 \d+(\.\d+)?)?$")


def _is_number(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_NUMERIC_TEXT.match(value))
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _table(table: Table) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(str(c))}</th>" for c in table.columns)
    body = []
    strong = set(table.strong)
    for r, row in enumerate(table.rows):
        cells = []
        for c, (column, value) in enumerate(zip(table.columns, row, strict=False)):
            number = table.align_numbers and _is_number(value)
            css = "num" if number else ("config" if column == "configuration" else "")
            css = f"{css} strong".strip() if (r, c) in strong else css
            attr = f' class="{css}"' if css else ""
            cells.append(f"<td{attr}>{esc(format_value(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    css = ' class="compact"' if table.compact else ""
    caption = f'<p class="caption">{esc(table.caption)}</p>' if table.caption else ""
    return (
        f'<h3>{esc(table.title)}</h3><div class="scroll"><table{css}><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>{caption}"
    )


def _image(image: Image, image_dir: Path) -> str:
    esc = html.escape
    encoded = base64.b64encode((image_dir / image.file).read_bytes()).decode("ascii")
    caption = f"<figcaption>{esc(image.caption)}</figcaption>" if image.caption else ""
    return (
        f"<h3>{esc(image.title)}</h3><figure>"
        f'<img src="data:image/png;base64,{encoded}" alt="{esc(image.title)}" '
        f'data-file="{esc(image.file)}">{caption}</figure>'
    )


def _note(note: Note) -> str:
    kind = "note warning" if note.kind == "warning" else "note"
    return f'<div class="{kind}">{html.escape(note.text)}</div>'


def render(document: Document, image_dir: Path) -> str:
    """The document as one HTML string; PNGs are read from ``image_dir`` and inlined."""
    esc = html.escape
    anchors: list[str] = []
    for section in document.sections:  # unique ids, even for sections with the same title
        anchor, n = section.anchor, 2
        while anchor in anchors:
            anchor, n = f"{section.anchor}-{n}", n + 1
        anchors.append(anchor)
    nav = "".join(
        f'<a href="#{a}">{esc(s.title)}</a>'
        for a, s in zip(anchors, document.sections, strict=True)
    )
    parts = []
    for anchor, section in zip(anchors, document.sections, strict=True):
        items = []
        for item in section.items:
            if isinstance(item, Image):
                items.append(_image(item, image_dir))
            elif isinstance(item, Table):
                items.append(_table(item))
            elif isinstance(item, Heading):
                items.append(f'<h3 class="part">{esc(item.text)}</h3>')
            else:
                items.append(_note(item))
        parts.append(
            f'<section id="{anchor}"><h2>{esc(section.title)}</h2>{"".join(items)}</section>'
        )
    subtitle = f"<p>{esc(document.subtitle)}</p>" if document.subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(document.title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(document.title)}</h1>{subtitle}</header>"
        f"<nav>{nav}</nav><main>{''.join(parts)}</main>"
        "<footer>Written by autocnn report. Self-contained: all images are embedded.</footer>"
        "</body></html>\n"
    )
