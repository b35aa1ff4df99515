"""export_model (TorchScript, ONNX) and predict with exports, checked on real KMNIST images.

The ONNX tests need the optional extra (``pip install -e '.[onnx]'``); they are skipped without
it, except on CI (CI=true), where a missing extra must fail them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from autocnn.errors import CheckpointError, ConfigError, DataError, DataWarning
from autocnn.final import evaluate, export_model, predict
from autocnn.final import export as export_module
from autocnn.final.export import fuse_conv_bn, onnx_available
from autocnn.space.extended import EXTENDED_DEFAULT
from autocnn.train import class_probabilities, load_model

ON_CI = os.environ.get("CI") == "true"
needs_onnx = pytest.mark.skipif(
    not onnx_available() and not ON_CI,
    reason="ONNX extra not installed (pip install -e '.[onnx]'); CI runs these",
)
# A residual net with BatchNorm everywhere (body and 1x1 shortcut) and dropout: every layer kind
# the export must handle. No augmentation, small widths: 3 epochs on 400 images take ~1 s.
CONFIG = {
    **{k: v for k, v in EXTENDED_DEFAULT.items() if not k.startswith("aug_")},
    "stage1_channels": 8,
    "residual": True,
    "augment": "none",
    "fc_units": 32,
    "batch_size": 32,
    "learning_rate": 3e-3,
    "lr_schedule": "constant",
    "dropout_rate": 0.1,
}


@pytest.fixture(scope="module")
def trained(kmnist_dir, tmp_path_factory):
    """A model trained 3 epochs on 400 real KMNIST images, its checkpoint, and its exports."""
    root = tmp_path_factory.mktemp("export")
    x = np.load(kmnist_dir / "kmnist-test-imgs.npz")["arr_0"]
    y = np.load(kmnist_dir / "kmnist-test-labels.npz")["arr_0"]
    data_dir = root / "data"
    data_dir.mkdir()
    for part, rows in (("train", slice(0, 400)), ("test", slice(400, 500))):
        np.savez(data_dir / f"kmnist-{part}-imgs.npz", arr_0=x[rows])
        np.savez(data_dir / f"kmnist-{part}-labels.npz", arr_0=y[rows])
    torch.set_num_threads(1)  # module fixtures run outside the per-test one-thread fixture
    result = evaluate(
        config=CONFIG,
        dataset=f"npz:{data_dir}",
        space="extended",
        out=root / "final",
        seeds=1,
        epochs=3,
    )
    checkpoint = root / "final" / result.per_seed[0]["model"]
    files = export_model(checkpoint, root / "exported")
    images = x[1000:1500]  # real images the model never saw
    np.savez(root / "images.npz", x=images)
    net, norm, _ = load_model(checkpoint)
    reference = class_probabilities(net, torch.from_numpy(images[:, None]), normalization=norm)
    return SimpleNamespace(
        root=root,
        checkpoint=checkpoint,
        final=root / "final",
        folder=root / "exported",
        files=files,
        images=images,
        npz=root / "images.npz",
        net=net,
        norm=norm,
        reference=reference.numpy(),
    )


def test_reference_is_a_trained_model(trained):
    # probabilities far from uniform: a broken preprocessing could not match them by chance
    assert trained.reference.shape == (500, 10)
    assert float(trained.reference.max(axis=1).mean()) > 0.25


def test_fused_conv_bn_keeps_logits_within_1e_5_on_real_images(trained):
    net = trained.net.to(memory_format=torch.contiguous_format)
    fused = fuse_conv_bn(net)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # original intact
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (trained.norm.mean, trained.norm.std))
    x = (torch.from_numpy(trained.images[:, None]).float() / 255 - mean) / std
    with torch.inference_mode():
        expected, got = net(x), fused(x)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def _torchscript(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path))


def test_torchscript_outputs_equal_pytorch_on_real_images(trained):
    module = _torchscript(trained.files["torchscript"])
    x = torch.from_numpy(trained.images)
    with torch.inference_mode():
        for images in (x[:, None], x, x[:, None].float() / 255):  # NCHW, NHW, floats in [0, 1]
            np.testing.assert_allclose(module(images).numpy(), trained.reference, atol=1e-5)
        assert module(x[:1, None]).shape == (1, 10)


@needs_onnx
def test_onnx_outputs_equal_pytorch_on_real_images(trained):
    import onnxruntime

    assert "onnx" in trained.files, "the ONNX extra is missing: pip install -e '.[onnx]'"
    session = onnxruntime.InferenceSession(
        str(trained.files["onnx"]), providers=["CPUExecutionProvider"]
    )
    (given,) = session.get_inputs()
    assert given.type == "tensor(uint8)" and given.shape[1:] == [1, 28, 28]
    for rows in (slice(0, 1), slice(0, 7), slice(0, 500)):  # the batch axis is dynamic
        (got,) = session.run(None, {given.name: trained.images[rows, None]})
        np.testing.assert_allclose(got, trained.reference[rows], atol=1e-5)


def test_export_json_records_input_classes_and_files(trained):
    meta = json.loads((trained.folder / "export.json").read_text())
    assert meta["format"] == "autocnn-export" and meta["output"] == "probabilities"
    assert meta["input_shape"] == [1, 28, 28] and meta["n_classes"] == 10
    assert meta["files"]["torchscript"] == "model.ts"
    assert all((trained.folder / name).is_file() for name in meta["files"].values())


def _predicted(model, trained, tmp_path, name):
    labels = predict(model, trained.npz, out=tmp_path / f"{name}.npz")
    stored = np.load(tmp_path / f"{name}.npz", allow_pickle=False)
    assert np.array_equal(stored["labels"], labels)
    return labels, stored["probabilities"]


def test_predict_with_torchscript_gives_the_checkpoints_labels(trained, tmp_path):
    labels, probabilities = _predicted(trained.final, trained, tmp_path, "checkpoint")
    np.testing.assert_allclose(probabilities, trained.reference, atol=1e-6)
    for name, model in (("ts", trained.files["torchscript"]), ("folder", trained.folder)):
        got, got_p = _predicted(model, trained, tmp_path, name)
        assert np.array_equal(got, labels), name
        np.testing.assert_allclose(got_p, probabilities, atol=1e-5)


@needs_onnx
def test_predict_with_onnx_gives_the_checkpoints_labels(trained, tmp_path):
    assert "onnx" in trained.files, "the ONNX extra is missing: pip install -e '.[onnx]'"
    labels, probabilities = _predicted(trained.checkpoint, trained, tmp_path, "checkpoint")
    got, got_p = _predicted(trained.files["onnx"], trained, tmp_path, "onnx")
    assert np.array_equal(got, labels)
    np.testing.assert_allclose(got_p, probabilities, atol=1e-5)


def test_a_folder_of_image_files_predicts_as_its_npz(trained, tmp_path):
    from PIL import Image

    folder = tmp_path / "photos"
    for i, image in enumerate(trained.images[:30]):  # two sub-folders; PNG is lossless
        sub = folder / ("a" if i < 20 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(sub / f"{i:03d}.png")
    (folder / "a" / "readme.txt").write_text("skipped: not an image")
    for model in (trained.final, trained.files["torchscript"]):
        out = tmp_path / f"{Path(model).name}.npz"
        labels = predict(model, folder, out=out)
        stored = np.load(out, allow_pickle=False)
        assert stored["files"].tolist() == [f"{'a' if i < 20 else 'b'}/{i:03d}.png"
                                            for i in range(30)]  # fmt: skip
        np.testing.assert_allclose(stored["probabilities"], trained.reference[:30], atol=1e-5)
        assert np.array_equal(labels, trained.reference[:30].argmax(axis=1))
    # an RGB image of another size is converted to the model's 1 x 28 x 28, with a warning
    Image.fromarray(np.stack([trained.images[0]] * 3, axis=-1)).resize((56, 56)).save(
        folder / "big.png"
    )
    with pytest.warns(DataWarning, match="1 of 31 images resized to 28x28"):
        predict(trained.final, folder, out=tmp_path / "big.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        predict(trained.final, tmp_path / "empty", out=tmp_path / "none.npz")
    assert not (tmp_path / "none.npz").exists()


def test_a_folder_with_a_checkpoint_and_an_export_predicts_with_the_checkpoint(trained, tmp_path):
    folder = tmp_path / "both"
    shutil.copytree(trained.final, folder)
    shutil.copy(trained.folder / "export.json", folder)
    (folder / "model.ts").write_bytes(b"not TorchScript")  # would fail if it were loaded
    labels, _ = _predicted(folder, trained, tmp_path, "both")
    assert np.array_equal(labels, trained.reference.argmax(axis=1))


def test_corrupt_or_foreign_exports_give_clear_errors(trained, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(trained.folder, broken)
    out = tmp_path / "labels.npz"
    (broken / "model.ts").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match="not a readable TorchScript model"):
        predict(broken / "model.ts", trained.npz, out=out)
    if onnx_available():
        data = trained.files["onnx"].read_bytes()
        (broken / "model.onnx").write_bytes(data[: len(data) // 3])
        with pytest.raises(CheckpointError, match="not a readable ONNX model"):
            predict(broken / "model.onnx", trained.npz, out=out)
    with pytest.raises(CheckpointError, match="does not exist"):
        predict(broken / "missing.ts", trained.npz, out=out)
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(trained.files["torchscript"], lone / "model.ts")
    with pytest.raises(CheckpointError, match="no export.json"):
        predict(lone / "model.ts", trained.npz, out=out)
    (broken / "export.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        predict(broken, trained.npz, out=out)
    (broken / "export.json").write_text(json.dumps({"format": "other", "input_shape": [1, 2, 3],
                                                    "n_classes": 2, "files": {}}))  # fmt: skip
    with pytest.raises(CheckpointError, match="not an autocnn export"):
        predict(broken, trained.npz, out=out)
    with pytest.raises(ConfigError, match="one model"):
        predict(trained.folder, trained.npz, out=out, ensemble=True)
    np.savez(tmp_path / "rgb.npz", x=np.zeros((3, 12, 12, 3), np.uint8))  # a gray model
    with pytest.raises(DataError, match="convert them to 1 channel"):
        predict(trained.files["torchscript"], tmp_path / "rgb.npz", out=out)
    assert not out.exists()


def test_an_ensemble_exports_as_one_model_averaging_its_nets_probabilities(trained, tmp_path):
    """Two different nets (fit's final ensemble) in one TorchScript / ONNX model."""
    plain = {**CONFIG, "residual": False, "stage1_channels": 12, "dropout_rate": 0.0}
    second = evaluate(config=plain, dataset=f"npz:{trained.root / 'data'}", space="extended",
                      out=tmp_path / "second", seeds=1, epochs=2, seed=1)  # fmt: skip
    other = tmp_path / "second" / second.per_seed[0]["model"]
    net, norm, _ = load_model(other)
    theirs = class_probabilities(net, torch.from_numpy(trained.images[:, None]), normalization=norm)
    assert np.abs(theirs.numpy() - trained.reference).max() > 0.05  # a different net indeed
    expected = (trained.reference + theirs.numpy()) / 2
    formats = ("torchscript", "onnx") if onnx_available() or ON_CI else ("torchscript",)
    files = export_model([trained.checkpoint, other], tmp_path / "both", formats=formats)
    meta = json.loads((tmp_path / "both" / "export.json").read_text())
    assert meta["members"] == 2 and len(set(meta["config_hashes"])) == 2
    x = torch.from_numpy(trained.images[:, None])
    with torch.inference_mode():
        got = _torchscript(files["torchscript"])(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    if "onnx" in files:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(files["onnx"]))
        onnx_out = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        np.testing.assert_allclose(onnx_out, expected, atol=1e-5)
    labels = predict(tmp_path / "both", trained.npz, out=tmp_path / "l.npz")
    assert np.array_equal(labels, expected.argmax(axis=1))


def test_models_that_take_different_inputs_or_classes_are_not_averaged(trained, tmp_path):
    from autocnn.train import load_checkpoint
    from autocnn.train.checkpoint import save_checkpoint

    other = tmp_path / "other.pt"
    save_checkpoint(other, {**load_checkpoint(trained.checkpoint), "n_classes": 5})
    with pytest.raises(CheckpointError, match="different inputs or classes"):
        export_model([trained.checkpoint, other], tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_export_refuses_bad_formats_and_an_existing_export(trained, tmp_path):
    with pytest.raises(ConfigError, match="formats"):
        export_model(trained.checkpoint, tmp_path / "x", formats=("tflite",))
    with pytest.raises(ConfigError, match="already holds an export"):
        export_model(trained.checkpoint, trained.folder, formats=("torchscript",))
    with pytest.raises(CheckpointError):
        export_model(tmp_path / "nothing.pt", tmp_path / "y")
    with pytest.raises(ConfigError, match="at least one"):
        export_model([], tmp_path / "z")


def test_without_the_onnx_packages_onnx_is_skipped_with_a_message(
    trained, tmp_path, monkeypatch, caplog
):
    # a package name that cannot be installed stands for a missing extra
    monkeypatch.setattr(export_module, "ONNX_PACKAGES", ("onnx", "autocnn_no_such_package"))
    with caplog.at_level("WARNING", logger="autocnn.final.export"):
        files = export_model(trained.checkpoint, tmp_path / "ts-only")
    assert list(files) == ["torchscript"]
    assert "ONNX export skipped" in caplog.text and "autocnn[onnx]" in caplog.text
    meta = json.loads((tmp_path / "ts-only" / "export.json").read_text())
    assert meta["files"] == {"torchscript": "model.ts"}
    labels = predict(tmp_path / "ts-only", trained.npz, out=tmp_path / "l.npz")
    assert np.array_equal(labels, trained.reference.argmax(axis=1))
    with pytest.raises(ConfigError, match=r"autocnn\[onnx\]"):  # nothing left to export
        export_model(trained.checkpoint, tmp_path / "none", formats="onnx")


def test_predict_with_onnx_but_no_onnxruntime_says_to_install_the_extra(
    trained, tmp_path, monkeypatch
):
    folder = tmp_path / "onnx-only"
    folder.mkdir()
    meta = json.loads((trained.folder / "export.json").read_text())
    meta["files"] = {"onnx": "model.onnx"}
    (folder / "export.json").write_text(json.dumps(meta))
    (folder / "model.onnx").write_bytes(b"never read")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what `import` sees when not installed
    with pytest.raises(ConfigError, match=r"autocnn\[onnx\]"):
        predict(folder, trained.npz, out=tmp_path / "l.npz")
