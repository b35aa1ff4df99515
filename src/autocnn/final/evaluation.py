"""Final evaluation: the only reader of a dataset's TEST part (prediction: :mod:`.predict`).

``evaluate`` retrains a configuration on ALL the training data (train + validation) once per
seed, then measures it on the test part: accuracy and balanced accuracy as mean ± std over the
seeds, the worst class's test accuracy (the lowest per-class recall of each seed's model, mean ±
std: whether a long tail is learned at all), train accuracy (the trained net on its training
data, eval mode), wall time, parameter count. Each seed's model is saved in the trainer's
checkpoint format (state dict, config, class count, input normalisation), and everything lands
in ``metrics.json``. With two or more seeds the models are also tested as one ensemble, their
class probabilities averaged (``summary["ensemble"]``; ``autocnn predict FOLDER --ensemble``
predicts with it). Each model's predicted test labels (and the ensemble's) are kept in
``test_predictions.npz``, so that two final evaluations can be compared image by image
(:mod:`autocnn.final.paired`). With ``validate=True`` a first run on the train/validation split
reports a validation score too (for configs that have none from a search, e.g. the default
config).

Example::

    result = evaluate("runs/kmnist", out="runs/kmnist-final", seeds=3)
    print(result.summary["test_balanced_acc"])     # {"mean": ..., "std": ..., "values": [...]}
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autocnn import data
from autocnn.errors import ConfigError, DataError, RunError

METRICS_FILE = "metrics.json"
MODELS_DIR = "models"
# y: the test labels; seeds, labels (one row per tested model); ensemble: their average's labels
PREDICTIONS_FILE = "test_predictions.npz"

# fit(seed, save_to) -> TrainResult; how a final model is trained (plain or fine-tuned).
FitFunction = Callable[[int, Path], Any]


def mean_std(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "std", "values"}``; std is the sample std (0.0 for a single value)."""
    values = [float(v) for v in values]
    if not values:
        return {"mean": None, "std": None, "values": []}
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "values": values}


def worst_class(per_class_acc: Sequence[float | None]) -> float | None:
    """The lowest per-class accuracy, over the classes present (``None`` entries: absent).

    >>> worst_class([0.9, None, 0.4]), worst_class([None])
    (0.4, None)
    """
    present = [a for a in per_class_acc if a is not None]
    return min(present) if present else None


def training_seeds(first: int, count: int) -> list[int]:
    """``[first, first + 1, ...]``: the seeds of ``count`` final models (ConfigError if < 1)."""
    if int(count) < 1:
        raise ConfigError(f"--seeds must be at least 1, got {count}")
    return [first + i for i in range(int(count))]


def format_mean_std(stat: dict[str, Any] | None, percent: bool = True) -> str:
    """``"97.12 ± 0.31"`` (percent) for a :func:`mean_std` dict; ``"-"`` when missing."""
    if not stat or stat.get("mean") is None:
        return "-"
    scale = 100.0 if percent else 1.0
    return f"{stat['mean'] * scale:.2f} ± {stat['std'] * scale:.2f}"


@dataclass
class FinalResult:
    """What a final evaluation measured; ``to_dict()`` is ``metrics.json``."""

    dataset: str
    config: dict[str, Any]
    epochs: float
    seeds: list[int]
    per_seed: list[dict[str, Any]]
    summary: dict[str, Any]
    model: str  # path of the first seed's model, relative to the output folder
    validation: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "config": self.config,
            "epochs": self.epochs,
            "seeds": self.seeds,
            "model": self.model,
            "summary": self.summary,
            "validation": self.validation,
            "per_seed": self.per_seed,
            **self.extra,
        }


def require_test_part(dataset: str) -> None:
    """DataError, before anything is trained or written, for a dataset without a test part."""
    if not data.has_test_part(dataset):
        raise DataError(
            f"{dataset} has no test part, so nothing can test the final model; give one (see "
            f"`autocnn datasets`), or use {data.HOLDOUT_PREFIX}{dataset}: its training images "
            f"less a stratified {data.HOLDOUT_FRACTION:.0%}, held out as the test part (fit does "
            "this itself)"
        )


