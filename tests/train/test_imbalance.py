"""Class-imbalance handling: each method changes the loss or the data order as specified."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from autocnn.data import synthetic_imageset
from autocnn.errors import ConfigError
from autocnn.train import TrainSettings, train
from autocnn.train.imbalance import (
    ImbalanceSettings,
    ImbalanceTerms,
    balanced_order,
    class_weights,
    log_prior,
)

COUNTS = [6, 3, 1]  # a tiny long tail: 10 training images in 3 classes
LABELS = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])


def _batch():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 1.5, 0.3], [0.2, -0.4, 0.9], [1.0, 1.0, 1.0]])
    return logits, torch.tensor([0, 1, 2, 2])


def _loss(method, **params):
    terms = ImbalanceTerms.build(ImbalanceSettings(method, **params), COUNTS, "cpu")
    return terms.loss(*_batch(), label_smoothing=0.0)


def test_weights_are_inverse_frequency_to_the_power_beta():
    for beta in (1.0, 0.5):
        w = class_weights(COUNTS, beta)
        assert w[1] / w[0] == pytest.approx(2.0**beta) and w[2] / w[0] == pytest.approx(6.0**beta)
        # normalised: the mean weight over the training images is 1
        assert float((w * torch.tensor(COUNTS, dtype=torch.float32)).sum()) == pytest.approx(10)
    assert class_weights([4, 0, 2], 1.0)[1] == 0.0  # a class without images weighs nothing


def test_weighted_loss_is_the_weighted_mean_of_the_per_image_losses():
    logits, labels = _batch()
    per_image = F.cross_entropy(logits, labels, reduction="none")
    w = torch.tensor([1 / 6, 1 / 3, 1.0])[labels]  # n_c ** -1; the scale cancels in the mean
    expected = float((w * per_image).sum() / w.sum())
    assert float(_loss("weighted_loss", beta=1.0)) == pytest.approx(expected, rel=1e-6)
    assert float(_loss("none")) == pytest.approx(float(per_image.mean()), rel=1e-6)
    assert float(_loss("weighted_loss", beta=0.5)) != pytest.approx(expected, rel=1e-3)


def test_logit_adjustment_adds_tau_times_the_log_prior_to_the_logits():
    logits, labels = _batch()
    prior = torch.tensor(COUNTS, dtype=torch.float32) / 10
    for tau in (1.0, 0.5):
        expected = F.cross_entropy(logits + tau * prior.log(), labels)
        assert float(_loss("logit_adjustment", tau=tau)) == pytest.approx(float(expected))
    # Menon et al.: rare classes get larger margins, so their images cost more than plainly
    assert float(_loss("logit_adjustment", tau=1.0)) > float(_loss("none"))
    # With equal counts the offset is a constant: the same loss as plain cross-entropy.
    equal = ImbalanceTerms.build(ImbalanceSettings("logit_adjustment"), [5, 5, 5], "cpu")
    assert float(equal.loss(logits, labels, 0.0)) == pytest.approx(
        float(F.cross_entropy(logits, labels))
    )
    assert torch.isfinite(log_prior([3, 0, 1])).all()  # an empty class stays finite


def test_balanced_sampling_draws_every_class_equally_often():
    labels = torch.tensor([0] * 900 + [1] * 90 + [2] * 10)
    order = balanced_order(labels, 3, torch.Generator().manual_seed(0))
    assert len(order) == 1000
    shares = torch.bincount(labels[order], minlength=3) / 1000
    assert torch.allclose(shares, torch.full((3,), 1 / 3), atol=0.05)
    again = balanced_order(labels, 3, torch.Generator().manual_seed(0))
    assert torch.equal(order, again)  # a pure function of the generator's seed


def test_only_the_method_in_use_is_recorded_and_bad_values_fail():
    assert ImbalanceSettings("weighted_loss", beta=0.5).to_dict() == {
        "method": "weighted_loss",
        "beta": 0.5,
    }
    assert ImbalanceSettings("logit_adjustment", tau=2.0).to_dict()["tau"] == 2.0
    assert TrainSettings.from_config({}).imbalance.method == "none"  # an old config
    with pytest.raises(ConfigError, match="imbalance"):
        TrainSettings.from_config({"imbalance": "focal"})
    with pytest.raises(ConfigError, match="imbalance_beta"):
        TrainSettings.from_config({"imbalance": "weighted_loss", "imbalance_beta": -1.0})


@pytest.fixture(scope="module")
def longtail_sets():
    """4 classes with 96 / 48 / 24 / 8 training images (16x16), a balanced validation set."""
    full = synthetic_imageset(384, n_classes=4, seed=1, image_size=16)
    keep = []
    for c, n in enumerate((96, 48, 24, 8)):
        keep += torch.nonzero(full.y == c).flatten()[:n].tolist()
    val = synthetic_imageset(96, n_classes=4, seed=1, image_size=16, part="test")
    return full.subset(sorted(keep)), val


METHODS = [
    {"imbalance": "weighted_loss", "imbalance_beta": 1.0},
    {"imbalance": "balanced_sampling"},
    {"imbalance": "logit_adjustment", "imbalance_tau": 1.0},
]


@pytest.mark.parametrize("extra", METHODS, ids=lambda e: e["imbalance"])
def test_each_method_trains_resumes_exactly_and_is_recorded(
    longtail_sets, tiny_config, tmp_path, extra
):
    config = {**tiny_config, **extra}
    direct = train(config, *longtail_sets, epochs=2, horizon=3, seed=5)
    train(config, *longtail_sets, epochs=0.5, horizon=3, seed=5, save_to=tmp_path / "ck.pt")
    resumed = train(
        config, *longtail_sets, epochs=2, horizon=3, seed=5, resume_from=tmp_path / "ck.pt"
    )
    direct_state, resumed_state = direct.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(direct_state[k], resumed_state[k]) for k in direct_state)
    assert direct.status == "ok" and direct.train_class_counts == [96, 48, 24, 8]
    assert direct.imbalance["method"] == extra["imbalance"]
    plain = train(tiny_config, *longtail_sets, epochs=2, horizon=3, seed=5)
    assert plain.imbalance == {"method": "none"}
    assert direct.history[0].train_loss != plain.history[0].train_loss  # the method acts
    # Validation is plain: its loss is the unweighted, unadjusted cross-entropy.
    assert math.isfinite(direct.val_loss)


def test_an_old_config_without_the_keys_trains_like_none(longtail_sets, tiny_config):
    old = {k: v for k, v in tiny_config.items() if not k.startswith("imbalance")}
    explicit = {**old, "imbalance": "none"}
    a = train(old, *longtail_sets, epochs=1, seed=2)
    b = train(explicit, *longtail_sets, epochs=1, seed=2)
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]
    assert a.confusion == b.confusion
