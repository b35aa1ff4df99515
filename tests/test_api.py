"""Every function README promises in ``autocnn.api`` exists and works, called through ``api``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autocnn import api, data

README_FUNCTIONS = (
    "continuation_savings", "datasets", "evaluate", "export", "fit", "make_synthetic", "optimize",
    "predict", "report", "status", "study", "train", "transfer_config", "transfer_weights",
)  # fmt: skip


def test_the_public_face_is_what_readme_lists():
    assert sorted(api.__all__) == sorted(README_FUNCTIONS)
    assert all(callable(getattr(api, name)) for name in README_FUNCTIONS)


def test_the_pipeline_through_api(tiny_pair, tmp_path):
    source, dest = tiny_pair
    tiny = {"min_budget": 1 / 3, "max_budget": 1, "iterations": 1}
    trained = api.train(source, "default", out=tmp_path / "train", epochs=1)
    assert trained.status == "ok" and (tmp_path / "train" / "model.pt").is_file()

    run = tmp_path / "run"
    summary = api.optimize(source, out=run, **tiny)
    assert api.status(run).n_done == summary.n_evaluations > 0
    trained_epochs, from_scratch = api.continuation_savings(run)
    assert 0 < trained_epochs <= from_scratch
    written = api.export(run, tmp_path / "hpb")
    assert {p.name for p in written} >= {"configs.json", "results.json"}

    final = api.evaluate(run, out=tmp_path / "final", seeds=1, epochs=1)
    assert 0.0 <= final.summary["test_acc"]["mean"] <= 1.0
    images = tmp_path / "images.npz"
    np.savez(images, x=data.load(source, "test").x[:6])
    labels = api.predict(tmp_path / "final", images, out=tmp_path / "labels.npz")
    assert labels.shape == (6,)

    weights = api.transfer_weights(tmp_path / "final", dest, out=tmp_path / "tw", epochs=1,
                                   seeds=1)  # fmt: skip
    assert weights.summary["n_classes"] == data.load(dest, "train").n_classes
    config = api.transfer_config(run, dest, out=tmp_path / "tc", **tiny)
    incumbent = json.loads((tmp_path / "tc" / "incumbent.json").read_text())
    assert config.incumbent is not None and "reduced_config" in incumbent

    built = api.report(run, tmp_path / "report", metrics=[tmp_path / "final" / "metrics.json"])
    assert built.html.is_file()


def test_datasets_lists_every_name_a_user_can_pass(tmp_path):
    names = {row.name for row in api.datasets(tmp_path)}
    assert {"kmnist", "k49", "kmnist10k", "kmnist10k-dest-longtail"} <= names


@pytest.mark.parametrize("name", ["study", "fit"])
def test_the_long_commands_are_the_functions_their_own_tests_run(name):
    # tests/study and tests/fit run these end to end; api must hand out the same functions
    from autocnn.fit import fit
    from autocnn.study import study

    assert getattr(api, name) is {"study": study, "fit": fit}[name]
