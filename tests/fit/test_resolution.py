"""The input size a fit chooses (``autocnn.fit.resolution``): the images' own unless the budget
cannot train at that size, adapting to the budget, the set's size and the measured speed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autocnn.fit.resolution import (
    CANDIDATE_SIDES,
    SizeChoice,
    candidate_sides,
    choose_size,
    enough_images,
    fixed_size,
)

SPEED_AT_32 = 1200.0  # one worker's images/s at 32 x 32: about the extended default's here


def _choose(hw, seconds, n_train=8000, speed=SPEED_AT_32):
    return choose_size(hw, n_train=n_train, n_val=n_train // 4, total_seconds=seconds, spent=2.0,
                       img_per_s_at_smallest=speed, cpus=2)  # fmt: skip


def test_small_images_keep_their_size_with_nothing_to_decide():
    choice = _choose((28, 28), 60)
    assert choice.side is None and choice.hw == (28, 28) and choice.dataset("x") == "x"


def test_large_images_are_scaled_down_when_the_budget_is_short_and_less_when_it_is_long():
    sides = [_choose((96, 96), s).side or 96 for s in (120, 300, 1800, 4 * 3600, 48 * 3600)]
    assert sides == sorted(sides)  # a longer budget never trains on smaller images
    assert sides[0] == 32 and sides[-1] == 96  # two minutes: the smallest; two days: their own
    assert _choose((96, 96), 300).dataset("dir:photos") == "resize:32:dir:photos"


def test_a_slower_machine_or_more_images_choose_smaller_sizes():
    fast = _choose((96, 96), 1800, speed=4 * SPEED_AT_32).side or 96
    slow = _choose((96, 96), 1800, speed=SPEED_AT_32 / 4).side or 96
    assert slow < fast
    few = _choose((96, 96), 1800, n_train=1000).side or 96
    many = _choose((96, 96), 1800, n_train=60000).side or 96
    assert many <= few


@pytest.mark.parametrize("seconds", [90, 300, 1800, 7200])
def test_the_choice_is_the_largest_size_that_trains_enough(seconds):
    choice = _choose((96, 72), seconds)
    trained = choice.side or 96
    assert set(choice.predicted) == {96, 64, 48, 32}
    need = enough_images(8000)
    assert choice.enough_images == need
    larger = [images for side, images in choice.predicted.items() if side > trained]
    assert all(images < need for images in larger)
    assert choice.predicted[trained] >= need or trained == 32  # else the smallest
    assert choice.hw == (trained, trained * 72 // 96)  # the aspect ratio kept


def test_images_above_the_largest_candidate_are_never_trained_at_their_own_size():
    assert candidate_sides((480, 640)) == list(CANDIDATE_SIDES)
    choice = _choose((480, 640), 48 * 3600)
    assert choice.side == CANDIDATE_SIDES[0] and choice.hw == (96, 128)


def test_a_fixed_size_and_the_stored_choice_round_trip():
    assert fixed_size((64, 64), 40).hw == (40, 40) and fixed_size((64, 64), 64).side is None
    choice = _choose((96, 96), 600)
    assert SizeChoice.from_dict(json.loads(json.dumps(choice.to_dict()))) == choice


def test_the_speed_benchmark_measures_each_size_beside_the_pixel_model(
    tmp_path, capsys, benchmark_script
):
    from autocnn import data

    data.write_synthetic(tmp_path / "d", "kmnist", n_classes=2, n_train=64, n_test=8,
                         imbalance=1.0, image_size=10)  # fmt: skip
    out = tmp_path / "rows.json"
    argv = ["--dataset", f"npz:{tmp_path / 'd'}", "--space", "seed", "--sides", "20,10",
            "--repeats", "1", "--out", str(out)]  # fmt: skip
    assert benchmark_script("image_size").main(argv) == 0
    rows = json.loads(out.read_text())
    assert [r["side"] for r in rows] == [10, 20]
    assert [r["shape"] for r in rows] == [[1, 10, 10], [1, 20, 20]]
    assert all(r["median"] > 0 for r in rows)
    assert "| 20 |" in capsys.readouterr().out


def test_the_small_objects_set_keeps_each_image_whole_on_a_larger_canvas(
    tmp_path, benchmark_script
):
    """benchmarks/small_objects.py: every image pasted unscaled, once, at a seeded place."""
    from autocnn import data

    data.write_synthetic(tmp_path / "d", "kmnist", n_classes=3, n_train=30, n_test=9,
                         imbalance=1.0, image_size=10)  # fmt: skip
    script = benchmark_script("small_objects")
    argv = ["--dataset", f"npz:{tmp_path / 'd'}", "--side", "24", "--out", str(tmp_path / "o.npz")]
    assert script.main(argv) == 0
    objects = data.load(f"npz:{tmp_path / 'o.npz'}", "train")
    given = data.load(f"npz:{tmp_path / 'd'}", "train")
    assert objects.input_shape == (1, 24, 24) and objects.y.tolist() == given.y.tolist()
    x = objects.x[:, 0].numpy()
    for canvas, image in zip(x, given.x[:, 0].numpy(), strict=True):
        rows, cols = np.nonzero(canvas)  # the pasted image's bright pixels, where it landed
        inside = np.nonzero(image)
        top, left = rows.min() - inside[0].min(), cols.min() - inside[1].min()
        assert np.array_equal(canvas[top : top + 10, left : left + 10], image)
        assert canvas.sum() == image.sum()  # nothing else on the canvas
    assert script.main([*argv[:-1], str(tmp_path / "again.npz")]) == 0  # the same seed: the same
    again, first = (np.load(tmp_path / name)["x_train"] for name in ("again.npz", "o.npz"))
    assert np.array_equal(again, first)
    with pytest.raises(SystemExit, match="smaller than the images"):
        script.main(
            ["--dataset", f"npz:{tmp_path / 'd'}", "--side", "8", "--out", str(tmp_path / "x.npz")]
        )
