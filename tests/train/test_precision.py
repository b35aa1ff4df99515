"""Training precision: bf16 autocast where native, fp32 on request, checked at the boundary."""

from __future__ import annotations

import pytest
import torch

from autocnn import api
from autocnn.cli import main
from autocnn.data import write_synthetic
from autocnn.errors import ConfigError
from autocnn.train import train
from autocnn.train.precision import autocast_dtype, native_cpu_bf16


def _weights(result):
    return torch.cat([p.detach().flatten() for p in result.model.parameters()])


def test_fp32_and_bf16_are_what_the_result_records(tiny_sets, tiny_config):
    train_set, val_set = tiny_sets
    fp32 = train(tiny_config, train_set, val_set, epochs=1, precision="fp32")
    bf16 = train(tiny_config, train_set, val_set, epochs=1, precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert fp32.to_dict()["precision"] == "fp32"
    # bf16 rounds the convolutions' inputs: same start, measurably different weights after
    assert not torch.equal(_weights(fp32), _weights(bf16))
    assert torch.allclose(_weights(fp32), _weights(bf16), atol=0.05)


def test_auto_follows_the_hardware(tiny_sets, tiny_config):
    expected = "bf16" if native_cpu_bf16() else "fp32"
    result = train(tiny_config, tiny_sets[0], None, epochs=0.25, device="cpu")
    assert result.precision == expected
    assert autocast_dtype(torch.device("cpu"), "auto") == (
        torch.bfloat16 if native_cpu_bf16() else None
    )


def test_bf16_still_learns(tiny_sets, tiny_config):
    train_set, val_set = tiny_sets
    config = {**tiny_config, "learning_rate": 0.01}
    result = train(config, train_set, val_set, epochs=3, precision="bf16")
    assert result.status == "ok" and result.val_acc > 0.6  # chance is 0.25


def test_bf16_continuation_is_an_exact_prefix(tiny_sets, tiny_config, tmp_path):
    """BOHB promotes a config by continuing its checkpoint: that must hold under bf16 too."""
    train_set, val_set = tiny_sets
    checkpoint = tmp_path / "half.pt"
    train(tiny_config, train_set, val_set, epochs=1, horizon=2, save_to=checkpoint,
          precision="bf16")  # fmt: skip
    continued = train(tiny_config, train_set, val_set, epochs=2, horizon=2,
                      resume_from=checkpoint, precision="bf16")  # fmt: skip
    direct = train(tiny_config, train_set, val_set, epochs=2, horizon=2, precision="bf16")
    assert torch.equal(_weights(continued), _weights(direct))
    assert continued.val_loss == direct.val_loss


def test_an_unknown_precision_is_refused_before_anything_is_written(tmp_path, capsys):
    folder = tmp_path / "data"
    write_synthetic(folder, "tiny", n_classes=3, n_train=60, n_test=12, image_size=12)
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="precision must be one of auto, fp32, bf16"):
        api.train(f"npz:{folder}", out=out, epochs=1, precision="half")
    assert not out.exists()
    args = ["train", "--dataset", f"npz:{folder}", "--epochs", "1", "--out", str(out), "--quiet"]
    assert main([*args, "--precision", "fp16"]) == 2
    assert "precision must be one of" in capsys.readouterr().err
    assert not out.exists()
    evaluate = ["evaluate", "--dataset", f"npz:{folder}", "--config", "default", "--epochs", "1"]
    assert main([*evaluate, "--out", str(out), "--precision", "fp16"]) == 2
    assert not out.exists()
    assert main([*args, "--precision", "fp32"]) == 0
    assert (out / "metrics.json").exists()
