"""Weight transfer: what is copied (BN statistics included), the new head, freezing, errors."""

from __future__ import annotations

import pytest
import torch

from autocnn.errors import CheckpointError, ConfigError
from autocnn.train import train
from autocnn.transfer.weights import (
    FineTune,
    finetune,
    load_source,
    source_checkpoint,
    transferred_model,
)


@pytest.fixture()
def source(source_sets, bn_config, tmp_path):
    train_set, _ = source_sets
    result = train(bn_config, train_set, None, epochs=1, seed=0, save_to=tmp_path / "model.pt")
    assert result.status == "ok"
    return load_source(tmp_path)  # a folder with model.pt


def test_copies_every_non_head_tensor_including_bn_statistics(source):
    model, copied = transferred_model(source, n_classes=7)
    state = model.state_dict()
    non_head = [k for k in state if not k.startswith("head.")]
    assert sorted(copied) == sorted(non_head)
    stats = [k for k in non_head if k.endswith(("running_mean", "running_var"))]
    assert len(stats) == 6  # conv1, conv2 and fc1 BatchNorm layers
    for key in non_head:
        assert torch.equal(state[key], source.state[key]), key
    # the statistics were learned, not a fresh layer's zeros / ones
    assert any(not torch.all(source.state[k] == 0) for k in stats if "mean" in k)
    assert model.head.out_features == 7 and state["head.weight"].shape[0] == 7
    assert source.state["head.weight"].shape[0] == 4


def test_head_is_reproducible_from_the_seed(source):
    a, _ = transferred_model(source, 5, seed=1)
    b, _ = transferred_model(source, 5, seed=1)
    c, _ = transferred_model(source, 5, seed=2)
    assert torch.equal(a.head.weight, b.head.weight)
    assert not torch.equal(a.head.weight, c.head.weight)


def _backbone(state):
    return {k: v for k, v in state.items() if not k.startswith("head.")}


def test_frozen_epochs_change_only_the_head(source, source_sets):
    _, dest = source_sets
    result = finetune(source, dest, None, epochs=1, freeze_epochs=1, seed=0)
    state = {k: v.cpu() for k, v in result.model.state_dict().items()}
    for key, value in _backbone(state).items():  # weights AND running statistics unchanged
        assert torch.equal(value, source.state[key]), key
    start, _ = transferred_model(source, dest.n_classes, seed=0)
    assert not torch.equal(state["head.weight"], start.head.weight.detach())
    assert result.n_params == sum(p.numel() for p in result.model.parameters())


def test_after_freezing_the_backbone_learns(source, source_sets):
    _, dest = source_sets
    result = finetune(source, dest, None, epochs=2, freeze_epochs=1, backbone_lr_factor=0.5)
    state = result.model.state_dict()
    assert not torch.equal(state["features.0.weight"].cpu(), source.state["features.0.weight"])


def test_backbone_lr_factor_zero_keeps_copied_weights(source, source_sets):
    _, dest = source_sets
    result = finetune(source, dest, None, epochs=1, backbone_lr_factor=0.0)
    params = dict(result.model.named_parameters())
    for name, value in params.items():
        if not name.startswith("head."):
            assert torch.equal(value.detach().cpu(), source.state[name]), name


def test_groups_and_freeze_schedule(source):
    model, _ = transferred_model(source, 3)
    groups = FineTune(freeze_epochs=2, backbone_lr_factor=0.1).param_groups(model)
    assert [g["lr_factor"] for g in groups] == [1.0, 0.1]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    schedule = FineTune(freeze_epochs=2)
    schedule.before_epoch(model.train(), 1)
    assert not model.features[0].weight.requires_grad and not model.features[1].training
    assert model.head.weight.requires_grad and model.head.training
    schedule.before_epoch(model, 2)
    assert model.features[0].weight.requires_grad


@pytest.mark.parametrize(
    "options", [{"freeze_epochs": -1}, {"freeze_epochs": 1.5}, {"backbone_lr_factor": -0.1}]
)
def test_bad_options(options):
    with pytest.raises(ConfigError):
        FineTune(**options)


def test_other_image_size_and_missing_source(source, tmp_path):
    with pytest.raises(ConfigError, match="same size"):
        transferred_model(source, 3, input_shape=(1, 16, 16))
    with pytest.raises(CheckpointError):
        source_checkpoint(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no model"):
        source_checkpoint(tmp_path / "empty")


@pytest.mark.parametrize(
    ("option", "dest_index", "expected"),
    [
        ("auto", 1, {"imbalance": "logit_adjustment", "imbalance_tau": 1.0}),  # long-tailed
        ("auto", 0, {"imbalance": "none"}),  # balanced destination
        ("source", 1, {"imbalance": "logit_adjustment", "imbalance_tau": 0.5}),
        ("weighted_loss", 1, {"imbalance": "weighted_loss", "imbalance_beta": 1.0}),
    ],
)
def test_weight_transfer_fine_tunes_with_the_destinations_imbalance_handling(
    option, dest_index, expected, source_sets, bn_config, tiny_pair, tmp_path
):
    import json

    from autocnn.transfer.weight_transfer import transfer_weights

    config = {**bn_config, "imbalance": "logit_adjustment", "imbalance_tau": 0.5}
    train(config, source_sets[0], None, epochs=1, seed=0, save_to=tmp_path / "src" / "model.pt")
    out = tmp_path / "tw"
    transfer_weights(tmp_path / "src", tiny_pair[dest_index], out=out, epochs=1, seeds=1,
                     imbalance=option)  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    imbalance_keys = {k: v for k, v in metrics["config"].items() if k.startswith("imbalance")}
    assert imbalance_keys == expected and metrics["imbalance_option"] == option


def test_an_unknown_imbalance_option_writes_nothing(source, tiny_pair, tmp_path):
    from autocnn.transfer.weight_transfer import transfer_weights

    with pytest.raises(ConfigError, match="--imbalance 'balanced'.*auto, source, none"):
        transfer_weights(source.path, tiny_pair[1], out=tmp_path / "tw", imbalance="balanced")
    assert not (tmp_path / "tw").exists()
