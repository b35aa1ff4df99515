"""``holdout:NAME`` and ``has_test_part``: a set without a test part gets one, cut the same way
in every process, and commands that test a model refuse a set without one before any work."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from autocnn import api, data
from autocnn.errors import DataError


@pytest.fixture
def photos(tmp_path):
    """A train-only folder set: 3 classes of 20 PNGs (class k has brightness ~ 60 + 70 k)."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(("a", "b", "c")):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(20):
            level = 60 + 70 * k + rng.integers(0, 30, (8, 8))
            Image.fromarray(level.astype(np.uint8)).save(tmp_path / "photos" / name / f"{i}.png")
    return tmp_path / "photos"


def test_holdout_cuts_a_stratified_disjoint_test_part_the_same_way_each_time(photos):
    name = f"holdout:dir:{photos}"
    whole = data.load(f"dir:{photos}", "train")
    train, test = data.load(name, "train"), data.load(name, "test")
    assert (len(train), len(test)) == (51, 9)  # 15 % of each class of 20: 3
    assert test.class_counts().tolist() == [3, 3, 3] and train.class_names == ("a", "b", "c")
    rows = {bytes(x) for x in whole.x.numpy()}
    train_rows, test_rows = {bytes(x) for x in train.x.numpy()}, {bytes(x) for x in test.x.numpy()}
    assert not train_rows & test_rows and train_rows | test_rows == rows
    data.clear_cache()  # another process: the same cut
    assert np.array_equal(data.load(name, "test").x.numpy(), test.x.numpy())


def test_which_sets_have_a_test_part(photos, tmp_path):
    x, y = np.zeros((4, 5, 5), np.uint8), np.array([0, 1, 0, 1])
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    np.savez(tmp_path / "full.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    (tmp_path / "pre").mkdir()
    np.savez(tmp_path / "pre" / "toy-train-imgs.npz", x)
    np.savez(tmp_path / "pre" / "toy-train-labels.npz", y)
    assert not data.has_test_part(f"dir:{photos}")
    assert not data.has_test_part(f"npz:{tmp_path / 'xy.npz'}")
    assert not data.has_test_part(f"npz:{tmp_path / 'pre'}")
    assert not data.has_test_part(f"idx:{tmp_path}")
    assert data.has_test_part(f"npz:{tmp_path / 'full.npz'}")
    assert data.has_test_part(f"holdout:dir:{photos}")
    assert data.has_test_part("kmnist10k")


def test_commands_that_test_refuse_a_set_without_a_test_part_before_any_work(photos, tmp_path):
    name = f"dir:{photos}"
    with pytest.raises(DataError, match=f"no test part.*holdout:{name}"):
        api.evaluate(config="default", dataset=name, out=tmp_path / "e", epochs=1, seeds=1)
    with pytest.raises(DataError, match="no test part"):
        api.study(source="kmnist10k", dest=name, out=tmp_path / "s", preset="smoke")
    source = tmp_path / "source"
    api.evaluate(config="default", dataset=f"holdout:{name}", out=source, epochs=0.2, seeds=1)
    with pytest.raises(DataError, match="no test part"):
        api.transfer_weights(source, name, out=tmp_path / "w", epochs=1, seeds=1)
    assert not any((tmp_path / d).exists() for d in ("e", "s", "w"))


def test_a_holdout_name_is_refused_without_a_dataset():
    with pytest.raises(DataError, match="takes one dataset name"):
        data.load("holdout:", "train")
