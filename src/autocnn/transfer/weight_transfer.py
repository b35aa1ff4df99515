"""Weight transfer reported as a final evaluation: the source network with a new head, fine-tuned
on the destination's training data per seed, then tested (``autocnn transfer weights``).

Example::

    result = transfer_weights("runs/kmnist-final", "k49", out="runs/k49-weights", epochs=9)
    print(result.summary["test_balanced_acc"])
"""

from __future__ import annotations

from pathlib import Path

from autocnn import data
from autocnn.errors import ConfigError
from autocnn.final.evaluation import (
    METRICS_FILE,
    FinalResult,
    final_evaluation,
    require_test_part,
    training_seeds,
)
from autocnn.space.imbalance import IMBALANCE_CHOICES, with_imbalance
from autocnn.train.settings import learning_rate_key
from autocnn.transfer.config import is_imbalanced

# Fine-tuning a transferred net on an imbalanced destination: logit adjustment (tau 1). Paired on
# the same source models (BENCHMARKS §10) it was the best of the four methods or tied with none;
# class-balanced sampling, the best from scratch, cost 0.4-1.0 points of balanced accuracy here.
FINETUNE_IMBALANCED = "logit_adjustment"


def transfer_weights(
    source: str | Path,
    dataset: str,
    *,
    out: str | Path,
    epochs: float = 9.0,
    freeze_epochs: int = 0,
    backbone_lr_factor: float = 1.0,
    learning_rate: float | None = None,
    imbalance: str = "auto",
    seeds: int = 3,
    seed: int = 0,
    data_dir: str | Path | None = None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    validate: bool = False,
    device: str = "auto",
    progress: bool = False,
) -> FinalResult:
    """Weight transfer, reported as :func:`evaluate` does.

    The source network (a model file, an evaluate folder, or a run whose incumbent checkpoint
    was kept) is rebuilt with a new head for ``dataset``'s classes, every other weight and BN
    statistic copied, and fine-tuned on all of ``dataset``'s training data per seed
    (``freeze_epochs``, ``backbone_lr_factor``: see :mod:`autocnn.transfer.weights`;
    ``learning_rate`` overrides the source config's), then tested. ``imbalance``: the class-
    imbalance handling of the fine-tuning: ``"auto"`` (:data:`FINETUNE_IMBALANCED` on an
    imbalanced destination, none on a balanced one; the source chose its own for its classes),
    ``"source"`` (the source config's), or a method
    (:data:`autocnn.space.imbalance.IMBALANCE_METHODS`).
    """
    from autocnn.artifacts import prepare_out_dir
    from autocnn.transfer.weights import finetune, load_source

    source_model = load_source(source)
    config = dict(source_model.config)
    if learning_rate is not None:  # the optimizer's own key (sgd_learning_rate) where it has one
        config[learning_rate_key(config)] = float(learning_rate)
    seed_list = training_seeds(seed, seeds)
    options = {"freeze_epochs": freeze_epochs, "backbone_lr_factor": backbone_lr_factor}
    if imbalance not in IMBALANCE_CHOICES:
        raise ConfigError(
            f"--imbalance {imbalance!r} is not known; choose one of {', '.join(IMBALANCE_CHOICES)}"
        )
    # Check the options and the shapes before anything is written or trained.
    require_test_part(dataset)
    train_set = data.load(dataset, "train", data_dir=data_dir)
    if imbalance != "source":
        method = imbalance
        if imbalance == "auto":
            imbalanced = is_imbalanced(train_set.class_counts().tolist())
            method = FINETUNE_IMBALANCED if imbalanced else "none"
        config = with_imbalance(config, method)
    from autocnn.transfer.weights import FineTune, transferred_model

    FineTune(**options)
    _, copied = transferred_model(source_model, train_set.n_classes, train_set.input_shape)
    out = prepare_out_dir(out, METRICS_FILE)

    def fit(train_seed: int, save_to: Path):
        return finetune(
            source_model, train_set, None, epochs=epochs, config=config, seed=train_seed,
            save_to=save_to, device=device, progress=progress, **options,
        )  # fmt: skip

    def validation_run():
        fit_set, val_set = data.train_val_split(train_set, val_fraction, seed=split_seed)
        return finetune(
            source_model, fit_set, val_set, epochs=epochs, config=config, seed=seed_list[0],
            device=device, **options,
        )  # fmt: skip

    return final_evaluation(
        fit,
        dataset,
        config=config,
        epochs=epochs,
        seeds=seed_list,
        out=out,
        data_dir=data_dir,
        validate=validation_run if validate else None,
        extra={
            "kind": "transfer-weights",
            "source": str(source_model.path),
            "source_n_classes": source_model.n_classes,
            "imbalance_option": imbalance,
            "copied": copied,
            **options,
        },
    )
