"""The training objective: budgets, continuation from checkpoints, failures as results."""

from __future__ import annotations

import math

import pytest

from autocnn.optimize.evaluate import TrainingObjective
from autocnn.optimize.folder import checkpoint_path
from autocnn.optimize.settings import RunSettings
from autocnn.optimize.trial import FAILED, OK, Trial
from autocnn.space import default_config, get_space, sample_configs


def small_config() -> dict:
    return {
        **default_config("seed"),
        "conv1_maxpool_kernel": 2,
        "batch_size": 32,
        "learning_rate": 0.01,
    }


def test_continued_promotion_equals_direct_training(dataset, tmp_path):
    objective = TrainingObjective(RunSettings(dataset, max_budget=3))
    config = small_config()
    first = objective(Trial(0, config, budget=1), tmp_path / "a")
    promoted = objective(Trial(0, config, budget=3, previous_budget=1), tmp_path / "a")
    direct = objective(Trial(0, config, budget=3), tmp_path / "b")
    assert first.status == promoted.status == direct.status == OK
    assert promoted.metrics["continued_from"] == 1
    assert promoted.loss == direct.loss
    assert promoted.metrics["history"][-1] == {
        **direct.metrics["history"][-1],
        "seconds": promoted.metrics["history"][-1]["seconds"],
    }
    # Continuation trains only the missing epochs; the superseded checkpoint is gone.
    assert promoted.cost == pytest.approx(2) and direct.cost == pytest.approx(3)
    assert checkpoint_path(tmp_path / "a", 3).exists()
    assert not checkpoint_path(tmp_path / "a", 1).exists()


def test_no_continue_retrains_from_scratch(dataset, tmp_path):
    objective = TrainingObjective(RunSettings(dataset, max_budget=3, continue_training=False))
    config = small_config()
    objective(Trial(0, config, budget=1), tmp_path)
    promoted = objective(Trial(0, config, budget=3, previous_budget=1), tmp_path)
    assert promoted.metrics["continued_from"] == 0 and promoted.cost == pytest.approx(3)


def test_annealed_fidelity_gives_every_budget_its_complete_schedule(dataset, tmp_path):
    config = {**small_config(), "optimizer": "sgd", "momentum": 0.9, "lr_schedule": "cosine"}
    prefix = TrainingObjective(RunSettings(dataset, max_budget=3))(
        Trial(0, config, budget=1), tmp_path / "p"
    )
    annealed = TrainingObjective(RunSettings(dataset, max_budget=3, fidelity="annealed"))
    short = annealed(Trial(0, config, budget=1), tmp_path / "a")
    # The prefix stops a third into the 3-epoch schedule; the annealed run decays to ~0 in 1 epoch.
    assert short.metrics["history"][-1]["lr"] < 0.05 * prefix.metrics["history"][-1]["lr"]
    dead = annealed(Trial(1, {**config, "learning_rate": 1e6}, budget=3), tmp_path / "d")
    assert dead.status == "diverged"
    assert dead.cost == pytest.approx(1)  # stopped in its first epoch, not after the planned 3
    promoted = annealed(Trial(0, config, budget=3, previous_budget=1), tmp_path / "a")
    assert short.status == promoted.status == OK
    assert promoted.metrics["continued_from"] == 0 and promoted.cost == pytest.approx(3)


def test_data_fidelity_trains_on_a_fraction(dataset, tmp_path):
    objective = TrainingObjective(RunSettings(dataset, max_budget=4, fidelity="data", epochs=1))
    result = objective(Trial(0, small_config(), budget=1), tmp_path)
    assert result.status == OK
    assert result.metrics["data_fraction"] == pytest.approx(0.25)
    assert result.metrics["epochs"] == 1 and result.cost == pytest.approx(0.25)


def test_broken_config_is_a_failed_result_not_an_exception(dataset, tmp_path):
    objective = TrainingObjective(RunSettings(dataset, max_budget=3))
    result = objective(Trial(0, {"optimizer": "nonsense"}, budget=1), tmp_path)
    assert result.status == FAILED and math.isinf(result.loss)
    assert "optimizer" in result.error


def test_every_sampled_config_evaluates(dataset, tmp_path):
    objective = TrainingObjective(RunSettings(dataset, max_budget=9))
    for i, config in enumerate(sample_configs(get_space("seed"), 5, seed=3)):
        result = objective(Trial(i, {**config, "batch_size": 64}, budget=0.25), tmp_path / str(i))
        assert result.status in (OK, "diverged"), result.error


def test_preloaded_splits_are_used_instead_of_the_files(dataset, tmp_path):
    from autocnn.data import load, train_val_split

    splits = train_val_split(load(dataset, "train"), 0.2, seed=0)
    objective = TrainingObjective(RunSettings(f"npz:{tmp_path / 'nowhere'}", max_budget=1))
    objective.preload(splits)  # as the Ray backend does with the object store's copy
    result = objective(Trial(0, small_config(), budget=1), tmp_path / "t")
    assert result.status == OK, result.error
    missing = TrainingObjective(RunSettings(f"npz:{tmp_path / 'elsewhere'}", max_budget=1))
    assert missing(Trial(0, small_config(), budget=1), tmp_path / "u").status == FAILED


class TickingClock:
    """``time.monotonic`` that advances a fixed tick per call: a deadline then ends training
    after a known number of steps, whatever the machine's load."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 1000.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_time_fidelity_trains_for_its_seconds_with_a_complete_schedule(
    dataset, tmp_path, monkeypatch
):
    import time

    monkeypatch.setattr(time, "monotonic", TickingClock(0.01))  # ~2 calls per step
    config = {**small_config(), "optimizer": "sgd", "momentum": 0.9, "lr_schedule": "cosine"}
    objective = TrainingObjective(RunSettings(dataset, min_budget=0.5, max_budget=1.0,
                                              fidelity="time"))  # fmt: skip
    short = objective(Trial(0, config, budget=0.5), tmp_path / "a")
    long = objective(Trial(0, config, budget=1.0), tmp_path / "b")
    assert short.status == long.status == OK
    # 320 training images in batches of 32: 10 steps an epoch; the clock, not an epoch
    # count, ended both runs, and twice the seconds bought twice the steps
    assert 1.5 < short.metrics["epochs"] < 3.5
    assert long.metrics["epochs"] == pytest.approx(2 * short.metrics["epochs"], abs=0.2)
    assert long.cost == pytest.approx(long.metrics["epochs"])
    # each schedule completed by its own deadline: the last learning rate has decayed
    for result in (short, long):
        assert result.metrics["history"][-1]["lr"] < 0.05 * config["learning_rate"]
    # nothing to continue from: a promoted config retrains for its own seconds
    promoted = objective(Trial(0, config, budget=1.0, previous_budget=0.5), tmp_path / "a")
    assert promoted.metrics["continued_from"] == 0
    assert promoted.metrics["epochs"] == pytest.approx(long.metrics["epochs"], abs=0.2)


def test_time_fidelity_turns_learning_curve_stopping_off():
    settings = RunSettings("kmnist10k", fidelity="time", max_budget=60)
    assert settings.early_stopping and not settings.stops_early
    assert RunSettings("kmnist10k", fidelity="annealed").stops_early
