"""benchmarks/search_gain.py reads a run.db right and builds the commands it promises."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from autocnn.optimize.store import Store
from autocnn.optimize.trial import Result, Trial


@pytest.fixture(scope="module")
def search_gain(benchmark_script):
    return benchmark_script("search_gain")


def trial(config_id: int, budget: float) -> Trial:
    return Trial(config_id=config_id, config={"x": config_id}, budget=budget,
                 previous_budget=None, bracket=0, stage=0, model_based=False)  # fmt: skip


def test_measure_finds_the_first_max_budget_result_above_the_target(tmp_path, search_gain):
    store = Store.open(tmp_path / "run.db", create=True, settings={"run": {"sampler": "prior"}})
    # (budget, validation accuracy); loss = 1 - accuracy
    for config_id, (budget, accuracy) in enumerate(
        [(1, 0.97), (9, 0.91), (9, 0.94), (9, 0.96), (3, 0.99)]
    ):
        evaluation = store.record_ask(trial(config_id, budget))
        store.record_tell(evaluation, Result("ok", loss=1 - accuracy, seconds=1.0, cost=budget))
    failed = store.record_ask(trial(9, 9))
    store.record_tell(failed, Result("failed", error="boom"))
    store.close()
    row = search_gain.measure(tmp_path, max_budget=9, time_limit=600, target=0.93)
    assert row["max_budget_results"] == 3 and row["evaluations"] == 6
    assert row["seconds_to_target"] is not None and 0 <= row["seconds_to_target"] < 60
    assert row["best_at_limit"] == pytest.approx(0.96) and row["best_at_end"] == pytest.approx(0.96)
    assert row["sampler"] == "prior" and row["statuses"] == {"failed": 1, "ok": 5}
    assert search_gain.measure(tmp_path, 9, 600, 0.97)["seconds_to_target"] is None
    assert search_gain.measure(tmp_path, 9, -1, 0.93)["best_at_limit"] is None  # none by then


def test_commands_are_the_issue_command_plus_the_variant_flags(search_gain):
    args = search_gain.main.__globals__["argparse"].Namespace(
        dataset="kmnist10k", data_dir="D", space="seed", eta=3.0, min_budget=1.0,
        max_budget=9.0, time_limit=600.0, workers=2,
    )  # fmt: skip
    plain = search_gain.command(args, "plain", 2, Path("out/plain-seed2"))
    assert " ".join(plain[3:]) == (
        "optimize --dataset kmnist10k --data-dir D --space seed --eta 3 --min-budget 1 "
        "--max-budget 9 --iterations 0 --time-limit 600 --workers 2 --seed 2 "
        "--out out/plain-seed2 --sampler random --no-early-stopping"
    )
    both = search_gain.command(args, "portfolio+prior", 0, Path("o"))
    assert both[-4:] == ["--portfolio", "--sampler", "prior", "--no-early-stopping"]
    assert search_gain.command(args, "prior+stop", 0, Path("o"))[-2:] == ["--sampler", "prior"]
    assert math.isinf(search_gain._median([None, 5.0, None], math.inf))
