"""Final evaluation (the only test-set reader) and predict."""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np
import pytest
import torch

from autocnn import api, data
from autocnn.cli import main
from autocnn.errors import AutocnnError, ConfigError, DataError, RunError
from autocnn.final.command import add_commands
from autocnn.final.evaluation import PREDICTIONS_FILE, evaluate, saved_predictions
from autocnn.final.predict import predict
from autocnn.train import Normalization, evaluate_model, load_model, train


@pytest.fixture(scope="module")
def run_dir(tiny_pair, tmp_path_factory):
    source, _ = tiny_pair
    out = tmp_path_factory.mktemp("run") / "run"
    api.optimize(source, out=out, min_budget=1 / 3, max_budget=1, iterations=1)
    return out


def test_search_never_reads_the_test_part(tiny_pair, tmp_path, load_log):
    api.optimize(tiny_pair[0], out=tmp_path / "r", min_budget=1 / 3, max_budget=1, iterations=1)
    assert load_log and all(part == "train" for _, part in load_log)


def test_evaluate_reports_mean_std_over_seeds_and_reads_test_once(run_dir, tmp_path, load_log):
    result = evaluate(run_dir, out=tmp_path / "final", seeds=2, epochs=1)
    assert [part for _, part in load_log].count("test") == 1
    s = result.summary
    values = [row["test_balanced_acc"] for row in result.per_seed]
    assert s["test_balanced_acc"]["values"] == values
    assert s["test_balanced_acc"]["mean"] == pytest.approx(statistics.fmean(values))
    assert s["test_balanced_acc"]["std"] == pytest.approx(statistics.stdev(values))
    assert s["n_train"] == 160 and s["n_test"] == 40 and s["n_params"] > 0
    saved = json.loads((tmp_path / "final" / "metrics.json").read_text())
    assert saved["summary"]["test_acc"] == s["test_acc"] and saved["seeds"] == [0, 1]
    assert all((tmp_path / "final" / row["model"]).is_file() for row in result.per_seed)
    with pytest.raises(RunError, match="already holds"):
        evaluate(run_dir, out=tmp_path / "final", seeds=1, epochs=1)


def test_saved_model_predicts_what_the_model_in_memory_predicts(tiny_pair, tmp_path):
    source, _ = tiny_pair
    result = evaluate(config="default", dataset=source, out=tmp_path / "f", seeds=1, epochs=1)
    full, test = data.load(source, "train"), data.load(source, "test")
    memory = train(result.config, full, None, epochs=1, seed=0)  # same seed: same weights
    norm = Normalization.from_dict(memory.normalization)
    expected = np.asarray(evaluate_model(memory.model, test, normalization=norm).confusion)
    images = tmp_path / "images.npz"
    np.savez(images, x=test.x[:, 0].numpy())
    labels = predict(tmp_path / "f", images, out=tmp_path / "labels.npz")
    stored = np.load(tmp_path / "labels.npz", allow_pickle=False)
    assert np.array_equal(stored["labels"], labels) and stored["probabilities"].shape == (40, 4)
    with torch.inference_mode():
        logits = memory.model(
            (test.x.float() / 255 - torch.tensor(norm.mean).view(1, -1, 1, 1))
            / torch.tensor(norm.std).view(1, -1, 1, 1)
        )
    assert np.array_equal(labels, logits.argmax(1).numpy())
    got = np.zeros_like(expected)
    np.add.at(got, (test.y.numpy(), labels), 1)
    assert np.array_equal(got, expected)
    # floats in [0, 1] give the same labels as the uint8 images
    np.savez(tmp_path / "floats.npz", x=test.x[:, 0].numpy() / 255.0)
    again = predict(tmp_path / "f", tmp_path / "floats.npz", out=tmp_path / "l2.npz")
    assert np.array_equal(again, labels)


