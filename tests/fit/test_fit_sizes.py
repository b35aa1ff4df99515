"""fit on images of other sizes: a folder without a test part trained at a fixed smaller
size, and large images whose input size the fit chooses from a measurement."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fit_helpers import page_text

from autocnn import api, data


def test_a_set_without_a_test_part_is_fitted_with_a_held_out_one_at_a_fixed_size(tmp_path):
    """A folder of 20 x 20 photos without test/, trained at 10 x 10 (``image_size``): the held-out
    test part is scaled like the rest, and predict scales the photos the same way."""
    from PIL import Image

    from autocnn.data.resize import resize_images
    from autocnn.final.predict import predict, read_images

    rng = np.random.default_rng(0)
    for k, name in enumerate(("maru", "sankaku")):  # two classes of 40 images, told by brightness
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(40):
            level = (70 + 90 * k + rng.integers(0, 40, (20, 20))).astype(np.uint8)
            Image.fromarray(level).save(tmp_path / "photos" / name / f"{i}.png")
    lines: list[str] = []
    state = api.fit(f"dir:{tmp_path / 'photos'}", time=45, out=tmp_path / "f", space="seed",
                    image_size=10, log=lines.append)  # fmt: skip
    assert state["dataset"] == f"resize:10:holdout:dir:{tmp_path / 'photos'}"
    assert any("has no test part" in line for line in lines)
    assert "input size: 20x20 images, trained at 10x10 (--image-size 10)" in lines
    tested = json.loads((tmp_path / "f" / "final" / "metrics.json").read_text())
    assert tested["summary"]["n_test"] == 12  # 15 % of each class of 40
    assert state["summary"]["test_accuracy"] is not None
    assert state["summary"]["input_size"] == [10, 10] and state["summary"]["original_size"] == [
        20,
        20,
    ]
    export = json.loads((tmp_path / "f" / "export" / "export.json").read_text())
    assert export["class_names"] == ["maru", "sankaku"]
    assert "20x20 images trained at 10x10" in page_text(tmp_path / "f" / "report" / "report.html")
    # the photos at their own size: scaled as the training images were, so the same labels
    with pytest.warns(UserWarning, match="resized"):
        from_folder = predict(tmp_path / "f", tmp_path / "photos", out=tmp_path / "a.npz")
    own = read_images(tmp_path / "photos", (1, 20, 20))
    np.savez(tmp_path / "small.npz", x=resize_images(own, (10, 10)))
    assert np.array_equal(from_folder, predict(tmp_path / "f", tmp_path / "small.npz",
                                               out=tmp_path / "b.npz"))  # fmt: skip
    with pytest.warns(UserWarning, match="resized to the model's input size"):  # an npz too
        np.savez(tmp_path / "own.npz", x=own)
        assert np.array_equal(from_folder, predict(tmp_path / "f", tmp_path / "own.npz",
                                                   out=tmp_path / "c.npz"))  # fmt: skip
    # --baseline: the default at the photos' own size, as a user would train it (its budget
    # cut to ~8 s here: what it is given comes from the stored plan)
    stored = json.loads((tmp_path / "f" / "fit.json").read_text())
    stored["plan"]["total_seconds"] = stored["plan"]["reserve_seconds"] + 8.0
    (tmp_path / "f" / "fit.json").write_text(json.dumps(stored))
    resumed = api.fit(out=tmp_path / "f", resume=True, baseline=True, log=lambda line: None)
    baseline = json.loads((tmp_path / "f" / "baseline" / "metrics.json").read_text())
    assert baseline["dataset"] == f"holdout:dir:{tmp_path / 'photos'}"
    assert resumed["summary"]["vs_baseline"]["n"] == 12  # the same test images, image by image


@pytest.mark.parametrize(("n_train", "budget"), [(120, "2m"), (4000, "1m")])
def test_large_images_get_an_input_size_chosen_from_measurement(tmp_path, capsys, n_train, budget):
    """40 x 40 images: candidates 40 and 32, chosen by the rule (a dry run: nothing written).
    On this project's CPUs the few images keep their size and the many are scaled to 32."""
    from autocnn.fit.resolution import enough_images

    data.write_synthetic(tmp_path / "d", "kmnist", n_classes=3, n_train=n_train, n_test=30,
                         imbalance=1.0, image_size=40)  # fmt: skip
    state = api.fit(f"npz:{tmp_path / 'd'}", time=budget, out=tmp_path / "dry", dry_run=True)
    size = state["input_size"]
    predicted = dict(size["predicted"])  # side -> images the final training would see
    assert set(predicted) == {40, 32}
    assert size["enough_images"] == enough_images(state["plan"]["n_train"])
    trained = size["side"] or 40
    assert predicted[trained] >= size["enough_images"] or trained == 32
    assert all(n < size["enough_images"] for s, n in predicted.items() if s > trained)
    resized = f"resize:{trained}:npz:{tmp_path / 'd'}"
    assert state["dataset"] == (resized if size["side"] else f"npz:{tmp_path / 'd'}")
    printed = capsys.readouterr().out
    assert f"input size: 40x40 images, trained at {trained}x{trained}" in printed
    # the size's probe ran at 32 x 32: the plan measures again only at another size
    assert ("measuring this machine" in printed) == (trained != 32)
    assert printed.count("measured: ") == 1
    assert not (tmp_path / "dry").exists()


def test_photos_larger_than_any_size_fit_chooses_are_never_decoded_at_their_own(
    tmp_path, capsys, monkeypatch
):
    """200 x 160 photos in class folders: the headers give their size, and every read of the
    folder decodes them scaled (at most to the largest candidate, 128 px): a folder of camera
    photos would not fit in memory at its own size. A dry run: nothing written."""
    from PIL import Image

    from autocnn.data import loading

    rng = np.random.default_rng(0)
    for k, name in enumerate(("maru", "sankaku")):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(30):
            level = (60 + 100 * k + rng.integers(0, 40, (160, 200))).astype(np.uint8)
            Image.fromarray(level).save(tmp_path / "photos" / name / f"{i}.png")
    sides: list[int | None] = []  # the side of every decoding of the folder
    real = loading.load_folder_part

    def recorded(name, root, part, side=None):
        sides.append(side)
        return real(name, root, part, side=side)

    monkeypatch.setattr(loading, "load_folder_part", recorded)
    data.clear_cache()
    state = api.fit(f"dir:{tmp_path / 'photos'}", time="2m", out=tmp_path / "dry", dry_run=True)
    side = state["input_size"]["side"]
    assert sides and None not in sides and max(sides) <= 128  # never at 200 x 160
    assert state["input_size"]["original"] == [160, 200] and side in (128, 96, 64, 48, 32)
    assert state["dataset"] == f"resize:{side}:holdout:dir:{tmp_path / 'photos'}"
    assert f"input size: 200x160 images, trained at {side}x" in capsys.readouterr().out
    assert state["plan"]["n_train"] + state["plan"]["n_val"] == 50  # 60 less 5 per class held out
