"""The training hyperparameters of a config, read once into a typed dataclass.

Both search spaces share these key names (see the contracts); every other key belongs to the
model builder and is ignored here. An absent key takes its default, so a seed-space config (no
schedule, no augmentation) and an extended-space config train through the same loop.

The learning rate has a key per optimizer family where the space has one: the extended space's
SGD configs carry ``sgd_learning_rate`` (its own range), every other config ``learning_rate``
(:func:`learning_rate_key` says which). An SGD config with ``learning_rate`` only (the seed
space's, or one from before the split) trains with that.

Example::

    settings = TrainSettings.from_config({"optimizer": "sgd", "sgd_learning_rate": 0.05,
                                          "momentum": 0.9, "batch_size": 64})
    settings.learning_rate, settings.lr_schedule   # (0.05, "constant")
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autocnn.data.augment import AUGMENT_MODES, AugmentSettings
from autocnn.errors import ConfigError
from autocnn.train.imbalance import IMBALANCE_METHODS, ImbalanceSettings

OPTIMIZERS = ("adam", "adamw", "sgd", "adadelta")
# Learning-rate keys of their own, per optimizer (the rest use "learning_rate").
LEARNING_RATE_KEYS: dict[str, str] = {"sgd": "sgd_learning_rate"}
LR_SCHEDULES = ("constant", "cosine", "onecycle")

# Defaults for keys a config leaves out. Augmentation magnitudes apply only with augment="affine".
DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "batch_size": 128,
    "lr_schedule": "constant",
    "label_smoothing": 0.0,
    "augment": "none",
    "aug_rotate": 10.0,
    "aug_translate": 0.1,
    "aug_scale": 0.1,
    "aug_erasing": 0.0,
    # No imbalance handling: what a config from before these keys existed trained with.
    "imbalance": "none",
    "imbalance_beta": 1.0,
    "imbalance_tau": 1.0,
}


def learning_rate_key(config: Mapping[str, Any]) -> str:
    """The key that holds ``config``'s learning rate: its optimizer's own key when the config has
    it (``sgd_learning_rate``), else ``learning_rate``; an override must set this key.

    Example:
        >>> learning_rate_key({"optimizer": "sgd", "sgd_learning_rate": 0.05})
        'sgd_learning_rate'
        >>> learning_rate_key({"optimizer": "sgd", "learning_rate": 0.05})  # seed space, old
        'learning_rate'
    """
    optimizer = config.get("optimizer", DEFAULTS["optimizer"])
    own = LEARNING_RATE_KEYS.get(optimizer) if isinstance(optimizer, str) else None
    return own if own is not None and own in config else "learning_rate"


@dataclass(frozen=True)
class TrainSettings:
    """Optimizer, schedule, loss and augmentation settings of one training run."""

    optimizer: str = DEFAULTS["optimizer"]
    learning_rate: float = DEFAULTS["learning_rate"]
    momentum: float = DEFAULTS["momentum"]
    weight_decay: float = DEFAULTS["weight_decay"]
    batch_size: int = DEFAULTS["batch_size"]
    lr_schedule: str = DEFAULTS["lr_schedule"]
    label_smoothing: float = DEFAULTS["label_smoothing"]
    augmentation: AugmentSettings = AugmentSettings()
    imbalance: ImbalanceSettings = ImbalanceSettings()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TrainSettings:
        """Read the training keys of ``config``; raise ConfigError naming a bad key and value."""
        value = {key: config.get(key, default) for key, default in DEFAULTS.items()}
        _check_choice(value, "optimizer", OPTIMIZERS)
        lr_key = learning_rate_key(config)
        value[lr_key] = config.get(lr_key, DEFAULTS["learning_rate"])
        _check_choice(value, "lr_schedule", LR_SCHEDULES)
        _check_choice(value, "augment", AUGMENT_MODES)
        _check_number(value, lr_key, low=0.0, low_open=True)
        _check_number(value, "momentum", low=0.0, high=1.0)
        _check_number(value, "weight_decay", low=0.0)
        _check_number(value, "label_smoothing", low=0.0, high=1.0)
        for key in ("aug_rotate", "aug_translate", "aug_scale"):
            _check_number(value, key, low=0.0)
        _check_number(value, "aug_erasing", low=0.0, high=1.0)
        _check_choice(value, "imbalance", IMBALANCE_METHODS)
        _check_number(value, "imbalance_beta", low=0.0)
        _check_number(value, "imbalance_tau", low=0.0)
        batch_size = value["batch_size"]
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(
                f"config key 'batch_size' must be an integer >= 1, got {batch_size!r}; "
                "fix the value in the config"
            )
        augmentation = AugmentSettings()
        if value["augment"] != "none":
            augmentation = AugmentSettings(
                mode=value["augment"],
                rotate=float(value["aug_rotate"]),
                translate=float(value["aug_translate"]),
                scale=float(value["aug_scale"]),
                erasing=float(value["aug_erasing"]),
            )
        return cls(
            optimizer=value["optimizer"],
            learning_rate=float(value[lr_key]),
            momentum=float(value["momentum"]),
            weight_decay=float(value["weight_decay"]),
            batch_size=batch_size,
            lr_schedule=value["lr_schedule"],
            label_smoothing=float(value["label_smoothing"]),
            augmentation=augmentation,
            imbalance=ImbalanceSettings(
                value["imbalance"], float(value["imbalance_beta"]), float(value["imbalance_tau"])
            ),
        )


def _check_choice(value: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> None:
    if value[key] not in allowed:
        raise ConfigError(
            f"config key {key!r} has value {value[key]!r}; allowed values: {', '.join(allowed)}"
        )


def _check_number(
    value: Mapping[str, Any],
    key: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> None:
    number = value[key]
    valid = isinstance(number, (int, float)) and not isinstance(number, bool)
    valid = valid and math.isfinite(number)
    if valid and low is not None:
        valid = number > low if low_open else number >= low
    if valid and high is not None:
        valid = number <= high
    if not valid:
        bounds = f"{'>' if low_open else '>='} {low}" if low is not None else "a number"
        if high is not None:
            bounds += f" and <= {high}"
        raise ConfigError(f"config key {key!r} must be a finite number {bounds}, got {number!r}")
