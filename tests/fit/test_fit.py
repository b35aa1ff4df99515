"""fit end to end on a tiny dataset: plan, search, final model, export, report, resume."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from autocnn import api, data
from autocnn.cli import main
from autocnn.errors import AutocnnError, RunError
from autocnn.fit.folder import FitFolder
from autocnn.fit.report_page import versus_baseline
from autocnn.optimize.store import Store

BUDGET = 60.0  # seconds: small, yet leaves a loaded machine time to probe, search and train
FINAL_LEFT = 22.0  # seconds a resumed fit is left (its clock moved on): a short final training


def _spend_all_but(folder: FitFolder, seconds: float) -> float:
    """Set a stopped fit's clock as if it had run until ``seconds`` of its budget were left:
    what a resume is given comes from this clock, so the resumed final trainings of these tests
    take ~22 s instead of ~40 s."""
    spent = BUDGET - seconds
    folder.clock_file.write_text(json.dumps({"spent": spent}))
    return spent


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("fitdata")
    data.write_synthetic(root, "kmnist", n_classes=4, n_train=200, n_test=40, imbalance=1.0,
                         image_size=12)  # fmt: skip
    return f"npz:{root}"


@pytest.fixture(scope="module")
def finished(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "fit"
    lines: list[str] = []
    state = api.fit(tiny, time=BUDGET, out=out, space="seed", log=lines.append)
    return out, state, lines


def test_fit_delivers_a_tested_model_a_report_and_a_summary(finished, tmp_path):
    out, state, lines = finished
    assert any(line.startswith("budget 1:00") for line in lines)  # the plan was printed
    s = state["summary"]
    assert state["done"] and s["search_evaluations"] >= 2
    assert 0.0 <= s["test_accuracy"] <= 1.0 and s["final_epochs"] > 0
    # the final trained the search's choice, or the default when that choice was not better
    search = state["stages"]["search"]
    assert s["incumbent_config_id"] == search["incumbent"]["config_id"]
    assert s["not_beaten"] is None or s["incumbent_config_id"] == 0
    metrics = json.loads((out / "final" / "metrics.json").read_text())
    together = metrics["summary"].get("ensemble")  # when the final trained two nets
    tested = together["test_acc"] if together else metrics["summary"]["test_acc"]["mean"]
    assert tested == s["test_accuracy"]
    assert (s["final_members"] is not None) == (search.get("nets", 1) > 1) == (together is not None)
    page = _text(out / "report" / "report.html")
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
    out, state, _ = finished
    copy = tmp_path / "ensemble"
    shutil.copytree(out, copy)
    folder = FitFolder(copy)
    search = state["stages"]["search"]
    kept = search["incumbent"]["config_id"]
    again = {**state, "stages": {"search": {**search, "nets": 2}}}
    del again["summary"], again["done"]
    folder.write(again)
    _spend_all_but(folder, FINAL_LEFT)
    # --baseline too: after the fit, the default alone for the same budget, tested the same way
    resumed = api.fit(out=copy, resume=True, baseline=True, log=lambda line: None)

    s, final = resumed["summary"], resumed["stages"]["final"]
    baseline = json.loads((folder.baseline / "metrics.json").read_text())
    assert baseline["summary"]["test_acc"]["mean"] == s["baseline_test_accuracy"]
    assert "ensemble" not in baseline["summary"] and s["baseline_epochs"] > 0
    page = _text(folder.report / "report.html")  # rewritten with the baseline beside the fit
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


def _text(html_file) -> str:
    """The page's text, tags dropped and whitespace collapsed."""
    import html
    import re

    text = re.sub(r"<[^>]+>", " ", html_file.read_text())
    return re.sub(r"\s+", " ", html.unescape(text))


def test_the_budget_holds_by_the_fits_own_clock(finished):
    _, state, _ = finished
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
    out, state, _ = finished
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


def test_search_never_reads_the_test_set(tiny, tmp_path, load_log):
    lines: list[str] = []

    def stop_before_final(line: str) -> None:
        lines.append(line)
        if line.startswith("final training"):
            raise KeyboardInterrupt  # as if killed between search and final training

    with pytest.raises(KeyboardInterrupt):
        api.fit(tiny, time=BUDGET, out=tmp_path / "f", space="seed", log=stop_before_final)
    assert load_log and all(part == "train" for _, part in load_log)
    folder = FitFolder(tmp_path / "f")
    assert 0 < folder.spent() < BUDGET - FINAL_LEFT  # stopped before the final training
    spent = _spend_all_but(folder, FINAL_LEFT)
    with Store.open(folder.search.db, readonly=True) as store:
        evaluations = store.count()
    # resume: the search is done, only the final training runs, with the time that is left
    state = api.fit(out=tmp_path / "f", resume=True, log=lines.append)
    assert state["done"]
    with Store.open(folder.search.db, readonly=True) as store:
        assert store.count() == evaluations
    assert [part for _, part in load_log].count("test") == 1
    assert state["summary"]["seconds"] >= spent
    final_lines = [line for line in lines if line.startswith("final training")]
    assert len(final_lines) == 2  # planned once per session, from the time left each time


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
    out, _, _ = finished
    with pytest.raises(RunError, match="already holds a fit"):
        api.fit(tiny, time=BUDGET, out=out)
    with pytest.raises(AutocnnError, match="holds no fit"):
        api.fit(out=out / "nothing", resume=True)


