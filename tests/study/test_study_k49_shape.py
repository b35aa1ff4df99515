"""A K49-shaped destination through the smoke study (issue #16): 49 classes with K49's long tail
(synthetic, in the official npz file names, ``autocnn make-synthetic --like k49``), balanced
accuracy as the metric, every class validated, worst-class accuracy in the table and report."""

from __future__ import annotations

import copy
import json

import pytest

from autocnn.data import load, write_like
from autocnn.report.study import detail_table
from autocnn.study.pipeline import study
from autocnn.study.table import table_markdown


@pytest.fixture(scope="module")
def k49_study(tmp_path_factory):
    from autocnn.study import presets

    root = tmp_path_factory.mktemp("k49study")
    # 120 / 20 balanced source images; 1,162 / 193 K49-shaped destination images, 30 -> 3 per
    # class (12 px: the classes, not the pixels, are what this checks)
    write_like(root / "src", "kmnist", scale=0.002, image_size=12)
    write_like(root / "k49", "k49", scale=0.005, image_size=12)
    source, dest = f"npz:{root / 'src'}", f"npz:{root / 'k49'}"
    out = root / "study"
    # smoke's budgets with one final-evaluation seed and no frozen fine-tuning epoch: the
    # pipeline, not the numbers, is under test, in well under a minute on a loaded machine
    tiny = presets.Preset("k49-tiny", 3, 1 / 3, 1.0, 1, 1.0, 1, 1.0, 0, 0.1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(presets.PRESETS, "k49-tiny", tiny)
        with pytest.warns(UserWarning, match="fewer than 5 images"):  # the tail's 3-image classes
            result = study(source, dest, out=out, preset="k49-tiny", dest_bohb=False)
    return out, result, dest


def test_the_k49_shaped_study_reports_balanced_accuracy(k49_study):
    out, result, dest = k49_study
    assert result["metric"] == "balanced_accuracy"
    info = result["datasets"]["dest"]
    assert info["n_classes"] == 49 and info["n_train"] == 1162
    assert max(info["class_counts"]) == 30 and min(info["class_counts"]) == 3
    rows = {r["method"]: r for r in result["rows"] if r["dataset"] == "dest"}
    assert set(rows) == {"default", "weights", "config"}  # dest_bohb=False
    for row in rows.values():
        assert 0.0 <= row["test_balanced_acc"]["mean"] <= 1.0
        assert row["val_balanced_acc"] is not None
    assert set(result["summary"]["dest"]["test_balanced_acc"]) == set(rows)
    for name in ("bohb-source", "config-dest"):  # the searches minimise 1 - balanced accuracy
        stage = json.loads((out / "stages" / f"{name}.json").read_text())
        assert stage["incumbent_loss"] == pytest.approx(1.0 - stage["val_balanced_acc"])


def test_every_one_of_the_49_classes_has_validation_images(k49_study):
    out, _, dest = k49_study
    for folder in ("default-dest", "weights-dest"):  # validation runs on the stratified split
        metrics = json.loads((out / "final" / folder / "metrics.json").read_text())
        per_class = metrics["validation"]["val_per_class_acc"]
        assert len(per_class) == 49 and all(acc is not None for acc in per_class)
        assert metrics["summary"]["class_counts_train"] == load(dest).class_counts().tolist()


def test_worst_class_accuracy_per_method_in_study_json_md_and_report(k49_study):
    out, result, _ = k49_study
    for row in result["rows"]:
        metrics = json.loads(
            (out / row["model"].rsplit("/models/", 1)[0] / "metrics.json").read_text()
        )
        worst = [
            min(a for a in seed["test_per_class_acc"] if a is not None)
            for seed in metrics["per_seed"]
        ]
        assert row["test_worst_class_acc"]["values"] == pytest.approx(worst)
        assert row["test_worst_class_acc"]["mean"] <= row["test_balanced_acc"]["mean"]
    markdown = (out / "study.md").read_text()
    header = next(line for line in markdown.splitlines() if "worst-class acc" in line)
    column = [c.strip() for c in header.split("|")].index("worst-class acc")
    lines = [line for line in markdown.splitlines() if line.startswith("| ") and "±" in line]
    cells = [[c.strip() for c in line.split("|")] for line in lines if line.count("|") > 10]
    assert len(cells) == len(result["rows"]) and all("±" in c[column] for c in cells)
    table = detail_table(result)
    column = table.columns.index("worst-class acc")
    assert all("±" in r[column] for r in table.rows)
    # a study.json from before the column: "-" in the report and in study.md
    old = copy.deepcopy(result)
    for row in old["rows"]:
        row.pop("test_worst_class_acc")
    assert {r[column] for r in detail_table(old).rows} == {"-"}
    lines = [line for line in table_markdown(old).splitlines() if line.count("|") > 10]
    md_column = [c.strip() for c in lines[0].split("|")].index("worst-class acc")
    assert {[c.strip() for c in line.split("|")][md_column] for line in lines[2:]} == {"-"}


def test_the_study_report_shows_training_images_beside_per_class_accuracy(k49_study, tmp_path):
    from autocnn.report import report

    out, _, dest = k49_study
    page = report(out, tmp_path / "report").html.read_text()
    assert "Per-class accuracy and training images" in page
    assert "worst-class acc" in page and "did not record its training images" not in page
