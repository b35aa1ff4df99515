"""Helpers shared by the report tests: a confusion matrix maker and a strict HTML checker."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path


def confusion(n_classes: int, counts: list[int], hit: float = 0.8) -> list[list[int]]:
    """A confusion matrix with ``counts[i]`` images of class i, ``hit`` of them correct."""
    rows = []
    for i, count in enumerate(counts):
        right = round(hit * count)
        row = [0] * n_classes
        row[i] = right
        row[(i + 1) % n_classes] += count - right
        rows.append(row)
    return rows


class PageParser(HTMLParser):
    """Collects images, links and every attribute; fails on unbalanced section/table tags."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attributes = {k: v or "" for k, v in attrs}
        self.attributes += [(tag, k, v) for k, v in attributes.items()]
        if tag == "img":
            self.images.append(attributes)
        if tag in ("section", "table", "figure", "html", "body", "main"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in ("section", "table", "figure", "html", "body", "main"):
            assert self.open and self.open[-1] == tag, f"unbalanced </{tag}>"
            self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html_path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(html_path.read_text(encoding="utf-8"))
    parser.close()
    assert parser.open == [], f"unclosed tags {parser.open}"
    return parser


def check_self_contained(page: PageParser, out: Path, expected: list[Path]) -> None:
    """Every <img> is a data: URI equal to a written PNG; no external reference anywhere."""
    embedded = {}
    for image in page.images:
        src = image["src"]
        assert src.startswith("data:image/png;base64,"), src[:40]
        embedded[image["data-file"]] = base64.b64decode(src.split(",", 1)[1])
    assert sorted(embedded) == sorted(p.name for p in expected)
    for path in expected:
        assert path.parent == out and path.stat().st_size > 1000
        assert embedded[path.name] == path.read_bytes()
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for tag, name, value in page.attributes:
        if name in ("src", "href", "action", "srcset", "poster", "data"):
            assert value.startswith(("data:", "#")), f"<{tag} {name}={value[:60]}>"
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
