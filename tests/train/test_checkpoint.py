"""Checkpoints: the prefix property (resume == train longer) and every way loading can fail."""

from __future__ import annotations

import pickle

import pytest
import torch

from autocnn.errors import CheckpointError
from autocnn.train import evaluate_model, load_checkpoint, load_model, train


def _metrics(result):
    return [{k: v for k, v in vars(r).items() if k != "seconds"} for r in result.history]


def _assert_same_model(a, b):
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name


@pytest.mark.parametrize("first,second", [(0.5, 1.5), (1, 2), (1.5, 1.5)])
def test_resume_is_an_exact_prefix(tiny_sets, noisy_config, tmp_path, first, second):
    ck = tmp_path / "ck.pt"
    direct = train(noisy_config, *tiny_sets, epochs=second, horizon=3, seed=7)
    part = train(noisy_config, *tiny_sets, epochs=first, horizon=3, seed=7, save_to=ck)
    resumed = train(noisy_config, *tiny_sets, epochs=second, horizon=3, seed=7, resume_from=ck)
    assert part.epochs == first and resumed.start_epoch == first and resumed.epochs == second
    _assert_same_model(direct.model, resumed.model)
    assert _metrics(resumed) == _metrics(direct)
    assert resumed.val_acc == direct.val_acc and resumed.confusion == direct.confusion


def test_resume_twice_and_with_sgd_momentum(tiny_sets, tiny_config, tmp_path):
    config = {**tiny_config, "optimizer": "sgd", "learning_rate": 0.05, "lr_schedule": "cosine"}
    direct = train(config, *tiny_sets, epochs=2.5, horizon=3)
    train(config, *tiny_sets, epochs=0.5, horizon=3, save_to=tmp_path / "a.pt")
    train(
        config,
        *tiny_sets,
        epochs=1.25,
        horizon=3,
        resume_from=tmp_path / "a.pt",
        save_to=tmp_path / "b.pt",
    )
    resumed = train(config, *tiny_sets, epochs=2.5, horizon=3, resume_from=tmp_path / "b.pt")
    _assert_same_model(direct.model, resumed.model)
    assert _metrics(resumed) == _metrics(direct)


def test_load_model_evaluates_like_the_trained_model(tiny_sets, tiny_config, tmp_path):
    train_set, val_set = tiny_sets
    result = train(tiny_config, train_set, val_set, epochs=1, save_to=tmp_path / "model.pt")
    model, normalization, config = load_model(tmp_path / "model.pt")
    assert config == tiny_config and not model.training
    assert normalization.to_dict() == result.normalization
    assert evaluate_model(model, val_set, normalization=normalization).accuracy == result.val_acc
    assert not list(tmp_path.glob("*.tmp"))  # the temp file was renamed, not left behind


@pytest.fixture()
def checkpoint(tiny_sets, tiny_config, tmp_path):
    path = tmp_path / "ck.pt"
    train(tiny_config, *tiny_sets, epochs=1, horizon=3, save_to=path)
    return path


def _resume(path, config, sets, **kwargs):
    options = {"epochs": 2, "horizon": 3, **kwargs}
    return train(config, *sets, resume_from=path, **options)


def test_missing_checkpoint(tiny_sets, tiny_config, tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        _resume(tmp_path / "nope.pt", tiny_config, tiny_sets)


def test_truncated_and_corrupt_checkpoints(tiny_sets, tiny_config, checkpoint, tmp_path):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 50)
    for path in (truncated, garbage):
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            _resume(path, tiny_config, tiny_sets)


def test_foreign_files_are_rejected(tiny_sets, tiny_config, tmp_path):
    plain = tmp_path / "state_dict.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="not an autocnn checkpoint"):
        load_checkpoint(plain)
    # A pickle that would run code is refused by weights_only loading.
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as handle:
        pickle.dump(pytest.fail, handle, protocol=2)
    with pytest.raises(CheckpointError):
        load_checkpoint(evil)


def test_checkpoint_of_another_config(tiny_sets, tiny_config, checkpoint):
    other = {**tiny_config, "learning_rate": 0.002}
    before = checkpoint.read_bytes()
    with pytest.raises(CheckpointError, match="learning_rate"):
        _resume(checkpoint, other, tiny_sets, save_to=checkpoint)
    assert checkpoint.read_bytes() == before  # bad input overwrote nothing


@pytest.mark.parametrize(
    "change,match",
    [({"seed": 1}, "seed"), ({"horizon": 5}, "horizon"), ({"epochs": 0.5}, "beyond")],
)
def test_incompatible_resume(tiny_sets, tiny_config, checkpoint, change, match):
    with pytest.raises(CheckpointError, match=match):
        _resume(checkpoint, tiny_config, tiny_sets, **change)


def test_resume_on_other_data(tiny_sets, tiny_config, checkpoint):
    train_set, val_set = tiny_sets
    smaller = train_set.subset(list(range(200)))
    with pytest.raises(CheckpointError, match="steps_per_epoch|n_train"):
        _resume(checkpoint, tiny_config, (smaller, val_set))
