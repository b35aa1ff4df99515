"""fit end to end on a tiny dataset: plan, search, final model, ensemble, baseline, export,
report; the test set read once, after the search."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from fit_helpers import BUDGET, FINAL_LEFT, page_text, spend_all_but

from autocnn import api, data
from autocnn.cli import main
from autocnn.errors import AutocnnError, RunError
from autocnn.fit.folder import FitFolder
from autocnn.fit.report_page import versus_baseline


@pytest.fixture(scope="module")
def finished(tiny, tmp_path_factory):
    """A whole fit of ``BUDGET`` seconds; ``events`` holds its log lines and the dataset parts
    it loaded (``("log", line)``, ``("load", part)``), in the order they happened."""
    out = tmp_path_factory.mktemp("fit") / "fit"
    lines: list[str] = []
    events: list[tuple[str, str]] = []
    real_load = data.load

    def load(name, part="train", *args, **kwargs):
        events.append(("load", part))
        return real_load(name, part, *args, **kwargs)

    def log(line: str) -> None:
        lines.append(line)
        events.append(("log", line))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data, "load", load)
        state = api.fit(tiny, time=BUDGET, out=out, space="seed", log=log)
    return out, state, lines, events


def test_fit_delivers_a_tested_model_a_report_and_a_summary(finished, tmp_path):
    out, state, lines, _ = finished
    assert any(line.startswith("budget 1:00") for line in lines)  # the plan was printed
    s = state["summary"]
    assert state["done"] and s["search_evaluations"] >= 2
    assert 0.0 <= s["test_accuracy"] <= 1.0 and s["final_epochs"] > 0
    # the final trained the search's choice, or the default when that choice was not better
    search = state["stages"]["search"]
    assert s["incumbent_config_id"] == search["incumbent"]["config_id"]
    assert s["not_beaten"] is None or s["incumbent_config_id"] == 0
    # the search's speed of what the final trains: the final's check on its own probe
    assert search["img_per_s"][str(s["incumbent_config_id"])] > 0
    metrics = json.loads((out / "final" / "metrics.json").read_text())
    together = metrics["summary"].get("ensemble")  # when the final trained two nets
    tested = together["test_acc"] if together else metrics["summary"]["test_acc"]["mean"]
    assert tested == s["test_accuracy"]
    assert (s["final_members"] is not None) == (search.get("nets", 1) > 1) == (together is not None)
    page = page_text(out / "report" / "report.html")
    assert page.index("What this fit did") < page.index("Run overview")  # the fit's story first
    trained = "the space's default" if s["incumbent_config_id"] in (None, 0) else (
        f"config {s['incumbent_config_id']}, the search's incumbent")  # fmt: skip
    assert trained in page and f"{100 * s['test_accuracy']:.2f} %" in page
    assert "baseline" not in page  # no --baseline: no such row
    assert json.loads((out / "fit.json").read_text())["summary"] == s
    # the model predicts like the final evaluation's (predict accepts the fit folder)
    images = tmp_path / "images.npz"
    x = data.load(state["dataset"], "test").x[:10]
    np.savez(images, x=x)
    labels = api.predict(out, images, out=tmp_path / "labels.npz")
    assert len(labels) == 10
    if together:
        labels = api.predict(out, images, out=tmp_path / "all.npz", ensemble=True)
    exported = state["stages"]["deliver"].get("export", {})
    if "torchscript" in exported:
        ts = api.predict(exported["torchscript"], images, out=tmp_path / "ts.npz")
        assert np.array_equal(ts, labels)


def test_a_final_ensemble_trains_two_nets_tests_their_average_and_exports_it_as_one(
    finished, tmp_path, capsys, benchmark_script
):
    """The finished fit's final stage again, as the search stage asks when its curve is flat."""
    out, state, _, _ = finished
    copy = tmp_path / "ensemble"
    shutil.copytree(out, copy)
    folder = FitFolder(copy)
    search = state["stages"]["search"]
    kept = search["incumbent"]["config_id"]
    again = {**state, "stages": {"search": {**search, "nets": 2}}}
    del again["summary"], again["done"]
    # the plan's budget cut to 25 s past its reserve, the clock set so that the final has
    # FINAL_LEFT: the baseline (the plan's whole budget) then trains ~25 s instead of ~53
    again["plan"] = {**state["plan"], "total_seconds": state["plan"]["reserve_seconds"] + 25.0}
    folder.write(again)
    spend_all_but(folder, FINAL_LEFT, budget=again["plan"]["total_seconds"])
    # --baseline too: after the fit, the default alone for the same budget, tested the same way
    resumed = api.fit(out=copy, resume=True, baseline=True, log=lambda line: None)

    s, final = resumed["summary"], resumed["stages"]["final"]
    baseline = json.loads((folder.baseline / "metrics.json").read_text())
    assert baseline["summary"]["test_acc"]["mean"] == s["baseline_test_accuracy"]
    assert "ensemble" not in baseline["summary"] and s["baseline_epochs"] > 0
    page = page_text(folder.report / "report.html")  # rewritten with the baseline beside the fit
    row = f"baseline: the default alone for the same time {100 * s['baseline_test_accuracy']:.2f} %"
    assert row in page
    # and whether they differ by more than chance, image by image (the page and the CLI say it)
    paired = s["vs_baseline"]
    assert paired["n"] == baseline["summary"]["n_test"]
    assert paired["accuracy_difference"] == pytest.approx(
        s["test_accuracy"] - s["baseline_test_accuracy"])  # fmt: skip
    assert versus_baseline(paired) in page and 0.0 < paired["p_value"] <= 1.0
    assert main(["fit", "--resume", str(copy), "--quiet"]) == 0
    assert versus_baseline(paired) in capsys.readouterr().out
    # benchmarks/fit_vs_baseline.py predicts both again and finds the same (and checks the file)
    assert benchmark_script("fit_vs_baseline").main([str(copy), "--out", str(tmp_path / "vs")]) == 0
    again = json.loads((tmp_path / "vs").read_text())["rows"][0]
    assert {k: again[k] for k in paired} == paired
    assert "2 nets of" in page and "probabilities averaged" in page
    assert s["incumbent_config_id"] == kept
    assert [m["seed"] for m in s["final_members"]] == [state["seed"], state["seed"] + 1]
    assert all(m["status"] == "ok" and m["epochs_trained"] > 0 for m in s["final_members"])
    metrics = json.loads((folder.final / "metrics.json").read_text())
    assert [row["seed"] for row in metrics["per_seed"]] == [state["seed"], state["seed"] + 1]
    assert metrics["config"] == search["incumbent"]["config"]
    together = metrics["summary"]["ensemble"]
    assert together["test_acc"] == s["test_accuracy"]
    confusion = np.array(together["test_confusion"])  # the report shows it beside each net's
    assert np.trace(confusion) / confusion.sum() == pytest.approx(s["test_accuracy"])
    assert s["n_params"] == sum(row["n_params"] for row in metrics["per_seed"])
    assert len(final["models"]) == 2 and s["seconds"] <= BUDGET * 1.3
    # the fit folder predicts with both nets; the export is the same ensemble as one model
    images = tmp_path / "images.npz"
    np.savez(images, x=data.load(state["dataset"], "test").x[:12])
    both = api.predict(copy, images, out=tmp_path / "both.npz", ensemble=True)
    exported = resumed["stages"]["deliver"]["export"]
    assert json.loads((folder.export / "export.json").read_text())["members"] == 2
    ts = api.predict(exported["torchscript"], images, out=tmp_path / "ts.npz")
    assert np.array_equal(ts, both)
    probabilities = [np.load(tmp_path / n)["probabilities"] for n in ("both.npz", "ts.npz")]
    assert np.allclose(*probabilities, atol=1e-5)
    # the fit's model is its ensemble: predict FIT needs no --ensemble and gives the same
    assert main(["predict", str(copy), str(images), "--out", str(tmp_path / "fit.npz")]) == 0
    assert "holds 2 models" not in capsys.readouterr().out
    assert np.array_equal(np.load(tmp_path / "fit.npz")["probabilities"], probabilities[0])
    # its model.pt is the first net alone (the checkpoint transfer weights starts from)
    first = api.predict(copy / "model.pt", images, out=tmp_path / "first.npz")
    assert np.array_equal(
        first,
        api.predict(
            folder.final / "models" / f"seed-{state['seed']}.pt", images, out=tmp_path / "s.npz"
        ),
    )


