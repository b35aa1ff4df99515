"""The command line end to end: train, optimize, resume, status, export, and bad input."""

from __future__ import annotations

import json
import sqlite3

import pytest

from autocnn.cli import main
from autocnn.data import write_synthetic


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("tiny")
    write_synthetic(
        folder, "tiny", n_classes=4, n_train=300, n_test=40, imbalance=3.0, image_size=16
    )
    return f"npz:{folder}"


def test_train_writes_config_and_per_epoch_metrics(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", tiny, "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert [round(r["epoch"]) for r in metrics["history"]] == [1, 2]
    assert {"train_loss", "val_loss", "val_acc", "val_balanced_acc", "seconds"} <= set(
        metrics["history"][0]
    )
    assert json.loads((out / "config.json").read_text())["n_conv_layers"] == 1
    assert "validation accuracy" in capsys.readouterr().out


def test_train_refuses_to_overwrite_a_result(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", "--dataset", tiny, "--epochs", "0.5", "--out", str(out), "--quiet"])
    before = (out / "metrics.json").read_bytes()
    assert main(["train", "--dataset", tiny, "--epochs", "1", "--out", str(out), "--quiet"]) == 2
    assert "already holds a result" in capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == before


def test_train_on_real_kmnist10k(kmnist_dir, tmp_path):
    out = tmp_path / "real"
    code = main(
        [
            "train",
            "--dataset",
            "kmnist10k",
            "--data-dir",
            str(kmnist_dir),
            "--epochs",
            "0.25",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_train"] == 6400 and metrics["n_val"] == 1600
    assert metrics["val_acc"] > 0.15  # above chance (0.1) after a quarter epoch


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--dataset", "nonsense", "--out", "X"], "nonsense"),
        (["train", "--dataset", "TINY", "--config", "missing.json", "--out", "X"], "missing.json"),
        (["train", "--dataset", "TINY", "--space", "huge", "--out", "X"], "huge"),
        (["optimize", "--dataset", "TINY"], "--out"),
        (["optimize", "--dataset", "TINY", "--iterations", "0", "--out", "X"], "--time-limit"),
        (["status", "no-such-run"], "no-such-run"),
    ],
)
def test_bad_input_is_a_clear_error_without_traceback(
    argv, message, tiny, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    argv = [tiny if a == "TINY" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("autocnn: error:") and message in err and "Traceback" not in err


def test_bad_config_file_names_the_key(tiny, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    from autocnn.space import default_config

    bad.write_text(json.dumps({**default_config("seed"), "n_conv_layers": 7}))
    assert (
        main(["train", "--dataset", tiny, "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    )
    assert "n_conv_layers" in capsys.readouterr().err
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_optimize_status_export_and_resume_of_a_finished_run(tiny, tmp_path, capsys):
    run = tmp_path / "bohb"
    args = [
        "optimize",
        "--dataset",
        tiny,
        "--min-budget",
        "1",
        "--max-budget",
        "3",
        "--iterations",
        "2",
        "--out",
        str(run),
        "--quiet",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "incumbent: config" in out
    # bracket [3,1]@[1,3]: the promoted config continues 1 -> 3 epochs instead of training 3
    assert "checkpoint continuation: trained 11 epochs instead of 12" in out
    incumbent = json.loads((run / "incumbent.json").read_text())
    assert incumbent["budget"] == 3.0 and 0.0 <= incumbent["loss"] <= 1.0
    assert (run / "space.json").exists()
    with sqlite3.connect(run / "run.db") as db:
        statuses = [s for (s,) in db.execute("select status from evaluations")]
    # eta=3, budgets 1..3: brackets [3,1]@[1,3] and [2]@[3] -> 6 evaluations, none pending
    assert len(statuses) == 6 and "pending" not in statuses

    assert main(["status", str(run)]) == 0
    assert "6 evaluations finished" in capsys.readouterr().out
    assert main(["export", str(run), "--out", str(tmp_path / "hp")]) == 0
    results = (tmp_path / "hp" / "results.json").read_text().splitlines()
    assert len(results) == 6 and all(json.loads(line) for line in results)

    # Resuming a finished run re-does nothing.
    assert main(["optimize", "--resume", str(run), "--quiet"]) == 0
    assert "(0 in this call" in capsys.readouterr().out
    # Starting a new run in the same folder is refused.
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_optimize_without_a_bracket_limit_stops_at_max_evaluations(tiny, tmp_path, capsys):
    run = tmp_path / "open"
    args = ["optimize", "--dataset", tiny, "--min-budget", "1", "--max-budget", "3"]
    args += ["--iterations", "0", "--max-evaluations", "7", "--out", str(run), "--quiet"]
    assert main(args) == 0
    with sqlite3.connect(run / "run.db") as db:
        (n,) = db.execute("select count(*) from evaluations").fetchone()
    # 7 > the 6 evaluations that 2 brackets hold: the run went on into a third bracket
    assert n == 7


def _listed(out: str) -> dict[str, list[str]]:
    """The names table of `autocnn datasets`: name -> [train, test, classes, status]."""
    from autocnn.data import known_names

    rows = {}
    for line in out.split("official files")[0].splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0] in known_names():
            rows[cells[0]] = cells[1:]
    return rows


def test_datasets_lists_every_name_with_sizes_and_status(tmp_path, capsys, monkeypatch):
    from autocnn.data import files, known_names

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))  # no cached official files
    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = _listed(out)
    assert list(rows) == known_names()
    assert rows["kmnist10k-x8"][:3] == ["64,000", "2,000", "10"]
    assert rows["kmnist10k-dest-longtail"][:3] == ["1,636", "409", "10"]
    assert rows["kmnist10k-source"][3] == "needs kmnist-test files"
    assert rows["kmnist10k"][3] == "2 of 2 files missing"
    assert rows["k49"] == ["232,365", "38,547", "49", "4 of 4 files missing"]
    assert rows["npz:PATH"] == ["-", "-", "-", "-"]
    assert "x_train, y_train, x_test, y_test" in out and "t10k-images-idx3-ubyte" in out
    assert "not a new source of information" in out
    assert "kmnist-test-imgs.npz" in out  # the official files' table, as before


def test_every_listed_name_loads_when_its_files_are_present(
    kmnist_dir, tmp_path, capsys, monkeypatch
):
    from autocnn import data

    monkeypatch.setenv("COLUMNS", "200")
    assert main(["datasets", "--data-dir", str(kmnist_dir)]) == 0
    rows = {n: r for n, r in _listed(capsys.readouterr().out).items() if r[3] == "ok"}
    assert {"kmnist10k", *data.DERIVED} <= set(rows)
    for name, (n_train, n_test, n_classes, _) in rows.items():
        train = data.load(name, "train", data_dir=kmnist_dir)
        test = data.load(name, "test", data_dir=kmnist_dir)
        assert [f"{len(train):,}", f"{len(test):,}", str(train.n_classes)] == [
            n_train,
            n_test,
            n_classes,
        ], name
    # a derived name works in a command, not only in data.load
    out = tmp_path / "run"
    args = ["train", "--dataset", "kmnist10k-1k", "--data-dir", str(kmnist_dir)]
    assert main([*args, "--epochs", "0.2", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "metrics.json").read_text())["n_train"] == 800