def test_sigterm_during_the_final_training_then_resume_continues_with_the_time_left(tiny, tmp_path):
    """A real process and a real signal: the search is kept, the budget spent is remembered."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "autocnn.cli", "fit", tiny, "--time", str(BUDGET),
               "--space", "seed", "--quiet", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)  # fmt: skip
    for line in process.stdout:  # wait until the final training has started
        if line.startswith("final training"):
            break
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=120)[0]
    assert process.returncode == 143, rest
    state = json.loads((out / "fit.json").read_text())
    assert "search" in state["stages"] and "final" not in state["stages"]
    assert 0 < FitFolder(out).spent() < BUDGET - FINAL_LEFT  # killed early in the final training
    spent = _spend_all_but(FitFolder(out), FINAL_LEFT)
    with Store.open(FitFolder(out).search.db, readonly=True) as store:
        evaluations = store.count()
    resumed = api.fit(out=out, resume=True, log=lambda line: None)
    assert resumed["done"] and resumed["summary"]["seconds"] >= spent
    with Store.open(FitFolder(out).search.db, readonly=True) as store:
        assert store.count() == evaluations  # the search was not run again


def test_a_set_without_a_test_part_is_fitted_with_a_held_out_one_at_a_fixed_size(tmp_path):
    """A folder of 20 x 20 photos without test/, trained at 10 x 10 (``image_size``): the held-out
    test part is scaled like the rest, and predict scales the photos the same way."""
    from PIL import Image

    from autocnn.data.resize import resize_images
    from autocnn.final.predict import predict, read_images

    rng = np.random.default_rng(0)
    for k, name in enumerate(("maru", "sankaku")):  # two classes of 40 images, told by brightness
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(40):
            level = (70 + 90 * k + rng.integers(0, 40, (20, 20))).astype(np.uint8)
            Image.fromarray(level).save(tmp_path / "photos" / name / f"{i}.png")
    lines: list[str] = []
    state = api.fit(f"dir:{tmp_path / 'photos'}", time=45, out=tmp_path / "f", space="seed",
                    image_size=10, log=lines.append)  # fmt: skip
    assert state["dataset"] == f"resize:10:holdout:dir:{tmp_path / 'photos'}"
    assert any("has no test part" in line for line in lines)
    assert "input size: 20x20 images, trained at 10x10 (--image-size 10)" in lines
    tested = json.loads((tmp_path / "f" / "final" / "metrics.json").read_text())
    assert tested["summary"]["n_test"] == 12  # 15 % of each class of 40
    assert state["summary"]["test_accuracy"] is not None
    assert state["summary"]["input_size"] == [10, 10] and state["summary"]["original_size"] == [
        20,
        20,
    ]
    export = json.loads((tmp_path / "f" / "export" / "export.json").read_text())
    assert export["class_names"] == ["maru", "sankaku"]
    assert "20x20 images trained at 10x10" in _text(tmp_path / "f" / "report" / "report.html")
    # the photos at their own size: scaled as the training images were, so the same labels
    with pytest.warns(UserWarning, match="resized"):
        from_folder = predict(tmp_path / "f", tmp_path / "photos", out=tmp_path / "a.npz")
    own = read_images(tmp_path / "photos", (1, 20, 20))
    np.savez(tmp_path / "small.npz", x=resize_images(own, (10, 10)))
    assert np.array_equal(from_folder, predict(tmp_path / "f", tmp_path / "small.npz",
                                               out=tmp_path / "b.npz"))  # fmt: skip
    with pytest.warns(UserWarning, match="resized to the model's input size"):  # an npz too
        np.savez(tmp_path / "own.npz", x=own)
        assert np.array_equal(from_folder, predict(tmp_path / "f", tmp_path / "own.npz",
                                                   out=tmp_path / "c.npz"))  # fmt: skip
    # --baseline: the default at the photos' own size, as a user would train it (its budget
    # cut to ~8 s here: what it is given comes from the stored plan)
    stored = json.loads((tmp_path / "f" / "fit.json").read_text())
    stored["plan"]["total_seconds"] = stored["plan"]["reserve_seconds"] + 8.0
    (tmp_path / "f" / "fit.json").write_text(json.dumps(stored))
    resumed = api.fit(out=tmp_path / "f", resume=True, baseline=True, log=lambda line: None)
    baseline = json.loads((tmp_path / "f" / "baseline" / "metrics.json").read_text())
    assert baseline["dataset"] == f"holdout:dir:{tmp_path / 'photos'}"
    assert resumed["summary"]["vs_baseline"]["n"] == 12  # the same test images, image by image


def test_large_images_get_an_input_size_chosen_from_measurement(tmp_path, capsys):
    """40 x 40 images: candidates 40 and 32, chosen by the rule (a dry run: nothing written)."""
    from autocnn.fit.resolution import enough_images

    data.write_synthetic(tmp_path / "d", "kmnist", n_classes=3, n_train=120, n_test=30,
                         imbalance=1.0, image_size=40)  # fmt: skip
    state = api.fit(f"npz:{tmp_path / 'd'}", time="2m", out=tmp_path / "dry", dry_run=True)
    size = state["input_size"]
    predicted = dict(size["predicted"])  # side -> images the final training would see
    assert set(predicted) == {40, 32} and size["enough_images"] == enough_images(96)
    trained = size["side"] or 40
    assert predicted[trained] >= size["enough_images"] or trained == 32
    assert all(n < size["enough_images"] for s, n in predicted.items() if s > trained)
    resized = f"resize:{trained}:npz:{tmp_path / 'd'}"
    assert state["dataset"] == (resized if size["side"] else f"npz:{tmp_path / 'd'}")
    assert f"input size: 40x40 images, trained at {trained}x{trained}" in capsys.readouterr().out
    assert not (tmp_path / "dry").exists()
