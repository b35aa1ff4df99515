"""A K49-shaped set (49 classes, K49's long tail; synthetic, official npz file names) through
``autocnn fit`` (issue #16): balanced accuracy reported, the tail's classes tested and shown with
their training images in the report."""

from __future__ import annotations

import json

import pytest

from autocnn.cli import main
from autocnn.data import load, write_like
from autocnn.optimize.store import Store

BUDGET = 40  # seconds: about the least fit accepts (it needs 30 s after the probe and reserve)


@pytest.fixture(scope="module")
def k49_fit(tmp_path_factory):
    root = tmp_path_factory.mktemp("k49fit")
    write_like(root / "k49", "k49", scale=0.005, image_size=12)  # 1,162 / 193 images, 30 -> 3
    dataset, out = f"npz:{root / 'k49'}", root / "fit"
    with pytest.warns(UserWarning, match="fewer than 5 images"):  # the split warns, and goes on
        code = main(["fit", dataset, "--time", str(BUDGET), "--out", str(out), "--space", "seed",
                     "--quiet"])  # fmt: skip
    assert code == 0
    return out, dataset


def test_fit_reports_balanced_accuracy_over_all_49_classes(k49_fit):
    out, dataset = k49_fit
    summary = json.loads((out / "fit.json").read_text())["summary"]
    metrics = json.loads((out / "final" / "metrics.json").read_text())
    s = metrics["summary"]
    together = s.get("ensemble")  # the fit's final ensemble, when its search was flat
    tested = together["test_balanced_acc"] if together else s["test_balanced_acc"]["mean"]
    assert summary["test_balanced_accuracy"] == tested
    assert 0.0 <= summary["test_balanced_accuracy"] <= 1.0
    assert s["n_classes"] == 49 and s["class_counts_train"] == load(dataset).class_counts().tolist()
    assert min(s["class_counts_test"]) >= 1  # every class is tested, the rarest with one image
    per_class = metrics["per_seed"][0]["test_per_class_acc"]
    assert len(per_class) == 49 and None not in per_class
    worst = [min(row["test_per_class_acc"]) for row in metrics["per_seed"]]
    assert s["test_worst_class_acc"]["values"] == worst


def test_fit_report_shows_training_images_beside_per_class_accuracy(k49_fit):
    out, _ = k49_fit
    page = (out / "report" / "report.html").read_text()
    assert "Per-class accuracy and training images" in page
    assert "Training images per class beside the accuracy" in page  # the counts were found
    assert "did not record its training images" not in page


def test_fit_starts_an_imbalanced_set_from_class_balanced_sampling(k49_fit):
    out, _ = k49_fit
    state = json.loads((out / "fit.json").read_text())
    assert state["imbalance"] == "balanced_sampling"
    chosen = state["stages"]["search"]["incumbent"]
    trained = json.loads((out / "final" / "metrics.json").read_text())["config"]
    assert trained == chosen["config"]
    if chosen["config_id"] is None:  # no search at this budget: the default, made for the tail
        assert trained["imbalance"] == "balanced_sampling"


def test_fit_without_imbalance_handling_trains_and_searches_plain_cross_entropy(tmp_path):
    """``--no-imbalance`` (what a with/without measurement needs): nothing in the fit handles the
    tail, neither the default nor any searched config."""
    write_like(tmp_path / "k49", "k49", scale=0.005, image_size=12)
    dataset, out = f"npz:{tmp_path / 'k49'}", tmp_path / "fit"
    with pytest.warns(UserWarning, match="fewer than 5 images"):
        code = main(["fit", dataset, "--time", str(BUDGET), "--out", str(out), "--space", "seed",
                     "--no-imbalance", "--quiet"])  # fmt: skip
    assert code == 0
    state = json.loads((out / "fit.json").read_text())
    assert state["handle_imbalance"] is False and state["imbalance"] == "none"
    trained = json.loads((out / "final" / "metrics.json").read_text())["config"]
    assert trained["imbalance"] == "none"
    if (out / "search" / "run.db").exists():  # a search ran: its space fixed the handling
        with Store.open(out / "search", readonly=True) as store:
            assert {c.config["imbalance"] for c in store.configs()} == {"none"}
            assert store.settings["run"]["imbalance"] is False