def final_evaluation(
    fit: FitFunction,
    dataset: str,
    *,
    config: dict[str, Any],
    epochs: float,
    seeds: Sequence[int],
    out: Path,
    data_dir: str | Path | None = None,
    validate: Callable[[], Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> FinalResult:
    """Train with ``fit(seed, save_to)`` per seed on the full training part; test each model.

    This is where the test part is read (once). ``validate()`` (optional) trains on the
    train/validation split and returns a TrainResult whose validation metrics are reported.
    """
    import torch

    from autocnn.artifacts import write_json
    from autocnn.train import (
        Normalization,
        class_probabilities,
        evaluate_model,
        metrics_from_probabilities,
    )

    if not seeds:
        raise ConfigError("a final evaluation needs at least one seed (--seeds 1 or more)")
    require_test_part(dataset)
    out.mkdir(parents=True, exist_ok=True)
    validation = None
    if validate is not None:
        run = validate()
        validation = {
            "status": run.status,
            "val_acc": run.val_acc,
            "val_balanced_acc": run.val_balanced_acc,
            "val_loss": run.val_loss,
            "val_per_class_acc": run.per_class_acc,  # None: a class without validation images
            "seconds": run.seconds,
            "history": [vars(r) for r in run.history],
        }
    train_set = data.load(dataset, "train", data_dir=data_dir)
    test_set = data.load(dataset, "test", data_dir=data_dir)  # the one read of the test part
    per_seed = []
    test_probabilities = []  # of each trained model, for the ensemble's metrics
    predicted: dict[str, Any] = {"y": test_set.y.numpy(), "seeds": [], "labels": []}
    for seed in seeds:
        save_to = out / MODELS_DIR / f"seed-{seed}.pt"
        started = time.perf_counter()
        result = fit(seed, save_to)
        row: dict[str, Any] = {
            "seed": seed,
            "status": result.status,
            "error": result.error,
            "model": str(save_to.relative_to(out)) if result.status == "ok" else None,
            "n_params": result.n_params,
            "train_seconds": result.seconds,
            "epochs": result.epochs,  # fewer than asked when a deadline stopped the training
        }
        if result.status == "ok":
            norm = Normalization.from_dict(result.normalization)
            on_train = evaluate_model(result.model, train_set, normalization=norm)
            probabilities = class_probabilities(result.model, test_set.x, normalization=norm)
            test_probabilities.append(probabilities)
            predicted["seeds"].append(seed)
            predicted["labels"].append(probabilities.argmax(dim=1).numpy())
            on_test = metrics_from_probabilities(probabilities, test_set.y, test_set.n_classes)
            row.update(
                train_acc=on_train.accuracy,
                train_balanced_acc=on_train.balanced_accuracy,
                test_acc=on_test.accuracy,
                test_balanced_acc=on_test.balanced_accuracy,
                test_loss=on_test.loss,
                test_per_class_acc=on_test.per_class_acc,
                test_worst_class_acc=worst_class(on_test.per_class_acc),
                test_confusion=on_test.confusion,
            )
        row["seconds"] = time.perf_counter() - started
        per_seed.append(row)
    ok = [r for r in per_seed if r["status"] == "ok"]
    if not ok:
        raise RunError(
            f"every final training diverged ({per_seed[0]['error']}); lower the learning rate "
            "in the config or use fewer epochs"
        )
    summary = {
        key: mean_std([r[key] for r in ok])
        for key in ("test_acc", "test_balanced_acc", "test_loss", "train_acc", "train_seconds")
    }
    worst = [r["test_worst_class_acc"] for r in ok if r["test_worst_class_acc"] is not None]
    summary["test_worst_class_acc"] = mean_std(worst) if worst else None
    summary.update(
        n_params=ok[0]["n_params"],
        n_ok=len(ok),
        n_seeds=len(per_seed),
        n_train=len(train_set),
        n_test=len(test_set),
        n_classes=train_set.n_classes,
        class_counts_train=train_set.class_counts().tolist(),
        class_names=None if train_set.class_names is None else list(train_set.class_names),
        class_counts_test=test_set.class_counts().tolist(),
        seconds=sum(r["seconds"] for r in per_seed),
    )
    if len(ok) > 1:  # the models' averaged probabilities, tested as one model
        averaged = torch.stack(test_probabilities).mean(dim=0)
        together = metrics_from_probabilities(averaged, test_set.y, test_set.n_classes)
        summary["ensemble"] = {
            "n_models": len(ok),
            "seeds": [r["seed"] for r in ok],
            "test_acc": together.accuracy,
            "test_balanced_acc": together.balanced_accuracy,
            "test_loss": together.loss,
            "test_per_class_acc": together.per_class_acc,
            "test_confusion": together.confusion,  # the report shows the ensemble's too
        }
        predicted["ensemble"] = averaged.argmax(dim=1).numpy()
    final = FinalResult(
        dataset=dataset,
        config=config,
        epochs=float(epochs),
        seeds=list(seeds),
        per_seed=per_seed,
        summary=summary,
        model=ok[0]["model"],
        validation=validation,
        extra=dict(extra or {}),
    )
    np.savez(out / PREDICTIONS_FILE, **predicted)
    write_json(out / METRICS_FILE, final.to_dict())
    return final


def saved_predictions(out: str | Path) -> tuple[np.ndarray, np.ndarray] | None:
    """``(y, labels)``: the test labels and the predicted labels of the model a final
    evaluation in ``out`` reports (its ensemble when it has one, else its first model); None
    for a final evaluation made before :data:`PREDICTIONS_FILE` was written."""
    path = Path(out) / PREDICTIONS_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as saved:
        labels = saved["ensemble"] if "ensemble" in saved.files else saved["labels"][0]
        return saved["y"], labels


def evaluate(
    run: str | Path | None = None,
    *,
    out: str | Path,
    config: str | Path | dict | None = None,
    dataset: str | None = None,
    space: str | None = None,
    epochs: float | None = None,
    seeds: int = 3,
    seed: int = 0,
    data_dir: str | Path | None = None,
    validate: bool = False,
    device: str = "auto",
    precision: str = "auto",
    progress: bool = False,
) -> FinalResult:
    """Retrain ``run``'s incumbent (or ``config``) on all training data; report test metrics.

    ``run`` gives the dataset, space, data folder and default epochs (its max budget; with the
    time fidelity, the epochs its incumbent's evaluation trained); without a
    run, ``config`` ("default", a JSON file or dict), ``dataset`` and ``epochs`` are needed.
    ``seeds`` models are trained with seeds ``seed, seed + 1, ...``; a configuration-transfer
    run whose trials started from a source model (``--init-weights``) starts them from it too.
    ``out`` must not hold a result yet. Writes ``out/metrics.json`` and ``out/models/seed-<s>.pt``.
    """
    from autocnn.artifacts import prepare_out_dir
    from autocnn.final.sources import init_weights_of, run_incumbent, trained_epochs
    from autocnn.model.weights import start_state
    from autocnn.space import resolve_config
    from autocnn.train import load_checkpoint, train
    from autocnn.train.precision import check_precision

    settings: dict[str, Any] = {}
    resolved: dict[str, Any] | None = None
    start_from: Path | None = None  # a transfer run's source model, where it started trials
    incumbent = None
    if run is not None:
        resolved, settings, incumbent = run_incumbent(run)
        start_from = init_weights_of(run) if config is None else None
    dataset = dataset or settings.get("dataset")
    if dataset is None:
        raise ConfigError("evaluate needs a run folder or --dataset")
    space = space or settings.get("space") or "seed"
    data_dir = data_dir if data_dir is not None else settings.get("data_dir")
    if config is not None:
        resolved = resolve_config(config, space)
    if resolved is None:
        raise ConfigError("evaluate needs a run folder or --config (a file or 'default')")
    if epochs is None:  # what the search's largest budget trained
        partial_data = settings.get("fidelity") in ("data", "both")
        epochs = (settings.get("epochs") or None) if partial_data else None
        if settings.get("fidelity") == "time":  # its budgets are seconds, not epochs
            if config is not None:
                raise ConfigError(
                    f"run {run} measured budgets in seconds (--fidelity time): give --epochs "
                    "for --config"
                )
            epochs = trained_epochs(run, incumbent.evaluation_id)
        epochs = epochs or settings.get("max_budget")
    if epochs is None or not (isinstance(epochs, (int, float)) and math.isfinite(epochs)):
        raise ConfigError("evaluate needs --epochs when no run gives its max budget")
    seed_list = training_seeds(seed, seeds)
    check_precision(precision)
    require_test_part(dataset)
    source_state = None if start_from is None else load_checkpoint(start_from)["model"]
    out = prepare_out_dir(out, METRICS_FILE)
    val_fraction, split_seed = settings.get("val_fraction", 0.2), settings.get("split_seed", 0)

    def start(images: data.ImageSet, train_seed: int):
        """Initial weights: the source's where the search started from them, else fresh."""
        if source_state is None:
            return None
        return start_state(
            resolved, images.input_shape, images.n_classes, source_state, train_seed
        )[0]

    def fit(train_seed: int, save_to: Path):
        full = data.load(dataset, "train", data_dir=data_dir)
        return train(
            resolved, full, None, epochs=epochs, seed=train_seed, save_to=save_to,
            device=device, precision=precision, progress=progress,
            init_state=start(full, train_seed),
        )  # fmt: skip

    def validation_run():
        full = data.load(dataset, "train", data_dir=data_dir)
        fit_set, val_set = data.train_val_split(full, val_fraction, seed=split_seed)
        return train(
            resolved, fit_set, val_set, epochs=epochs, seed=seed_list[0], device=device,
            precision=precision, init_state=start(fit_set, seed_list[0]),
        )  # fmt: skip

    return final_evaluation(
        fit,
        dataset,
        config=resolved,
        epochs=epochs,
        seeds=seed_list,
        out=out,
        data_dir=data_dir,
        validate=validation_run if validate else None,
        extra={
            "space": space, "run": None if run is None else str(run), "kind": "evaluate",
            **({} if start_from is None else {"init_weights": str(start_from)}),
        },
    )  # fmt: skip
