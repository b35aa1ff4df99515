"""A ``dir:`` set's folder names travel with its models: checkpoints, exports, predict."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from autocnn import data
from autocnn.cli import main
from autocnn.data.imageset import ImageSet
from autocnn.errors import CheckpointError
from autocnn.final import evaluate, export_model, predict

NAMES = ("ka", "ki", "ku")


@pytest.fixture(scope="module")
def folder_set(tmp_path_factory):
    """Three classes of 6x6 images that differ in brightness (learnable in an epoch or two)."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for part, n in (("train", 30), ("test", 6)):
        for label, name in enumerate(NAMES):
            (root / part / name).mkdir(parents=True)
            for i in range(n):
                level = 40 + 80 * label + rng.integers(0, 20, (6, 6))
                Image.fromarray(level.astype(np.uint8)).save(root / part / name / f"{i}.png")
    return root


def test_imageset_keeps_its_class_names_through_subsets_and_splits():
    s = ImageSet(torch.zeros(6, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 1, 2] * 2), 3,
                 class_names=NAMES)  # fmt: skip
    train, val = data.train_val_split(s, 0.5, seed=0)
    assert train.class_names == val.class_names == s.subset([0]).class_names == NAMES
    with pytest.raises(ValueError, match="2 names for 3 classes"):
        ImageSet(s.x, s.y, 3, class_names=("a", "b"))


def test_names_reach_the_checkpoint_the_export_and_predict(folder_set, tmp_path, capsys):
    final = tmp_path / "final"
    evaluate(config="default", dataset=f"dir:{folder_set}", out=final, seeds=2, epochs=20)
    assert data.load(f"dir:{folder_set}", "train").class_names == NAMES
    summary = json.loads((final / "metrics.json").read_text())["summary"]
    assert summary["class_names"] == list(NAMES)  # the report labels its per-class rows so
    images = folder_set / "test"  # predict takes a folder too; its sub-folders are just paths
    labels = predict(final, images, out=tmp_path / "labels.npz", ensemble=True)
    with np.load(tmp_path / "labels.npz", allow_pickle=False) as stored:
        assert stored["class_names"].tolist() == list(NAMES)
        truth = [NAMES.index(f.split("/")[0]) for f in stored["files"].tolist()]
    assert np.mean(labels == np.array(truth)) > 0.5  # learnt: the names label the right images

    exported = export_model(sorted((final / "models").glob("*.pt")), tmp_path / "export")
    assert json.loads((tmp_path / "export" / "export.json").read_text())["class_names"] == list(
        NAMES
    )
    again = predict(exported["torchscript"], images, out=tmp_path / "ts.npz")
    with np.load(tmp_path / "ts.npz", allow_pickle=False) as stored:
        assert stored["class_names"].tolist() == list(NAMES)
    assert np.array_equal(again, labels)

    assert main(["predict", str(final), str(images), "--out", str(tmp_path / "cli.npz"),
                 "--ensemble"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "per class:" in printed and any(f"{k} {n}:" in printed for k, n in enumerate(NAMES))


def test_a_malformed_class_name_list_in_an_export_is_refused(folder_set, tmp_path):
    final = tmp_path / "final"
    evaluate(config="default", dataset=f"dir:{folder_set}", out=final, seeds=1, epochs=1)
    export_model(final / "models" / "seed-0.pt", tmp_path / "export")
    meta_path = tmp_path / "export" / "export.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "class_names": ["only-one"]}))
    with pytest.raises(CheckpointError, match="class_names is not a list of 3 names"):
        predict(tmp_path / "export", folder_set / "test", out=tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_sets_without_names_predict_without_them(tmp_path):
    x = np.random.default_rng(1).integers(0, 255, (40, 6, 6), dtype=np.uint8)
    y = np.arange(40) % 2
    np.savez(tmp_path / "set.npz", x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])
    final = tmp_path / "final"
    evaluate(config="default", dataset=f"npz:{tmp_path / 'set.npz'}", out=final, seeds=1,
             epochs=1)  # fmt: skip
    np.savez(tmp_path / "images.npz", x=x[:4])
    predict(final, tmp_path / "images.npz", out=tmp_path / "labels.npz")
    with np.load(tmp_path / "labels.npz", allow_pickle=False) as stored:
        assert set(stored.files) == {"labels", "probabilities"}
