from __future__ import annotations

import numpy as np
import pytest

from autocnn.data import load


@pytest.fixture(scope="module")
def raw(kmnist_dir):
    x = np.load(kmnist_dir / "kmnist-test-imgs.npz")["arr_0"]
    y = np.load(kmnist_dir / "kmnist-test-labels.npz")["arr_0"]
    return x, y


@pytest.mark.parametrize("part,per_class", [("train", 800), ("test", 200)])
def test_split_is_first_800_and_last_200_per_class_in_file_order(kmnist_dir, raw, part, per_class):
    x, y = raw
    data = load("kmnist10k", part, data_dir=kmnist_dir)
    assert data.x.dtype.is_floating_point is False and data.x.shape == (10 * per_class, 1, 28, 28)
    assert data.n_classes == 10
    assert data.class_counts().tolist() == [per_class] * 10
    got_x, got_y = data.x.numpy()[:, 0], data.y.numpy()
    for c in range(10):
        of_class = np.flatnonzero(y == c)
        expected = of_class[:800] if part == "train" else of_class[800:]
        assert np.array_equal(got_x[got_y == c], x[expected])


def test_parts_are_disjoint_and_cover_the_file(kmnist_dir, raw):
    x, _ = raw
    train = load("kmnist10k", "train", data_dir=kmnist_dir).x.numpy().reshape(8000, -1)
    test = load("kmnist10k", "test", data_dir=kmnist_dir).x.numpy().reshape(2000, -1)
    rows = {r.tobytes() for r in np.concatenate([train, test])}
    assert rows == {r.tobytes() for r in x.reshape(10000, -1)}
    assert not {r.tobytes() for r in train} & {r.tobytes() for r in test}
