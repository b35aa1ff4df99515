"""The report puts each class's training images beside its accuracy."""

from __future__ import annotations

import json

from report_helpers import parse

from autocnn.report import report
from autocnn.report.load import find_model_metrics
from autocnn.report.tables import per_class_table

# 3 classes, 4 test images each; recalls 1, 0.5, 0.25
CONFUSION = [[4, 0, 0], [2, 2, 0], [3, 0, 1]]


def test_training_counts_are_found_beside_a_training_result_and_a_final_summary():
    result = {"per_class_acc": [1.0, 0.5, 0.25], "confusion": CONFUSION,
              "train_class_counts": [300, 60, 12]}  # fmt: skip
    (model,) = find_model_metrics(result, "eval", split="validation")
    assert model.per_class_rows() == [[0, 300, 4, 1.0], [1, 60, 4, 0.5], [2, 12, 4, 0.25]]
    final = {"summary": {"class_counts_train": [5, 6, 7]},
             "per_seed": [{"test_confusion": CONFUSION}]}  # fmt: skip
    (model,) = find_model_metrics(final, "final")
    assert [row[1] for row in model.per_class_rows()] == [5, 6, 7]
    other_size = {"confusion": CONFUSION, "train_class_counts": [1, 2]}  # does not fit: dropped
    (model,) = find_model_metrics(other_size, "eval")
    assert model.train_counts is None and model.per_class_rows()[0][1] is None
    assert "did not record" in per_class_table(model).caption


def test_the_report_shows_the_per_class_table(tmp_path):
    path = tmp_path / "metrics.json"
    payload = {"test": {"confusion": CONFUSION}, "summary": {"class_counts_train": [300, 60, 12]}}
    path.write_text(json.dumps(payload))
    text = " ".join(parse(report(path).html).text)
    assert "Per-class accuracy and training images" in text and "training images" in text
    assert "300" in text and "12" in text


def test_class_names_label_the_rows_where_the_data_named_its_classes(tmp_path):
    final = {"summary": {"class_counts_train": [5, 6, 7], "class_names": ["ka", "ki", "ku"]},
             "per_seed": [{"test_confusion": CONFUSION}]}  # fmt: skip
    (model,) = find_model_metrics(final, "final")
    assert [row[0] for row in model.per_class_rows()] == ["0 ka", "1 ki", "2 ku"]
    wrong_size = {"confusion": CONFUSION, "class_names": ["a", "b"]}  # does not fit: numbers
    (model,) = find_model_metrics(wrong_size, "eval")
    assert [row[0] for row in model.per_class_rows()] == [0, 1, 2]
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(final))
    assert "2 ku" in " ".join(parse(report(path).html).text)
