"""The training loop: learning, optimizers/schedules, reproducibility, divergence, results."""

from __future__ import annotations

import json
import math

import pytest
import torch

from autocnn.errors import ConfigError
from autocnn.train import (
    Normalization,
    TrainResult,
    TrainSettings,
    balanced_accuracy,
    evaluate_model,
    learning_rate_at,
    train,
)


def _metrics(result: TrainResult) -> list[dict]:
    """History without wall-clock times (everything that must be reproducible)."""
    return [{k: v for k, v in vars(r).items() if k != "seconds"} for r in result.history]


def _assert_plain(value):
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            _assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            _assert_plain(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), (value, type(value))


def test_learns_above_chance_and_reports_plain_metrics(tiny_sets, tiny_config):
    train_set, val_set = tiny_sets
    result = train({**tiny_config, "learning_rate": 0.01}, train_set, val_set, epochs=3)
    assert result.status == "ok" and result.error is None
    assert result.epochs == 3.0 and result.steps == 3 * (256 // 32)
    assert [r.epoch for r in result.history] == [1.0, 2.0, 3.0]
    assert result.val_acc > 0.6  # chance is 0.25
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert result.val_acc == result.history[-1].val_acc
    assert len(result.per_class_acc) == 4 and len(result.confusion) == 4
    assert sum(map(sum, result.confusion)) == len(val_set)
    assert result.n_params > 0 and result.images_per_second > 0
    payload = result.to_dict()
    _assert_plain(payload)
    json.dumps(payload, allow_nan=False)
    assert "model" not in payload


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "adadelta"])
def test_every_optimizer_runs(tiny_sets, tiny_config, optimizer):
    lr = {"adadelta": 1.0, "sgd": 0.05}.get(optimizer, 0.005)
    config = {**tiny_config, "optimizer": optimizer, "learning_rate": lr, "momentum": 0.9}
    result = train(config, *tiny_sets, epochs=1)
    assert result.status == "ok"
    assert math.isfinite(result.history[-1].train_loss)
    assert result.val_acc > 0.3


@pytest.mark.parametrize("schedule", ["constant", "cosine", "onecycle"])
def test_every_schedule_runs_and_sets_the_step_lr(tiny_sets, tiny_config, schedule):
    config = {**tiny_config, "lr_schedule": schedule, "learning_rate": 0.01}
    result = train(config, *tiny_sets, epochs=2, horizon=4)
    steps = 256 // 32
    assert result.status == "ok"
    # The record's lr is the one used by the epoch's last step, over the 4-epoch horizon.
    for record in result.history:
        last_step = round(record.epoch * steps) - 1
        assert record.lr == learning_rate_at(schedule, 0.01, last_step, 4 * steps)


def test_fractional_budget_runs_half_the_steps(tiny_sets, tiny_config):
    result = train(tiny_config, *tiny_sets, epochs=1.5)
    assert result.steps == 12 and result.epochs == 1.5
    assert [r.epoch for r in result.history] == [1.0, 1.5]


