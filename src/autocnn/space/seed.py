"""The seed search space: the original 2019 study's conditional CNN space.

Architecture::

    INPUT -> [CONV -> BATCHNORM? -> ACTIVATION -> DROPOUT? -> MAXPOOL?] x M
          -> [FC -> BATCHNORM? -> ACTIVATION -> DROPOUT?] x K -> OUTPUT

with ``M = n_conv_layers`` in {1, 2, 3} and ``K = n_fc_layers`` in {0, 1, 2}. Per-layer
hyperparameters are active only while their layer exists, and the children of a switch (dropout
rate, pool kernel) only while it is on. There are no forbidden clauses: every configuration is
valid by construction, because the model builder adapts padding, stride and pooling to the feature
map it meets (see :func:`autocnn.model.build_model`).
"""

from __future__ import annotations

from typing import Any

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    GreaterThanCondition,
    Integer,
)

from autocnn.space.imbalance import imbalance_hyperparameters

MAX_CONV_LAYERS = 3
MAX_FC_LAYERS = 2

# The seed study's default configuration, as in its course template (values, not code): one 5x5
# conv with 3 channels and "same" padding, tanh, 6x6 max-pool (stride 6), straight into the output
# layer; Adam at 1e-3, batch size 50. It scored 69.6 % on KMNIST. Weight decay is log-scaled, so
# "no decay" is its lower end, 1e-6.
SEED_DEFAULT: dict[str, Any] = {
    "n_conv_layers": 1,
    "conv1_channels": 3,
    "conv1_kernel_size": 5,
    "conv1_padding": "same",
    "conv1_stride": 1,
    "conv1_batchnorm": False,
    "conv1_dropout": False,
    "conv1_maxpool": True,
    "conv1_maxpool_kernel": 6,
    "activation": "tanh",
    "n_fc_layers": 0,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "weight_decay": 1e-6,
    "batch_size": 50,
    "imbalance": "none",  # plain cross-entropy on the natural class frequencies
}


def _conv_layer(i: int, n_conv: Integer) -> tuple[list, list]:
    """Hyperparameters and conditions of conv layer ``i`` (1-based)."""
    p = f"conv{i}_"
    if i == 1:
        channels = Integer(p + "channels", (2, 32), log=True, default=3)
    else:
        # Later layers scale the previous layer's width; the builder clamps to [2, 64].
        channels = Float(p + "channel_multiplier", (0.5, 2.0), default=2.0)
    kernel = Integer(p + "kernel_size", (2, 7), default=5 if i == 1 else 3)
    padding = Categorical(p + "padding", ["same", "valid"], default="same")
    stride = Integer(p + "stride", (1, 2), default=1)
    batchnorm = Categorical(p + "batchnorm", [False, True], default=False)
    dropout = Categorical(p + "dropout", [False, True], default=False)
    dropout_rate = Float(p + "dropout_rate", (0.05, 0.5), default=0.2)
    maxpool = Categorical(p + "maxpool", [False, True], default=True)
    # Pool stride = kernel; up to 6 as in the seed (the builder skips a pool the map cannot take).
    pool_kernel = Integer(p + "maxpool_kernel", (2, 6), default=6 if i == 1 else 2)

    layer_hps = [channels, kernel, padding, stride, batchnorm, dropout, maxpool]
    conditions = [
        EqualsCondition(dropout_rate, dropout, True),
        EqualsCondition(pool_kernel, maxpool, True),
    ]
    if i > 1:  # layer i exists only when n_conv_layers >= i
        conditions += [GreaterThanCondition(hp, n_conv, i - 1) for hp in layer_hps]
    return [*layer_hps, dropout_rate, pool_kernel], conditions


def _fc_layer(j: int, n_fc: Integer) -> tuple[list, list]:
    """Hyperparameters and conditions of fully connected layer ``j`` (1-based)."""
    p = f"fc{j}_"
    units = Integer(p + "units", (16, 512), log=True, default=128)
    batchnorm = Categorical(p + "batchnorm", [False, True], default=False)
    dropout = Categorical(p + "dropout", [False, True], default=False)
    dropout_rate = Float(p + "dropout_rate", (0.05, 0.5), default=0.3)
    layer_hps = [units, batchnorm, dropout]
    conditions = [GreaterThanCondition(hp, n_fc, j - 1) for hp in layer_hps]
    conditions.append(EqualsCondition(dropout_rate, dropout, True))
    return [*layer_hps, dropout_rate], conditions


def seed_space(
    seed: int | None = None, imbalance: bool = True, imbalance_default: str | None = None
) -> ConfigurationSpace:
    """Build the seed space (46 hyperparameters, 3 for class imbalance; valid by construction).

    ``imbalance=False``: the class-imbalance handling fixed to ``"none"``;
    ``imbalance_default``: the default's method instead of none (see
    :mod:`autocnn.space.imbalance`).

    Example:
        >>> space = seed_space(seed=0)
        >>> dict(space.get_default_configuration())["n_conv_layers"]
        1
    """
    space = ConfigurationSpace(name="seed", seed=seed)
    n_conv = Integer("n_conv_layers", (1, MAX_CONV_LAYERS), default=1)
    n_fc = Integer("n_fc_layers", (0, MAX_FC_LAYERS), default=0)
    activation = Categorical("activation", ["relu", "sigmoid", "tanh"], default="tanh")

    optimizer = Categorical("optimizer", ["adam", "adamw", "sgd", "adadelta"], default="adam")
    # Adadelta wants a learning rate near 1.0, the others 1e-4..1e-2: one log range covers both.
    learning_rate = Float("learning_rate", (1e-5, 1.0), log=True, default=1e-3)
    momentum = Float("momentum", (0.5, 0.99), default=0.9)  # nesterov SGD only
    weight_decay = Float("weight_decay", (1e-6, 1e-2), log=True, default=1e-6)
    batch_size = Integer("batch_size", (32, 512), log=True, default=50)

    hps: list = [n_conv, n_fc, activation, optimizer, learning_rate, momentum]
    hps += [weight_decay, batch_size]
    conditions: list = [EqualsCondition(momentum, optimizer, "sgd")]
    for i in range(1, MAX_CONV_LAYERS + 1):
        layer_hps, layer_conditions = _conv_layer(i, n_conv)
        hps += layer_hps
        conditions += layer_conditions
    for j in range(1, MAX_FC_LAYERS + 1):
        layer_hps, layer_conditions = _fc_layer(j, n_fc)
        hps += layer_hps
        conditions += layer_conditions
    imbalance_hps, imbalance_conditions = imbalance_hyperparameters(
        imbalance_default or SEED_DEFAULT["imbalance"], searched=imbalance
    )
    space.add([*hps, *imbalance_hps])
    space.add([*conditions, *imbalance_conditions])
    return space