def test_evaluate_tests_the_seeds_models_as_one_ensemble(tiny_pair, tmp_path, capsys):
    source, _ = tiny_pair
    result = evaluate(config="default", dataset=source, out=tmp_path / "f", seeds=3, epochs=1)
    test = data.load(source, "test")
    summed = torch.zeros(len(test), test.n_classes)
    for row in result.per_seed:  # each saved model's softmax, computed here by hand
        net, norm, _ = load_model(tmp_path / "f" / row["model"])
        mean = torch.tensor(norm.mean).view(1, -1, 1, 1)
        std = torch.tensor(norm.std).view(1, -1, 1, 1)
        with torch.inference_mode():
            summed += torch.softmax(net((test.x.float() / 255 - mean) / std), dim=1)
    expected = summed.argmax(1)
    ensemble = result.summary["ensemble"]
    assert ensemble["n_models"] == 3 and ensemble["seeds"] == [0, 1, 2]
    assert ensemble["test_acc"] == pytest.approx(float((expected == test.y).float().mean()))
    saved = json.loads((tmp_path / "f" / "metrics.json").read_text())
    assert saved["summary"]["ensemble"]["test_acc"] == ensemble["test_acc"]
    # every model's test labels are kept, and the ensemble's: the model the summary tests
    kept = np.load(tmp_path / "f" / PREDICTIONS_FILE, allow_pickle=False)
    assert np.array_equal(kept["y"], test.y.numpy()) and list(kept["seeds"]) == [0, 1, 2]
    assert [np.mean(row == kept["y"]) for row in kept["labels"]] == pytest.approx(
        [row["test_acc"] for row in result.per_seed])  # fmt: skip
    y, tested = saved_predictions(tmp_path / "f")
    assert np.array_equal(tested, kept["ensemble"]) and np.array_equal(tested, expected.numpy())
    np.savez(tmp_path / "images.npz", x=test.x[:, 0].numpy())
    labels = predict(tmp_path / "f", tmp_path / "images.npz", out=tmp_path / "e.npz", ensemble=True)
    assert np.array_equal(labels, expected.numpy())
    stored = np.load(tmp_path / "e.npz", allow_pickle=False)["probabilities"]
    assert np.allclose(stored, (summed / 3).numpy(), atol=1e-5)
    # without --ensemble an evaluate folder predicts with its first model and says so
    args = [str(tmp_path / "f"), str(tmp_path / "images.npz"), "--out", str(tmp_path / "1.npz")]
    assert main(["predict", *args]) == 0
    assert "holds 3 models" in capsys.readouterr().out
    first = predict(tmp_path / "f" / result.per_seed[0]["model"], tmp_path / "images.npz",
                    out=tmp_path / "first.npz")  # fmt: skip
    assert np.array_equal(np.load(tmp_path / "1.npz")["labels"], first)
    # one seed: no ensemble to report, and --ensemble needs an evaluate folder
    single = evaluate(config="default", dataset=source, out=tmp_path / "one", seeds=1, epochs=1)
    assert "ensemble" not in single.summary
    y, tested = saved_predictions(tmp_path / "one")  # one model: its own labels
    assert np.mean(tested == y) == pytest.approx(single.per_seed[0]["test_acc"])
    with pytest.raises(ConfigError, match="--ensemble needs"):
        predict(tmp_path / "one" / single.model, tmp_path / "images.npz",
                out=tmp_path / "x.npz", ensemble=True)  # fmt: skip
    (tmp_path / "f" / result.per_seed[1]["model"]).unlink()
    with pytest.raises(RunError, match="models missing"):
        predict(tmp_path / "f", tmp_path / "images.npz", out=tmp_path / "y.npz", ensemble=True)
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x": np.zeros((3, 12, 12), np.int32)}, "uint8"),
        ({"x": np.zeros((3, 12, 12, 3), np.uint8)}, "model takes"),  # RGB for a gray model
        ({"x": np.zeros((3, 5), np.uint8)}, "shape"),
        ({"x": np.full((2, 12, 12), np.nan, np.float32)}, "NaN"),
        ({"x": np.full((2, 12, 12), 300.0)}, r"\[0, 1\] or \[0, 255\]"),
        ({"a": np.zeros(2), "b": np.zeros(2)}, "no image array"),
    ],
)
def test_predict_rejects_bad_images(tiny_pair, tmp_path, arrays, match):
    source, _ = tiny_pair
    evaluate(config="default", dataset=source, out=tmp_path / "f", seeds=1, epochs=0.25)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=match):
        predict(tmp_path / "f", tmp_path / "bad.npz", out=tmp_path / "labels.npz")
    assert not (tmp_path / "labels.npz").exists()


def test_predict_cli_errors_are_user_errors(tmp_path):
    (tmp_path / "not-a-zip.npz").write_bytes(b"garbage")
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(
        ["predict", str(tmp_path), str(tmp_path / "not-a-zip.npz"), "--out", "x.npz"]
    )
    with pytest.raises(AutocnnError):
        args.func(args)  # no model in tmp_path