def test_same_seed_same_result_other_seed_differs(tiny_sets, noisy_config):
    first = train(noisy_config, *tiny_sets, epochs=1.5, seed=3)
    second = train(noisy_config, *tiny_sets, epochs=1.5, seed=3)
    other = train(noisy_config, *tiny_sets, epochs=1.5, seed=4)
    assert _metrics(first) == _metrics(second)
    for (name, a), b in zip(
        first.model.state_dict().items(), second.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert _metrics(first) != _metrics(other)


def test_training_leaves_the_callers_rng_alone(tiny_sets, tiny_config):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(tiny_config, *tiny_sets, epochs=0.5)
    assert torch.equal(torch.rand(3), expected)


def test_divergence_is_a_status_not_an_exception(tiny_sets, tiny_config, tmp_path):
    config = {**tiny_config, "optimizer": "sgd", "learning_rate": 1e6, "momentum": 0.9}
    result = train(config, *tiny_sets, epochs=3, save_to=tmp_path / "ck.pt")
    assert result.status == "diverged"
    assert "diverged" in result.error
    assert result.epochs <= 1.0  # stopped at the first check, not after 3 epochs
    assert result.val_acc is None and result.confusion is None
    assert not (tmp_path / "ck.pt").exists()  # a diverged model is not saved
    json.dumps(result.to_dict())


def test_without_validation_set(tiny_sets, tiny_config):
    result = train(tiny_config, tiny_sets[0], None, epochs=1)
    assert result.status == "ok" and result.val_acc is None
    assert result.history[0].val_loss is None and result.history[0].train_acc > 0


def test_evaluate_model_reproduces_validation_metrics(tiny_sets, tiny_config):
    train_set, val_set = tiny_sets
    result = train(tiny_config, train_set, val_set, epochs=1)
    metrics = evaluate_model(
        result.model,
        val_set,
        batch_size=17,
        normalization=Normalization.from_dict(result.normalization),
        amp=result.precision == "bf16",  # validation runs in the training's precision
    )
    assert metrics.accuracy == result.val_acc
    assert metrics.confusion == result.confusion
    assert metrics.loss == pytest.approx(result.val_loss, rel=1e-5)
    predicted = []
    for row, counts in enumerate(metrics.confusion):
        for column, count in enumerate(counts):
            predicted += [(row, column)] * count
    y_true, y_pred = zip(*predicted, strict=True)
    assert metrics.balanced_accuracy == pytest.approx(balanced_accuracy(y_true, y_pred))


def test_extended_default_trains(tiny_sets):
    from autocnn.space import default_config

    config = {**default_config("extended"), "stage1_channels": 8, "fc_units": 32, "batch_size": 32}
    result = train(config, *tiny_sets, epochs=2, horizon=3)
    assert result.status == "ok" and result.val_acc > 0.25


def test_progress_bar_runs(tiny_sets, tiny_config):
    assert train(tiny_config, *tiny_sets, epochs=1, progress=True).status == "ok"


@pytest.mark.parametrize(
    "key,value",
    [
        ("optimizer", "rmsprop"),
        ("lr_schedule", "step"),
        ("learning_rate", -1.0),
        ("batch_size", 0),
        ("augment", "mixup"),
        ("label_smoothing", 2.0),
    ],
)
def test_bad_training_settings_raise_config_error(key, value):
    with pytest.raises(ConfigError, match=key):
        TrainSettings.from_config({key: value})


def test_settings_defaults_for_absent_keys():
    settings = TrainSettings.from_config({"optimizer": "sgd"})
    assert settings.weight_decay == 0.0 and settings.lr_schedule == "constant"
    assert settings.label_smoothing == 0.0 and settings.augmentation.mode == "none"


def test_a_net_at_chance_after_an_epoch_stops_early_when_asked(tiny_sets, tiny_config):
    dead = {**tiny_config, "learning_rate": 1e-9}  # keeps its random init: chance level
    stopped = train(dead, *tiny_sets, epochs=9, stop_if_not_learning=True)
    assert stopped.status == "diverged" and stopped.error.startswith("not learning")
    assert "chance: 25.0%" in stopped.error
    # 8 steps per epoch: judged first after epoch 7, the first with >= 50 steps behind it
    assert stopped.epochs == 7.0 and len(stopped.history) == 7
    # a third of the schedule first: 12 epochs of a 30-epoch horizon are judged at epoch 10
    # (80 of 240 steps), never within the first 9 (one-cycle's warm-up is 0.3 of it)
    late = train(dead, *tiny_sets, epochs=12, horizon=30, stop_if_not_learning=True)
    assert late.status == "diverged" and late.epochs == 10.0
    early = train(dead, *tiny_sets, epochs=9, horizon=30, stop_if_not_learning=True)
    assert early.status == "ok" and early.epochs == 9.0
    assert train(dead, *tiny_sets, epochs=9).epochs == 9.0  # off by default
    learning = {**tiny_config, "learning_rate": 0.01}
    kept = train(learning, *tiny_sets, epochs=9, stop_if_not_learning=True)
    assert kept.status == "ok" and kept.epochs == 9.0


def test_stop_when_ends_the_run_after_the_epoch_it_names(tiny_sets, tiny_config, tmp_path):
    asked = []

    def stop_at_two(record):
        asked.append(record.epoch)
        return "enough" if record.epoch == 2 else None

    save_to = tmp_path / "run.pt"
    stopped = train(tiny_config, *tiny_sets, epochs=5, stop_when=stop_at_two, save_to=save_to)
    assert stopped.status == "stopped" and stopped.error == "enough"
    assert asked == [1.0, 2.0] and stopped.epochs == 2.0
    assert not save_to.exists()  # a stopped run is not a checkpoint of its budget
    # its metrics are those of epoch 2 of the same run (same seed, same horizon)
    prefix = train(tiny_config, *tiny_sets, epochs=2, horizon=5)
    assert stopped.val_balanced_acc == prefix.val_balanced_acc
    assert stopped.history[-1].val_loss == prefix.history[-1].val_loss
    # not asked after the last epoch: there is nothing left to stop
    asked.clear()
    done = train(tiny_config, *tiny_sets, epochs=2, stop_when=lambda r: asked.append(r.epoch))
    assert done.status == "ok" and asked == [1.0]
