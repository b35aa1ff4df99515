"""Configuration transfer with per-optimizer learning rates (extended space), old anchors too."""

from __future__ import annotations

from autocnn.space import default_config, get_space, validate_config
from autocnn.transfer.config import anchor_values, merge_config, reduce_space


def _sgd_source() -> dict:
    config = {**default_config("extended"), "optimizer": "sgd", "momentum": 0.9}
    config["sgd_learning_rate"] = config.pop("learning_rate") * 10
    return validate_config(config, get_space("extended"))


def test_an_sgd_source_searches_its_own_learning_rate():
    reduced = reduce_space(_sgd_source(), "extended", seed=0)
    assert "sgd_learning_rate" in reduced.searched and "learning_rate" not in reduced.searched
    adam = reduce_space(default_config("extended"), "extended", seed=0)
    assert "learning_rate" in adam.searched and "sgd_learning_rate" not in adam.searched
    for sample in reduced.space.sample_configuration(10):
        merged = reduced.merge(dict(sample))
        assert 1e-3 <= merged["sgd_learning_rate"] <= 0.3 and "learning_rate" not in merged


def test_an_anchor_stored_before_the_split_still_merges():
    source = _sgd_source()
    anchor = anchor_values(source, get_space("extended"))
    old_anchor = {k: v for k, v in anchor.items() if k != "sgd_learning_rate"}
    old_anchor["learning_rate"] = 0.02  # the old run kept SGD's rate here
    merged = merge_config({"batch_size": 64}, "extended", old_anchor, ["batch_size"])
    assert merged["sgd_learning_rate"] == 0.02 and merged["batch_size"] == 64
    # the old run searched learning_rate: its proposed value is the one that counts
    values = {"learning_rate": 0.1, "batch_size": 64}
    searched = ["learning_rate", "batch_size"]
    assert merge_config(values, "extended", old_anchor, searched)["sgd_learning_rate"] == 0.1
