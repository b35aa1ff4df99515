"""The smoke study end to end on tiny synthetic data, its resume, and the local KMNIST splits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autocnn.errors import RunError
from autocnn.study.pipeline import STAGES, study
from autocnn.study.splits import DEST, SOURCE, class_sizes, resolve_dataset, split_indices

# Stages that may read a test part: the final evaluations (nothing else).
FINAL_STAGES = {"default-source", "default-dest", "final-source", "weights-dest",
                "final-config-dest", "final-bohb-dest"}  # fmt: skip


@pytest.fixture(scope="module")
def smoke(tiny_pair, tmp_path_factory):
    """Run the smoke study once, logging which stage read which dataset part."""
    from autocnn import data

    source, dest = tiny_pair
    out = tmp_path_factory.mktemp("study") / "s"
    events, reads, current = [], [], {"stage": None}
    real = data.load

    def logged(name, part="train", *args, **kwargs):
        reads.append((current["stage"], name, part))
        return real(name, part, *args, **kwargs)

    def on_stage(stage, event):
        events.append((stage, event))
        current["stage"] = stage

    data.load = logged
    try:
        result = study(source, dest, out=out, preset="smoke", on_stage=on_stage)
    finally:
        data.load = real
    return out, result, events, reads


def test_smoke_study_runs_every_stage_and_writes_the_table(smoke):
    out, result, events, _ = smoke
    assert [s for s, e in events if e == "done"] == list(STAGES)
    assert json.loads((out / "study.json").read_text()) == result
    methods = {(r["dataset"], r["method"]) for r in result["rows"]}
    assert methods == {("source", "default"), ("source", "bohb"), ("dest", "default"),
                       ("dest", "bohb"), ("dest", "weights"), ("dest", "config")}  # fmt: skip
    for row in result["rows"]:
        assert 0.0 <= row["test_balanced_acc"]["mean"] <= 1.0
        assert len(row["test_balanced_acc"]["values"]) == 2  # smoke: 2 seeds
        assert row["val_balanced_acc"] is not None and row["train_acc"]["mean"] is not None
        # the two seeds' models as one ensemble, as that final evaluation's metrics.json has it
        metrics = json.loads(
            (out / row["model"].rsplit("/models/", 1)[0] / "metrics.json").read_text()
        )
        ensemble = metrics["summary"]["ensemble"]
        assert ensemble["n_models"] == 2
        assert row["ensemble_test_balanced_acc"] == ensemble["test_balanced_acc"]
    assert result["summary"]["dest"]["best"] in {"default", "bohb", "weights", "config"}
    markdown = (out / "study.md").read_text()
    assert "weight transfer" in markdown and "± " in markdown and "ensemble bal. acc" in markdown
    weights = json.loads((out / "final" / "weights-dest" / "metrics.json").read_text())
    assert weights["freeze_epochs"] == 1 and weights["summary"]["n_classes"] == 6
    # the long-tailed destination is fine-tuned with logit adjustment, whatever the (balanced)
    # source's search picked ...
    assert weights["config"]["imbalance"] == "logit_adjustment"
    # ... and both destination searches start from class-balanced sampling (their first
    # config: the default / the source's net)
    from autocnn.optimize.store import Store

    for name in ("config-dest", "bohb-dest"):
        with Store.open(out / "runs" / name, readonly=True) as store:
            first = store.config(store.evaluations()[0].config_id)
        assert first["imbalance"] == "balanced_sampling"


def test_only_final_evaluations_read_test_parts(smoke):
    _, _, _, reads = smoke
    test_stages = {stage for stage, _, part in reads if part == "test"}
    assert test_stages <= FINAL_STAGES and "final-source" in test_stages
    assert not any(part == "test" for stage, _, part in reads if stage.startswith("bohb-"))
    assert not any(part == "test" for stage, _, part in reads if stage == "config-dest")


def test_resume_skips_finished_stages_and_redoes_only_missing_ones(smoke, tiny_pair, tmp_path):
    import shutil

    # on a copy: the other tests read the module's study as it was written (any order)
    out, result = tmp_path / "s", smoke[1]
    shutil.copytree(smoke[0], out)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    events = []
    again = study(out=out, resume=True, on_stage=lambda s, e: events.append((s, e)))
    assert again == result and all(e == "skipped" for _, e in events)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps
    # a kill after the final evaluation wrote its metrics but before the stage file: only the
    # missing stages run, and the finished evaluation is reused, not retrained
    (out / "stages" / "final-config-dest.json").unlink()
    (out / "stages" / "table.json").unlink()
    events.clear()
    study(out=out, resume=True, on_stage=lambda s, e: events.append((s, e)))
    assert [s for s, e in events if e == "done"] == ["final-config-dest", "table"]
    model = out / "final" / "config-dest" / "models" / "seed-0.pt"
    assert model.stat().st_mtime_ns == stamps[model]
    with pytest.raises(RunError, match="already holds a study"):
        study(*tiny_pair, out=out, preset="smoke")


def test_time_budgeted_searches_stop_on_time_and_a_resume_gets_only_what_is_left(
    tiny_pair, tmp_path, monkeypatch
):
    from autocnn.optimize.store import Store
    from autocnn.study import presets

    # like `small`: no iteration limit, a wall-clock budget per search (tiny here)
    timed = presets.Preset("timed", 3, 1 / 3, 1.0, None, 0.25, 1, 0.25, 0, 0.1, 6.0, 3.0)
    monkeypatch.setitem(presets.PRESETS, "timed", timed)
    out = tmp_path / "s"
    study(*tiny_pair, out=out, preset="timed", dest_bohb=False)
    searches = {
        name: json.loads((out / "stages" / f"{name}.json").read_text())
        for name in ("bohb-source", "config-dest")
    }
    one_iteration = 5 + 3  # evaluations of a Hyperband iteration with eta 3, budgets 1/3..1
    for name, budget in (("bohb-source", 6.0), ("config-dest", 3.0)):
        # it went on past one iteration, until its budget ...
        assert searches[name]["n_evaluations"] > one_iteration
        assert searches[name]["wall_seconds"] > budget - 2.0
        # ... and started nothing after it (a slow machine makes the evaluations in flight take
        # longer, not this): every ask came within the budget (+ the last ask's own time)
        with Store.open(out / "runs" / name, readonly=True) as store:
            submitted = [row.submitted for row in store.evaluations()]
        assert max(submitted) - min(submitted) < budget + 1.0
    # killed after the source search: the resumed search has no time left and adds nothing
    for name in ("bohb-source", "final-source", "weights-dest", "config-dest"):
        (out / "stages" / f"{name}.json").unlink()
    study(out=out, resume=True)
    with Store.open(out / "runs" / "bohb-source", readonly=True) as store:
        assert store.summary().n_done == searches["bohb-source"]["n_evaluations"]


def test_local_splits_are_disjoint_and_long_tailed():
    labels = np.repeat(np.arange(10), 800)
    np.random.default_rng(0).shuffle(labels)
    source = split_indices(labels, "train", "source")
    dest = split_indices(labels, "train", "dest")
    assert not set(source) & set(dest)
    assert np.bincount(labels[source]).tolist() == [400] * 10
    counts = np.bincount(labels[dest]).tolist()
    assert counts == class_sizes(400, 10) and counts[0] == 400 and counts[-1] == 40
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False))


def test_local_datasets_are_named_datasets_from_real_kmnist(kmnist_dir, tmp_path):
    from autocnn import data

    assert resolve_dataset(SOURCE, tmp_path, kmnist_dir) == SOURCE
    assert resolve_dataset(DEST) == DEST and resolve_dataset("npz:x") == "npz:x"
    src = data.load(resolve_dataset(SOURCE), "train", data_dir=kmnist_dir)
    dst = data.load(resolve_dataset(DEST), "train", data_dir=kmnist_dir)
    assert len(src) == 4000 and src.class_counts().tolist() == [400] * 10
    assert dst.class_counts().tolist() == class_sizes(400, 10)
    pixels = {bytes(x) for x in src.x.reshape(len(src), -1).numpy()}
    assert not any(bytes(x) in pixels for x in dst.x.reshape(len(dst), -1).numpy())
    assert len(data.load(SOURCE, "test", data_dir=kmnist_dir)) == 1000
    assert len(data.load(DEST, "test", data_dir=kmnist_dir)) == 409
    assert not list(tmp_path.iterdir())  # nothing written


def test_study_data_stage_records_the_names_and_writes_no_files(kmnist_dir, tmp_path):
    from autocnn.study.pipeline import _Context
    from autocnn.study.presets import get_preset

    settings = {"source": SOURCE, "dest": DEST, "data_dir": str(kmnist_dir)}
    result = _Context(tmp_path, settings, get_preset("smoke"), 1).stage_data()
    assert result["datasets"] == {"source": SOURCE, "dest": DEST}
    assert result["info"]["dest"]["n_train"] == 1636
    assert result["info"]["dest"]["class_counts"] == class_sizes(400, 10)
    assert result["info"]["source"]["n_train"] == 4000
    assert not list(tmp_path.iterdir())


def test_a_study_without_imbalance_handling_trains_plain_cross_entropy_on_the_destination(
    tiny_pair, tmp_path, monkeypatch
):
    from autocnn.optimize.store import Store
    from autocnn.study import presets

    tiny = presets.Preset("tiny", 3, 1 / 3, 1.0, 1, 1.0, 1, 1.0, 0, 0.1)
    monkeypatch.setitem(presets.PRESETS, "tiny", tiny)
    out = tmp_path / "s"
    study(*tiny_pair, out=out, preset="tiny", imbalance=False)
    assert json.loads((out / "study-settings.json").read_text())["imbalance"] is False
    weights = json.loads((out / "final" / "weights-dest" / "metrics.json").read_text())
    assert weights["config"]["imbalance"] == "none"
    methods = {}
    for name in ("config-dest", "bohb-dest"):
        with Store.open(out / "runs" / name, readonly=True) as store:
            rows = store.evaluations()
            methods[name] = {store.config(r.config_id).get("imbalance") for r in rows}
    assert methods["bohb-dest"] == {"none"}
    assert methods["config-dest"] <= {None, "none"}  # not searched: fixed in the merged config
    incumbent = json.loads((out / "runs" / "config-dest" / "incumbent.json").read_text())
    assert incumbent["config"]["imbalance"] == "none"
    # the (balanced) source is searched as always
    space = json.loads((out / "runs" / "bohb-source" / "space.json").read_text())
    (method,) = [hp for hp in space["hyperparameters"] if hp["name"] == "imbalance"]
    assert len(method["choices"]) == 4
