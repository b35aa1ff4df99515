"""Fixtures for the report tests: one tiny real run, and hand-made stores for the edge cases.

The real run (synthetic 5-class data, budgets 1..3 epochs, two brackets) takes a few seconds
with one torch thread; the hand-made stores (``make_run``) take milliseconds and let a test
choose exactly which evaluations failed, which budgets exist, what the metrics hold.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autocnn.optimize.store import Store
from autocnn.optimize.trial import Result, Trial


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A real BOHB run on tiny synthetic data (the report's main input)."""
    import torch

    from autocnn import api
    from autocnn.data import write_synthetic

    root = tmp_path_factory.mktemp("tiny")
    write_synthetic(
        root / "data", "tiny", n_classes=5, n_train=200, n_test=50, imbalance=4.0, image_size=12
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        api.optimize(
            f"npz:{root / 'data'}",
            out=root / "run",
            min_budget=1,
            max_budget=3,
            iterations=2,
        )
    finally:
        torch.set_num_threads(threads)
    return root / "run"


Spec = dict[str, Any]  # config, budget, status, loss, metrics, seconds, cost


@pytest.fixture
def make_run(tmp_path) -> Callable[..., Path]:
    """Write a run store from a list of evaluation specs; returns the run folder."""

    def make(specs: list[Spec], name: str = "run", pending: int = 0, **settings: Any) -> Path:
        run_dir = tmp_path / name
        run = {"dataset": "npz:fake", "space": "seed", "method": "bohb", "metric": "accuracy"}
        run.update(min_budget=1.0, max_budget=9.0, eta=3, fidelity="epochs", **settings)
        with Store.open(run_dir, create=True, settings={"run": run}) as store:
            ids: dict[str, int] = {}
            for spec in specs:
                key = repr(sorted(spec["config"].items()))
                config_id = ids.setdefault(key, len(ids))
                trial = Trial(config_id, spec["config"], spec.get("budget", 1.0))
                evaluation_id = store.record_ask(trial)
                store.mark_started(evaluation_id)
                status = spec.get("status", "ok")
                result = Result(
                    status,
                    loss=spec.get("loss", math.inf),
                    metrics=spec.get("metrics", {}),
                    error=None if status == "ok" else "ValueError: boom\nmore lines",
                    seconds=spec.get("seconds", 0.01),
                    cost=spec.get("cost", spec.get("budget", 1.0)),
                )
                store.record_tell(evaluation_id, result)
                time.sleep(0.001)  # distinct finish times
            for index in range(pending):
                trial = Trial(1000 + index, {"x": 0.5, "kind": "a"}, 1.0)
                store.mark_started(store.record_ask(trial))
        return run_dir

    return make
