"""A report from a real (tiny) run, and from runs that failed, used one budget, or did nothing.

The HTML is checked as a browser would meet it: it parses, every image is embedded (and is the
very PNG written beside it), and nothing refers to anything outside the file.
"""

from __future__ import annotations

import json

import pytest
from report_helpers import check_self_contained, confusion, parse

from autocnn.errors import RunError
from autocnn.report import report

CORE = [
    "trajectory.png",
    "losses_over_time.png",
    "concurrency.png",
    "histograms.png",
    "correlation.png",
    "learning_curves.png",
    "incumbent-confusion.png",
    "incumbent-per_class.png",
    "incumbent-class_distribution.png",
]


def test_report_of_a_real_run(tiny_run, tmp_path):
    out = tmp_path / "report"
    result = report(tiny_run, out)
    names = [p.name for p in result.images]
    for name in CORE:
        assert name in names, f"{name} missing; notes: {result.notes}"
    # importance needs 6 successful evaluations; the tiny run has them or says why not
    assert "importance.png" in names or any("importance" in n for n in result.notes)
    page = parse(result.html)
    check_self_contained(page, out, result.images)
    text = " ".join(page.text)
    for title in ("Incumbent trajectory", "Top configurations", "Hyperparameter importance"):
        assert title in text
    numbers = json.loads((out / "report.json").read_text())
    assert numbers["images"] == names
    assert numbers["run"]["trajectory"][-1]["loss"] == pytest.approx(
        json.loads((tiny_run / "incumbent.json").read_text())["loss"]
    )


def test_default_out_and_no_silent_overwrite(make_run):
    run = make_run([{"config": {"x": 0.1}, "budget": 1, "loss": 0.4}])
    first = report(run)
    assert first.html == run / "report" / "report.html"
    before = first.html.read_bytes()
    with pytest.raises(RunError, match="already holds a report"):
        report(run)
    assert first.html.read_bytes() == before  # nothing overwritten
    stale = run / "report" / "stale.png"
    stale.write_bytes(b"not ours")  # a file the report did not write survives --force
    second = report(run, force=True, top=2)
    assert second.html.exists() and [p.name for p in second.images] == [
        p.name for p in first.images
    ]
    assert stale.exists()


def test_failed_trials_render_with_a_table_and_notes(make_run, tmp_path):
    specs = [
        {"config": {"x": 0.1, "kind": "a"}, "budget": 1, "loss": 0.4},
        {"config": {"x": 0.2, "kind": "b"}, "budget": 1, "status": "failed"},
        {"config": {"x": 0.3, "kind": "a"}, "budget": 1, "status": "diverged"},
        {"config": {"x": 0.1, "kind": "a"}, "budget": 3, "loss": 0.3},
        {"config": {"x": 0.4, "kind": "b"}, "budget": 3, "status": "crashed"},
    ]
    result = report(make_run(specs), tmp_path / "out")
    page = parse(result.html)
    check_self_contained(page, tmp_path / "out", result.images)
    text = " ".join(page.text)
    assert "Failed, diverged or crashed evaluations" in text
    assert "ValueError: boom" in text and "more lines" not in text  # first line only
    assert {"trajectory.png", "losses_over_time.png"} <= {p.name for p in result.images}
    # no per-epoch history and no confusion in these metrics: notes, not crashes
    assert any("history" in n for n in result.notes)
    assert "no confusion matrix" in text


def test_single_budget_run_renders_with_notes(make_run, tmp_path):
    specs = [{"config": {"x": i / 10}, "budget": 1, "loss": 0.5 - i / 50} for i in range(4)]
    result = report(make_run(specs), tmp_path / "out")
    names = {p.name for p in result.images}
    assert "correlation.png" not in names and "histograms.png" in names
    assert any("single budget" in n for n in result.notes)
    assert any("importance" in n for n in result.notes)  # 4 points are too few
    page = parse(result.html)
    assert "single budget" in " ".join(page.text)
    check_self_contained(page, tmp_path / "out", result.images)


@pytest.mark.parametrize("status", ["failed", None])
def test_run_without_any_success_still_renders(make_run, tmp_path, status):
    specs = [] if status is None else [{"config": {"x": 0.1}, "status": status}] * 2
    result = report(make_run(specs, pending=1), tmp_path / "out")
    page = parse(result.html)
    check_self_contained(page, tmp_path / "out", result.images)
    assert "trajectory.png" not in {p.name for p in result.images}
    assert any("no incumbent" in n or "no evaluation" in n for n in result.notes)


def test_model_sections_use_the_stored_validation_metrics(make_run, tmp_path):
    counts = [40, 40, 40, 40, 8]  # class 4 is under-represented
    matrix = confusion(5, counts, hit=0.75)
    matrix[4] = [4, 0, 0, 0, 4]  # and recognised half the time: balanced accuracy != accuracy
    metrics = {
        "confusion": matrix,
        "history": [
            {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 0.5, "val_acc": 0.4}
            for e in (1, 2, 3)
        ],
    }
    specs = [{"config": {"x": 0.1}, "budget": 3, "loss": 0.25, "metrics": metrics}]
    result = report(make_run(specs), tmp_path / "out")
    names = {p.name for p in result.images}
    assert {"learning_curves.png", "incumbent-confusion.png", "incumbent-per_class.png"} <= names
    numbers = json.loads((tmp_path / "out" / "report.json").read_text())
    assert numbers["run"]["top_configs"][0]["config"] == {"x": 0.1}
    text = " ".join(parse(result.html).text)
    # From the stored matrix: accuracy 124/168, balanced accuracy the mean recall (3 + 0.5) / 5.
    assert "accuracy 0.7381, balanced accuracy 0.7000" in text
