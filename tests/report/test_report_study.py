"""A study folder as ``autocnn study`` writes it: final table, comparison chart, final evaluations.

The study is written by hand, following the real schema (autocnn.study.table.build_table and
the final evaluations' metrics.json), so each number on the page is known in advance.
"""

from __future__ import annotations

import json
import re

import pytest
from report_helpers import check_self_contained, confusion, parse

from autocnn.report import report
from autocnn.report.analysis import NothingToShow
from autocnn.report.study import (
    comparison_figure,
    detail_table,
    final_table,
    load_final_evaluations,
    mean_std,
)

MARKDOWN = "# autocnn study: MARKDOWN-BLOB\n| dataset | default |\n"


def stat(values: list[float]) -> dict:
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return {"mean": mean, "std": std, "values": values}


def row(role: str, method: str, label: str, test_bal: list[float], folder: str) -> dict:
    return {
        "dataset": role, "method": method, "label": label,
        "train_acc": stat([0.9, 0.92]), "val_acc": 0.8, "val_balanced_acc": 0.75,
        "test_acc": stat([0.85, 0.87]), "test_balanced_acc": stat(test_bal),
        "n_params": 1234, "epochs": 1.0, "search_seconds": 6.0 if method != "default" else None,
        "final_seconds": 14.14, "model": f"final/{folder}/models/seed-0.pt",
    }  # fmt: skip


ROWS = [
    ("source", "default", "default config", [0.60, 0.62], "default-source"),
    ("source", "bohb", "BOHB", [0.70, 0.74], "bohb-source"),
    ("dest", "default", "default config", [0.30, 0.34], "default-dest"),
    ("dest", "bohb", "BOHB (from scratch)", [0.40, 0.40], "bohb-dest"),
    ("dest", "weights", "weight transfer", [0.50, 0.52], "weights-dest"),
    ("dest", "config", "configuration transfer", [0.55, 0.59], "config-dest"),
]


def study_payload() -> dict:
    rows = [row(*spec) for spec in ROWS]
    summary = {}
    for role, name, best in (("source", "src-data", "bohb"), ("dest", "dst-data", "config")):
        cells = {r["method"]: r["test_balanced_acc"] for r in rows if r["dataset"] == role}
        summary[role] = {"dataset": name, "test_balanced_acc": cells, "best": best}
    return {
        "settings": {"source": "src-data", "dest": "dst-data", "preset": "smoke", "space": "seed",
                     "data_dir": None, "seed": 0, "init_weights": False, "dest_bohb": True},
        "preset": {"name": "smoke", "eta": 3, "min_budget": 1 / 3, "max_budget": 1.0,
                   "iterations": 1, "final_epochs": 1.0, "seeds": 2, "finetune_epochs": 2.0,
                   "freeze_epochs": 1, "backbone_lr_factor": 0.1},
        "datasets": {"source": {"name": "src-data", "n_train": 400, "n_classes": 3,
                                "input_shape": [1, 12, 12], "imbalance_ratio": 1.0},
                     "dest": {"name": "dst-data", "n_train": 150, "n_classes": 3,
                              "input_shape": [1, 12, 12], "imbalance_ratio": 5.0}},
        "metric": "balanced_accuracy",
        "summary": summary,
        "rows": rows,
        "stage_seconds": {"data": 0.5, "bohb-source": 6.1, "final-source": 14.2},
        "markdown": MARKDOWN,
    }  # fmt: skip


@pytest.fixture
def study_dir(tmp_path, make_run):
    root = tmp_path / "study"
    (root / "runs").mkdir(parents=True)
    (root / "study.json").write_text(json.dumps(study_payload()))
    for _, _, _, _, folder in ROWS:
        (root / "final" / folder).mkdir(parents=True)
        seeds = [
            {"seed": s, "status": "ok", "test_confusion": confusion(3, [10, 10, 4], hit)}
            for s, hit in ((0, 0.8), (1, 0.6))
        ]
        (root / "final" / folder / "metrics.json").write_text(json.dumps({"per_seed": seeds}))
    specs = [{"config": {"x": x}, "budget": 1.0, "loss": 0.5 - x} for x in (0.1, 0.2)]
    make_run(specs, name="study/runs/bohb-source")
    make_run(specs, name="study/runs/config-dest")
    return root