def test_the_budget_holds_by_the_fits_own_clock(finished):
    _, state, _, _ = finished
    s = state["summary"]
    # seconds come from the fit's clock (monotonic, resumable); the report's figures are the
    # least predictable part on a loaded machine, hence the slack beyond the +3 % target
    assert s["seconds"] <= BUDGET * 1.3
    assert s["budget_used"] == pytest.approx(s["seconds"] / BUDGET)
    plan = state["plan"]
    assert state["stages"]["search"]["elapsed"] <= (
        plan["spent_before_plan"] + plan["search_seconds"] + 10.0
    )


def test_the_cli_names_what_the_final_trained_and_the_budget_of_its_evidence(finished, capsys):
    """The kept config's validation error comes from its largest budget, which can be a small
    rung: the closing line says which budget (resuming a finished fit only prints it again)."""
    out, state, _, _ = finished
    before = (out / "fit.json").read_bytes()
    assert main(["fit", "--resume", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    s = state["summary"]
    kept = s["incumbent_config_id"]
    which = "the default" if kept == 0 else f"config {kept}"
    assert (
        f"{which} (validation error {s['incumbent_val_loss']:.4f} at its largest budget, "
        f"{s['incumbent_budget']:.0f} s) trained {s['final_epochs']:g} epochs" in printed
    )
    assert f"test accuracy {100 * s['test_accuracy']:.2f} %" in printed
    assert (out / "fit.json").read_bytes() == before  # a finished fit is left as it was


def test_search_never_reads_the_test_set(finished):
    """Only the final evaluation reads the test part, once, after the final training began."""
    _, _, _, events = finished
    final = next(i for i, (kind, text) in enumerate(events)
                 if kind == "log" and text.startswith("final training"))  # fmt: skip
    before = [part for kind, part in events[:final] if kind == "load"]
    assert before and set(before) == {"train"}
    assert [part for kind, part in events if kind == "load"].count("test") == 1


def test_dry_run_plans_and_writes_nothing(tiny, tmp_path, capsys):
    assert main(["fit", tiny, "--time", "2m", "--space", "seed", "--dry-run", "--quiet",
                 "--out", str(tmp_path / "dry")]) == 0  # fmt: skip
    assert "search:" in capsys.readouterr().out
    assert not (tmp_path / "dry").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "TINY", "--time", "soon"], "--time"),
        (["fit", "TINY"], "--time"),
        (["fit", "--time", "5m"], "DATASET"),
        (["fit", "TINY", "--time", "5s"], "give at least"),
        (["fit", "TINY", "--time", "2m", "--image-size", "big"], "--image-size must be"),
        (["fit", "TINY", "--time", "2m", "--image-size", "2"], "4-1024"),
    ],
)
def test_bad_fit_input_is_a_clear_error_that_creates_nothing(tiny, tmp_path, capsys, argv, message):
    out = tmp_path / "bad"
    argv = [tiny if a == "TINY" else a for a in argv] + ["--out", str(out), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_a_fit_folder_is_never_overwritten(finished, tiny):
    out, _, _, _ = finished
    with pytest.raises(RunError, match="already holds a fit"):
        api.fit(tiny, time=BUDGET, out=out)
    with pytest.raises(AutocnnError, match="holds no fit"):
        api.fit(out=out / "nothing", resume=True)
