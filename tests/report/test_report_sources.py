"""Inputs other than a run: metrics JSON, study folders, and bad paths (clear errors)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from report_helpers import check_self_contained, confusion, parse

from autocnn.errors import AutocnnError, RunError
from autocnn.report import report
from autocnn.report.html import Document, Note, Section, Table, render
from autocnn.report.load import find_model_metrics, load_source
from autocnn.report.tables import tables_from_json


def test_find_model_metrics_tolerates_any_nesting():
    payload = {
        "seeds": [{"test_confusion": [[3, 1], [0, 4]]}, {"test_confusion": "not a matrix"}],
        "validation": {"per_class_acc": [0.5, None, 1.0]},
        "other": {"confusion": [[1, 2, 3]]},  # not square: ignored
    }
    found = find_model_metrics(payload, "eval")
    assert [(m.split, m.n_classes) for m in found] == [("test", 2), ("validation", 3)]
    first = found[0]
    assert first.per_class_acc == [0.75, 1.0]
    assert first.accuracy == pytest.approx(7 / 8)
    assert first.balanced_accuracy == pytest.approx(0.875)
    assert np.array_equal(first.class_counts, [4, 4])
    assert found[1].balanced_accuracy == pytest.approx(0.75)  # None (absent class) skipped


def test_metrics_json_report_shows_the_model(tmp_path):
    metrics = tmp_path / "final.json"
    counts = [30, 30, 30, 5]
    metrics.write_text(json.dumps({"test": {"confusion": confusion(4, counts), "acc": 0.8}}))
    result = report(metrics)
    assert result.out == tmp_path / "final-report"
    names = {p.name for p in result.images}
    assert names == {
        "model1-confusion.png",
        "model1-per_class.png",
        "model1-class_distribution.png",
    }
    page = parse(result.html)
    check_self_contained(page, result.out, result.images)
    assert "test set" in " ".join(page.text)


def test_study_folder_renders_tables_runs_and_test_metrics(tmp_path, make_run):
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.json").write_text(
        json.dumps(
            {
                "preset": "smoke",
                "final_table": [
                    {"dataset": "src", "default_test": 0.61, "bohb_test": 0.72},
                    {"dataset": "dst <b>", "default_test": 0.41, "bohb_test": None},
                ],
                "stages": {"bohb_source": {"seconds": 12.5}, "transfer": {"seconds": 3.0}},
            }
        )
    )
    run = make_run([{"config": {"x": 0.1}, "loss": 0.3}], name="study/source-bohb")
    assert run.parent == study
    (study / "evaluate").mkdir()
    (study / "evaluate" / "metrics.json").write_text(
        json.dumps({"test": {"confusion": confusion(3, [10, 10, 2])}})
    )
    result = report(study, tmp_path / "out")
    names = {p.name for p in result.images}
    assert "run1-losses_over_time.png" in names or "losses_over_time.png" in names
    assert "model1-confusion.png" in names
    page = parse(result.html)
    check_self_contained(page, tmp_path / "out", result.images)
    text = " ".join(page.text)
    assert "Study results" in text and "final_table" in text and "0.72" in text
    assert "dst <b>" in text  # shown as text ...
    assert "dst <b>" not in result.html.read_text()  # ... because it was escaped


def test_tables_from_json_finds_records_mappings_and_values():
    tables = tables_from_json(
        {
            "name": "s",
            "rows": [{"a": 1, "b": 2}, {"a": 3, "c": {"deep": 1}}],
            "by_dataset": {"k49": {"acc": 0.9}, "kmnist": {"acc": 0.95}},
            "nested": {"more": [{"x": 1}]},
        }
    )
    by_title = {t.title: t for t in tables}
    assert by_title["rows"].columns == ["a", "b", "c"]
    assert by_title["rows"].rows[1] == [3, None, {"deep": 1}]
    assert by_title["by_dataset"].rows == [["k49", 0.9], ["kmnist", 0.95]]
    assert by_title["study"].rows == [["name", "s"]]
    assert "nested.more" in by_title
    assert tables_from_json([1, 2, 3]) == []


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing", "does not exist"),
        (lambda d: d, "neither a run folder"),
        (lambda d: _write(d / "bad.json", "{not json"), "cannot read"),
        (lambda d: _write(d / "plain.json", '{"acc": 0.9}'), "no confusion matrix"),
        (lambda d: _write(d / "run.db", "not sqlite at all" * 100).parent, "not an autocnn"),
    ],
)
def test_bad_sources_raise_clear_errors(tmp_path, make, message):
    with pytest.raises(AutocnnError, match=message):
        load_source(make(tmp_path))


def test_bad_extra_metrics_and_top_raise(tmp_path, make_run):
    run = make_run([{"config": {"x": 0.1}, "loss": 0.3}])
    with pytest.raises(RunError, match="no confusion matrix"):
        report(run, tmp_path / "out", metrics=[_write(tmp_path / "m.json", '{"a": [1]}')])
    with pytest.raises(RunError, match="top must be at least 1"):
        report(run, tmp_path / "out", top=0)
    assert not (tmp_path / "out" / "report.html").exists()


def test_render_escapes_and_dedupes_anchors(tmp_path):
    page = Document(
        "t <x>",
        sections=[
            Section("Same", [Note("<script>alert(1)</script>")]),
            Section("Same", [Table("t", ["a"], [["<i>"]])]),
        ],
    )
    html = render(page, tmp_path)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'id="same"' in html and 'id="same-2"' in html


def _write(path, text):
    path.write_text(text)
    return path