def test_final_table_matches_study_md():
    table = final_table(study_payload())
    assert table.columns == ["dataset", "default", "BOHB", "weight transfer", "config transfer",
                             "best"]  # fmt: skip
    assert table.rows[0] == ["src-data (source)", "61.00 ± 1.41", "72.00 ± 2.83", "-", "-", "BOHB"]
    assert table.rows[1] == [
        "dst-data (dest)", "32.00 ± 2.83", "40.00 ± 0.00", "51.00 ± 1.41", "57.00 ± 2.83",
        "config transfer",
    ]  # fmt: skip
    assert table.strong == [(0, 2), (1, 4)]  # the best cells
    assert mean_std(None) == "-" and mean_std({"mean": None}) == "-"


def test_detail_table_shows_the_seeds_ensemble_where_there_is_one():
    payload = study_payload()
    payload["rows"][1]["ensemble_test_balanced_acc"] = 0.7525  # BOHB on the source: 2 seeds
    payload["rows"][4]["ensemble_test_balanced_acc"] = None  # an evaluation with one seed
    table = detail_table(payload)  # row 0 has no such key: a study.json from before the column
    column = table.columns.index("ensemble bal. acc")
    assert column == table.columns.index("test bal. acc") + 1
    assert [r[column] for r in table.rows] == ["-", "75.25", "-", "-", "-", "-"]


def test_study_report_shows_tables_chart_and_pooled_final_evaluations(study_dir, tmp_path):
    result = report(study_dir, tmp_path / "out")
    names = {p.name for p in result.images}
    assert "transfer_comparison.png" in names
    assert {f"final{i}-model.png" for i in range(1, 7)} <= names  # one figure per evaluation
    assert not any("class_distribution" in n or n.startswith("model") for n in names)
    page = parse(result.html)
    check_self_contained(page, tmp_path / "out", result.images)
    text = " ".join(page.text)
    html = result.html.read_text()
    assert "MARKDOWN-BLOB" not in html  # the markdown blob is not dumped
    assert "Final table: test balanced accuracy [%]" in text
    for cell in ("72.00 ± 2.83", "57.00 ± 2.83", "51.00 ± 1.41", "config transfer"):
        assert cell in text
    assert re.search(r'class="num strong">57\.00 ± 2\.83<', html)  # best dest method in bold
    assert "Details per method" in text and "configuration transfer" in text
    assert "Runtime per stage" in text and "20.8" in text  # total seconds
    # One section per search, in pipeline order, titled with dataset and role.
    h2 = re.findall(r"<h2>(.*?)</h2>", html)
    assert h2.index("Search: BOHB search on src-data (source)") < h2.index(
        "Search: configuration transfer search on dst-data (dest)"
    )
    assert "Final evaluations on the test sets" in h2 and len(h2) == 5
    assert "dst-data (dest) — weight transfer, 2 seeds pooled" in text
    numbers = json.loads((tmp_path / "out" / "report.json").read_text())
    pooled = numbers["study"]["final_evaluations"][0]
    # Seeds' confusions summed: class recalls 0.7, 0.7 and 3/8 (hit 0.8 -> 3 of 4, 0.6 -> 2 of 4).
    assert pooled["n_seeds"] == 2
    assert pooled["pooled_balanced_accuracy"] == pytest.approx((0.7 + 0.7 + 5 / 8) / 3)


def test_missing_final_evaluation_becomes_a_note(study_dir, tmp_path):
    (study_dir / "final" / "weights-dest" / "metrics.json").unlink()
    finals = load_final_evaluations(study_dir, json.loads((study_dir / "study.json").read_text()))
    assert [f.model is None for f in finals] == [False, False, False, False, True, False]
    result = report(study_dir, tmp_path / "out")
    assert "no metrics.json found" in result.html.read_text()
    assert "final5-model.png" not in {p.name for p in result.images}


def test_comparison_needs_numbers():
    payload = study_payload()
    payload["summary"] = {"source": {"dataset": "a", "test_balanced_acc": {}, "best": None}}
    with pytest.raises(NothingToShow, match="no test balanced accuracy"):
        comparison_figure(payload)
