"""What the end-to-end fit tests share: their budget, a resumed fit's clock, a page's text."""

from __future__ import annotations

import html
import json
import re

from autocnn.fit.folder import FitFolder

BUDGET = 60.0  # seconds: small, yet leaves a loaded machine time to probe, search and train
FINAL_LEFT = 22.0  # seconds a resumed fit is left (its clock moved on): a short final training


def spend_all_but(folder: FitFolder, seconds: float, budget: float = BUDGET) -> float:
    """Set a stopped fit's clock as if it had run until ``seconds`` of its budget were left:
    what a resume is given comes from this clock, so the resumed final trainings of these tests
    take ~22 s instead of ~40 s."""
    spent = budget - seconds
    folder.clock_file.write_text(json.dumps({"spent": spent}))
    return spent


def page_text(html_file) -> str:
    """The page's text, tags dropped and whitespace collapsed."""
    text = re.sub(r"<[^>]+>", " ", html_file.read_text())
    return re.sub(r"\s+", " ", html.unescape(text))
