"""The extended search space: the 2019 study's "possible improvements", made searchable.

Architecture::

    INPUT -> [ (CONV -> BN? -> RELU) x n_convs (+ residual shortcut?) -> MAXPOOL ] x n_stages
          -> (global average pool | flatten) -> [DROPOUT -> FC -> RELU] x n_fc_layers
          -> DROPOUT -> OUTPUT

1-4 stages of 1-3 convolutions each; the first stage's width is absolute, later stages multiply
the previous width. Training adds tensor-side affine augmentation, random erasing, an LR schedule
and label smoothing to the seed's optimizer settings. Like the seed space it has no forbidden
clauses: the builder keeps every configuration valid (see :func:`autocnn.model.build_model`).

No dead regions (``benchmarks/dead_configs.py``: random configs that are still at chance after
the 50 steps a search's smallest budget gives them, or diverge). Each optimizer family has its
own learning-rate range, active only with it: ``learning_rate`` for Adam/AdamW (3e-4..1e-2) and
``sgd_learning_rate`` for Nesterov SGD (3e-3..0.3), log-uniform. The one range they shared
before (1e-4..0.3) gave Adam rates that diverge and rates too small to move a net in 50 steps;
an old config's SGD ``learning_rate`` loads as ``sgd_learning_rate``
(:data:`autocnn.space.configs.LEGACY_KEYS`). And random draws take ``batchnorm`` 9 times in 10
(prior weights; the optimizer may still turn it off): without it PyTorch's default init shrinks
the signal through every conv: every dead config of a 24-config sample (10 of its 15 nets
without batchnorm) was one. Measured: 10/24 dead before, 3/24 after (``dead_configs.py``
``--n 24 --seed 0 --val 400``); the 3 left are SGD, the weakest family at 50 steps.
"""

from __future__ import annotations

from typing import Any

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    GreaterThanCondition,
    InCondition,
    Integer,
)

from autocnn.space.imbalance import imbalance_hyperparameters

MAX_STAGES = 4
# Learning-rate ranges (log-uniform) per optimizer family; see the module docstring.
ADAM_LR_RANGE = (3e-4, 1e-2)
SGD_LR_RANGE = (3e-3, 0.3)
SGD_LR_DEFAULT = 0.05
BATCHNORM_WEIGHTS = (1, 9)  # prior weights of batchnorm False / True

# The hand-designed VGG-style reference net (98.6-98.8 % on kmnist10k in ~3 CPU minutes):
# 2 stages x 2 conv-BN-ReLU with 32/64 channels, 2x2 max-pool after each stage, flatten ->
# FC 128 -> 10, affine augmentation, one-cycle AdamW.
EXTENDED_DEFAULT: dict[str, Any] = {
    "n_stages": 2,
    "stage1_n_convs": 2,
    "stage1_channels": 32,
    "stage2_n_convs": 2,
    "stage2_channel_multiplier": 2.0,
    "kernel_size": 3,
    "batchnorm": True,
    "residual": False,
    "head": "flatten",
    "n_fc_layers": 1,
    "fc_units": 128,
    "dropout_rate": 0.25,
    "optimizer": "adamw",
    "learning_rate": 3e-3,
    "weight_decay": 1e-2,
    "batch_size": 128,
    "lr_schedule": "onecycle",
    "label_smoothing": 0.0,
    "augment": "affine",
    "aug_rotate": 10.0,
    "aug_translate": 0.1,
    "aug_scale": 0.1,
    "aug_erasing": 0.0,
    "imbalance": "none",  # plain cross-entropy on the natural class frequencies
}


def extended_space(
    seed: int | None = None, imbalance: bool = True, imbalance_default: str | None = None
) -> ConfigurationSpace:
    """Build the extended space (``imbalance`` and ``imbalance_default``: as for the seed space).

    Example:
        >>> space = extended_space(seed=0)
        >>> dict(space.get_default_configuration())["n_stages"]
        2
    """
    space = ConfigurationSpace(name="extended", seed=seed)
    d = EXTENDED_DEFAULT
    n_stages = Integer("n_stages", (1, MAX_STAGES), default=d["n_stages"])
    hps: list = [n_stages]
    conditions: list = []
    for s in range(1, MAX_STAGES + 1):
        n_convs = Integer(f"stage{s}_n_convs", (1, 3), default=2)
        if s == 1:
            width = Integer("stage1_channels", (8, 64), log=True, default=d["stage1_channels"])
        else:  # the builder clamps the product to [8, 96] channels
            width = Float(f"stage{s}_channel_multiplier", (1.0, 2.0), default=2.0)
            conditions += [GreaterThanCondition(hp, n_stages, s - 1) for hp in (n_convs, width)]
        hps += [n_convs, width]

    n_fc = Integer("n_fc_layers", (0, 2), default=d["n_fc_layers"])
    fc_units = Integer("fc_units", (32, 512), log=True, default=d["fc_units"])
    hps += [
        Categorical("kernel_size", [3, 5], ordered=True, default=d["kernel_size"]),
        # Random draws take batchnorm 9 times in 10: without it the deeper nets stay at chance
        # for their first 50 steps (see the module docstring); the choice stays searchable.
        Categorical("batchnorm", [False, True], default=d["batchnorm"], weights=BATCHNORM_WEIGHTS),
        Categorical("residual", [False, True], default=d["residual"]),
        Categorical("head", ["flatten", "gap"], default=d["head"]),
        n_fc,
        fc_units,
        Float("dropout_rate", (0.0, 0.5), default=d["dropout_rate"]),
    ]
    conditions.append(GreaterThanCondition(fc_units, n_fc, 0))

    optimizer = Categorical("optimizer", ["adam", "adamw", "sgd"], default=d["optimizer"])
    learning_rate = Float("learning_rate", ADAM_LR_RANGE, log=True, default=d["learning_rate"])
    sgd_learning_rate = Float("sgd_learning_rate", SGD_LR_RANGE, log=True, default=SGD_LR_DEFAULT)
    momentum = Float("momentum", (0.5, 0.99), default=0.9)
    augment = Categorical("augment", ["none", "affine"], default=d["augment"])
    aug = [
        Float("aug_rotate", (0.0, 30.0), default=d["aug_rotate"]),  # degrees
        Float("aug_translate", (0.0, 0.2), default=d["aug_translate"]),  # of the image size
        Float("aug_scale", (0.0, 0.25), default=d["aug_scale"]),
        Float("aug_erasing", (0.0, 0.5), default=d["aug_erasing"]),  # probability
    ]
    hps += [
        optimizer,
        learning_rate,
        sgd_learning_rate,
        momentum,
        Float("weight_decay", (1e-6, 1e-1), log=True, default=d["weight_decay"]),
        Integer("batch_size", (32, 512), log=True, default=d["batch_size"]),
        Categorical("lr_schedule", ["constant", "cosine", "onecycle"], default=d["lr_schedule"]),
        Float("label_smoothing", (0.0, 0.2), default=d["label_smoothing"]),
        augment,
        *aug,
    ]
    conditions += [
        InCondition(learning_rate, optimizer, ["adam", "adamw"]),
        EqualsCondition(sgd_learning_rate, optimizer, "sgd"),
        EqualsCondition(momentum, optimizer, "sgd"),
    ]
    conditions += [EqualsCondition(hp, augment, "affine") for hp in aug]
    imbalance_hps, imbalance_conditions = imbalance_hyperparameters(
        imbalance_default or d["imbalance"], searched=imbalance
    )
    space.add([*hps, *imbalance_hps])
    space.add([*conditions, *imbalance_conditions])
    return space
