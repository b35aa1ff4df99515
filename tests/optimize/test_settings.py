"""RunSettings / Execution: one definition of every search option, checked at the boundary."""

from __future__ import annotations

from dataclasses import fields

import pytest

from autocnn import api
from autocnn.cli import build_parser, main
from autocnn.errors import ConfigError
from autocnn.optimize.methods import make_optimizer
from autocnn.optimize.settings import Execution, RunSettings
from autocnn.space import get_space
from autocnn.space.portfolio import portfolio


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"eta": 1}, "--eta"),
        ({"min_budget": 9, "max_budget": 3}, "exceeds --max-budget"),
        ({"min_budget": 0}, "--min-budget"),
        ({"method": "sa"}, "--method"),
        ({"space": "huge"}, "--space"),
        ({"val_fraction": 1.0}, "--val-fraction"),
        ({"iterations": -1}, "--iterations"),
    ],
)
def test_bad_run_settings_name_the_option(options, message):
    with pytest.raises(ConfigError, match=message):
        RunSettings("kmnist10k", **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_limit": -5}, "--time-limit"),
        ({"max_evaluations": 0}, "--max-evaluations"),
        ({"workers": 0}, "--workers"),
        ({"address": "auto"}, "--backend ray"),
    ],
)
def test_bad_execution_options_name_the_option(options, message):
    with pytest.raises(ConfigError, match=message):
        Execution(**options)


def test_stored_settings_round_trip_and_old_runs_get_what_they_ran_with():
    settings = RunSettings("kmnist10k", iterations=0, data_dir="d", portfolio=True)
    assert RunSettings.from_dict(settings.to_dict()) == settings
    assert settings.iterations is None
    old = {k: v for k, v in settings.to_dict().items() if k not in ("start_with_default",)}
    assert RunSettings.from_dict(old).start_with_default is False
    with pytest.raises(ConfigError, match="newer autocnn"):
        RunSettings.from_dict({**settings.to_dict(), "from_the_future": 1})


def test_every_option_is_a_cli_flag_generated_from_its_definition():
    optimize = next(
        a for a in build_parser()._subparsers._group_actions[0].choices.items()
        if a[0] == "optimize"
    )[1]  # fmt: skip
    dests = {action.dest for action in optimize._actions}
    for cls in (RunSettings, Execution):
        assert {f.name for f in fields(cls)} <= dests


@pytest.mark.parametrize(
    "argv", [["--time-limit", "-5"], ["--max-evaluations", "0"], ["--eta", "0.5"]]
)
def test_bad_values_create_nothing(tiny_pair, tmp_path, capsys, argv):
    out = tmp_path / "run"
    code = main(["optimize", "--dataset", tiny_pair[0], "--out", str(out), "--quiet", *argv])
    assert code == 2 and "Traceback" not in capsys.readouterr().err
    assert not out.exists()


def test_a_resume_refuses_options_that_contradict_the_run(tiny_pair, tmp_path):
    out = tmp_path / "run"
    api.optimize(tiny_pair[0], out=out, min_budget=1 / 3, max_budget=1, iterations=1)
    with pytest.raises(ConfigError, match="was made with eta=3.0"):
        api.optimize(out=out, resume=True, eta=2)
    # the same values (in another spelling) and execution options are fine
    summary = api.optimize(out=out, resume=True, eta=3, iterations=1, workers=1)
    assert summary.stopped == "finished"


def test_the_portfolio_is_asked_first_in_its_order():
    space = get_space("extended")
    entries = [config for _, config in portfolio("extended")]
    optimizer = make_optimizer("bohb", space, min_budget=1, max_budget=9, seed=0,
                               start_with_default=True, initial_configs=entries)  # fmt: skip
    asked = [optimizer.ask().config for _ in range(len(entries))]
    assert asked == entries
    assert optimizer.settings["initial_configs"] == entries


@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_train_refuses_non_positive_epochs_and_creates_nothing(tiny_pair, tmp_path, capsys, epochs):
    out = tmp_path / "train"
    code = main(["train", "--dataset", tiny_pair[0], "--epochs", epochs, "--out", str(out),
                 "--quiet"])  # fmt: skip
    assert code == 2 and "--epochs must be a positive number" in capsys.readouterr().err
    assert not out.exists()


def test_no_imbalance_searches_plain_cross_entropy_only_and_resumes(tiny_pair, tmp_path):
    from autocnn.optimize.store import STORE_NAME, Store

    out = tmp_path / "run"
    argv = ["optimize", "--dataset", tiny_pair[1], "--out", str(out), "--quiet",
            "--min-budget", str(1 / 3), "--max-budget", "1", "--iterations", "0",
            "--max-evaluations", "6", "--no-imbalance",
            "--no-default-first"]  # fmt: skip
    assert main(argv) == 0
    with Store.open(out / STORE_NAME, readonly=True) as store:
        assert store.settings["run"]["imbalance"] is False
        configs = [store.config(r.config_id) for r in store.evaluations()]
    assert len(configs) > 3 and {c["imbalance"] for c in configs} == {"none"}
    summary = api.optimize(out=out, resume=True, max_evaluations=9)  # the stored space, rebuilt
    assert summary.n_evaluations > len(configs)
    settings = RunSettings("kmnist10k", imbalance=False)
    old = {k: v for k, v in settings.to_dict().items() if k != "imbalance"}
    assert RunSettings.from_dict(old).imbalance is True  # runs before the option searched it


def test_on_imbalanced_data_the_search_starts_from_class_balanced_sampling(tiny_pair, tmp_path):
    from autocnn.optimize.store import STORE_NAME, Store

    tiny = {"min_budget": 1 / 3, "max_budget": 1, "iterations": 0, "max_evaluations": 8}
    tiny["portfolio"] = True
    for dataset, method in ((tiny_pair[1], "balanced_sampling"), (tiny_pair[0], "none")):
        out = tmp_path / method
        api.optimize(dataset, out=out, **tiny)
        with Store.open(out / STORE_NAME, readonly=True) as store:
            assert store.settings["imbalance_default"] == method
            ids = list(dict.fromkeys(r.config_id for r in store.evaluations()))  # in ask order
            first = [store.config(i) for i in ids[: len(portfolio("seed"))]]
        # the portfolio (the default first), each entry with the dataset's imbalance handling
        assert first == [{**c, "imbalance": method} for _, c in portfolio("seed")]
    again = api.optimize(out=tmp_path / "balanced_sampling", resume=True, max_evaluations=11)
    assert again.n_this_call > 0  # resumed with the stored default: same space, same optimizer
