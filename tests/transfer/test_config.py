"""Configuration transfer: the reduced space, its merge step, and a BOHB run on it."""

from __future__ import annotations

import json

import pytest

from autocnn import data
from autocnn.errors import ConfigError, RunError
from autocnn.optimize.store import STORE_NAME, Store
from autocnn.space import default_config, get_space, sample_configs, validate_config
from autocnn.transfer.config import merge_config, reduce_space, run_incumbent
from autocnn.transfer.search import transfer_config

SOURCES = [("seed", c) for c in sample_configs(get_space("seed"), 6, seed=11)]
SOURCES += [("extended", default_config("extended"))]
SOURCES += [("extended", c) for c in sample_configs(get_space("extended"), 3, seed=5)]


@pytest.mark.parametrize(("space_name", "source"), SOURCES)
def test_reduced_space_keeps_fixed_values_and_validates(space_name, source):
    reduced = reduce_space(source, space_name, seed=0)
    full = get_space(space_name)
    # the reduced default is the source itself
    assert reduced.merge(dict(reduced.space.get_default_configuration())) == source
    fixed = reduced.fixed
    layers = "n_stages" if space_name == "extended" else "n_conv_layers"
    assert layers not in reduced.searched and fixed[layers] == source[layers]
    for sample in reduced.space.sample_configuration(25):
        merged = reduced.merge(dict(sample))
        assert validate_config(merged, full) == merged
        for key, value in merged.items():
            if key in fixed:
                assert value == fixed[key], key
            if key in source and key not in reduced.searched:
                assert value == source[key], key  # everything not searched is the source's


def test_searched_names_and_user_additions():
    source = {**default_config("seed"), "optimizer": "sgd", "momentum": 0.9}
    reduced = reduce_space(source, "seed", dest_class_counts=[100, 100, 98])  # balanced
    assert set(reduced.searched) == {
        "conv1_channels", "n_fc_layers", "fc1_units", "fc2_units", "batch_size", "learning_rate",
    }  # fmt: skip
    imbalance = {"imbalance", "imbalance_beta", "imbalance_tau"}
    longtail = reduce_space(source, "seed", dest_class_counts=[400, 100, 40])
    assert set(longtail.searched) == set(reduced.searched) | imbalance
    assert set(reduce_space(source, "seed").searched) == set(longtail.searched)  # counts unknown
    more = reduce_space(source, "seed", ["momentum", "activation"])
    assert {"momentum", "activation"} <= set(more.searched)
    fixed = reduce_space(source, "seed", dest_class_counts=[400, 100, 40], architecture=False)
    assert set(fixed.searched) == {"batch_size", "learning_rate", "weight_decay"} | imbalance
    widened = reduce_space(source, "seed", ["conv1_channels"], architecture=False)
    assert "conv1_channels" in widened.searched  # a user may still search a width
    with pytest.raises(ConfigError, match="does not have"):
        reduce_space(source, "seed", ["no_such_hp"])
    with pytest.raises(ConfigError, match="never active"):
        reduce_space(default_config("seed"), "seed", ["momentum"])  # adam: no momentum


def test_imbalance_is_searched_from_the_source_value_and_old_anchors_merge():
    source = {**default_config("seed"), "imbalance": "logit_adjustment", "imbalance_tau": 0.5}
    reduced = reduce_space(source, "seed", dest_class_counts=[400, 40])
    default = dict(reduced.space.get_default_configuration())
    assert default["imbalance"] == "logit_adjustment" and default["imbalance_tau"] == 0.5
    weighted = reduced.merge({**default, "imbalance": "weighted_loss", "imbalance_beta": 0.7})
    assert weighted["imbalance_beta"] == 0.7 and "imbalance_tau" not in weighted
    # A transfer run stored before the imbalance keys existed: its anchor lacks them.
    old_anchor = {k: v for k, v in reduced.anchor.items() if not k.startswith("imbalance")}
    old_values = {k: v for k, v in default.items() if not k.startswith("imbalance")}
    old = merge_config(old_values, "seed", old_anchor, [s for s in reduced.searched])
    assert old["imbalance"] == "none"


def test_new_fc_layers_borrow_the_source_layer_settings():
    source = validate_config(
        {**default_config("seed"), "n_fc_layers": 1, "fc1_units": 64, "fc1_batchnorm": True,
         "fc1_dropout": True, "fc1_dropout_rate": 0.4},
        get_space("seed"),
    )  # fmt: skip
    reduced = reduce_space(source, "seed")
    merged = reduced.merge({**source, "n_fc_layers": 2, "fc2_units": 32})
    assert merged["fc2_batchnorm"] is True and merged["fc2_dropout_rate"] == 0.4


@pytest.fixture(scope="module")
def tiny_dest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dest")
    data.write_synthetic(folder, "k49", n_classes=5, n_train=150, n_test=30, imbalance=3.0,
                         image_size=12)  # fmt: skip
    return f"npz:{folder}"


@pytest.fixture()
def no_test_reads(monkeypatch):
    """data.load refuses the test part: a search must never read it."""
    real = data.load

    def guarded(name, part="train", *args, **kwargs):
        assert part != "test", f"a search read the test part of {name}"
        return real(name, part, *args, **kwargs)

    monkeypatch.setattr(data, "load", guarded)


def test_transfer_run_searches_the_reduced_space(tmp_path, tiny_dest, no_test_reads, bn_config):
    from autocnn.train import train

    src = tmp_path / "src.json"
    src.write_text(json.dumps(bn_config))
    model = tmp_path / "model" / "model.pt"
    train(bn_config, data.synthetic_imageset(60, 4, image_size=12), None, epochs=1, save_to=model)
    out = tmp_path / "run"
    summary = transfer_config(
        src, tiny_dest, out=out, init_weights=model.parent, min_budget=1 / 3, max_budget=1,
        iterations=1,
    )  # fmt: skip
    assert summary.stopped == "finished" and summary.incumbent is not None
    config, settings, _ = run_incumbent(out)
    assert validate_config(config, get_space("seed")) == config
    assert config["n_conv_layers"] == 2 and config["conv1_kernel_size"] == 3
    assert json.loads((out / "incumbent.json").read_text())["config"] == config
    with Store.open(out / STORE_NAME, readonly=True) as store:
        rows = store.evaluations(status="ok")
        searched = set(store.settings["transfer"]["searched"])
        assert all(set(store.config(r.config_id)) <= searched for r in rows)
    assert rows and all(r.metrics["init_copied"] > 0 for r in rows)
    again = transfer_config(out=out, resume=True)
    assert again.n_this_call == 0 and again.n_evaluations == summary.n_evaluations
    with pytest.raises(RunError, match="already holds"):
        transfer_config(src, tiny_dest, out=out)


def test_transfer_config_iterations_0_means_what_it_means_for_optimize(tiny_pair, tmp_path):
    from autocnn import api
    from autocnn.errors import ConfigError

    source, dest = tiny_pair
    run = tmp_path / "run"
    api.optimize(source, out=run, min_budget=1 / 3, max_budget=1, iterations=1)
    for command in (api.optimize, api.transfer_config):
        args = (source,) if command is api.optimize else (run, dest)
        with pytest.raises(ConfigError, match="--iterations 0 runs until"):
            command(*args, out=tmp_path / command.__name__, iterations=0)
        assert not (tmp_path / command.__name__).exists()
    summary = api.transfer_config(run, dest, out=tmp_path / "tc", min_budget=1 / 3, max_budget=1,
                                  iterations=0, max_evaluations=3)  # fmt: skip
    assert summary.n_evaluations == 3 and summary.stopped == "max_evaluations"


def test_no_imbalance_fixes_none_whatever_the_source_had():
    source = {**default_config("seed"), "imbalance": "logit_adjustment", "imbalance_tau": 0.5}
    reduced = reduce_space(source, "seed", dest_class_counts=[400, 100, 40], imbalance=False)
    assert not set(reduced.searched) & {"imbalance", "imbalance_beta", "imbalance_tau"}
    merged = reduced.merge(reduced.space.get_default_configuration())
    assert merged["imbalance"] == "none" and "imbalance_tau" not in merged
    assert merged == {k: v for k, v in source.items() if k != "imbalance_tau"} | {
        "imbalance": "none"
    }


def test_a_searched_imbalance_handling_starts_from_the_destinations_default():
    source = {**default_config("seed"), "imbalance": "logit_adjustment", "imbalance_tau": 0.5}
    longtail = [400, 100, 40]
    reduced = reduce_space(source, "seed", dest_class_counts=longtail,
                           imbalance_start="balanced_sampling")  # fmt: skip
    assert "imbalance" in reduced.searched
    start = reduced.merge(reduced.space.get_default_configuration())
    assert start == {k: v for k, v in source.items() if k != "imbalance_tau"} | {
        "imbalance": "balanced_sampling"
    }
    # on a balanced destination nothing is searched and the source's handling stays
    balanced = reduce_space(source, "seed", dest_class_counts=[50, 50, 50],
                            imbalance_start="balanced_sampling")  # fmt: skip
    assert balanced.merge(balanced.space.get_default_configuration()) == source


def test_init_weights_fine_tunes_the_source_and_so_do_its_final_models(
    tmp_path, tiny_dest, bn_config
):
    """A search whose trials start from the source's weights keeps the source's architecture,
    and the final evaluation of its incumbent starts from the same weights."""
    import torch

    from autocnn.final.evaluation import evaluate
    from autocnn.model import build_model
    from autocnn.train import load_checkpoint, train

    src = tmp_path / "src.json"
    src.write_text(json.dumps(bn_config))
    model = tmp_path / "model" / "model.pt"
    source_set = data.synthetic_imageset(60, 4, image_size=12)
    train(bn_config, source_set, None, epochs=1, seed=7, save_to=model)  # not the final's seed
    out = tmp_path / "run"
    transfer_config(src, tiny_dest, out=out, init_weights=model, min_budget=1 / 3, max_budget=1,
                    iterations=1)  # fmt: skip
    with Store.open(out / STORE_NAME, readonly=True) as store:
        info = store.settings["transfer"]
        rows = store.evaluations(status="ok")
    assert info["architecture"] is False and "weight_decay" in info["searched"]
    assert not any(n.endswith(("_channels", "_multiplier", "_units")) for n in info["searched"])
    n_copied = len([k for k in build_model(bn_config, (1, 12, 12), 4).state_dict()
                    if not k.startswith("head.")])  # fmt: skip
    assert rows and all(r.metrics["init_copied"] == n_copied for r in rows)  # every layer fits

    config, _, _ = run_incumbent(out)
    final = evaluate(out, out=tmp_path / "final", seeds=1, epochs=0.25)
    assert final.to_dict()["init_weights"] == str(model.resolve())
    source = load_checkpoint(model)["model"]
    trained = load_checkpoint(tmp_path / "final" / final.model)["model"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        fresh = build_model(config, (1, 12, 12), 5).state_dict()
    key = "features.0.weight"  # the first conv: after a few steps still near where it started
    moved = (trained[key] - source[key]).norm()
    assert moved < 0.5 * (fresh[key] - source[key]).norm()
