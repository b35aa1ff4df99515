"""Prediction with a saved model: labels (and probabilities) for an .npz or a folder of images.

The model is a checkpoint (.pt, read with ``torch.load(weights_only=True)``: data, never code;
the safe default) or a model made by :func:`autocnn.final.export_model`: ``model.ts``
(TorchScript), ``model.onnx`` (onnxruntime on the CPU, ``pip install 'autocnn[onnx]'``) or
their folder with ``export.json``. Loading TorchScript runs the code in the file, so pass only
exports you made with autocnn. Every path gives the same labels and softmax probabilities.

Example::

    labels = predict("runs/kmnist-final", "images.npz", out="labels.npz")
    labels = predict("runs/kmnist-final", "images.npz", out="labels.npz", ensemble=True)
    labels = predict("runs/kmnist-export/model.onnx", "images.npz", out="labels.npz")
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from autocnn.errors import CheckpointError, ConfigError, DataError, DataWarning, RunError
from autocnn.final.sources import model_file  # a checkpoint, or the folder that holds one

EXPORT_SUFFIXES = (".ts", ".onnx")
# A fit folder keeps its final evaluation, every net of its ensemble, in this subfolder (the
# name autocnn.fit.folder uses): `predict FIT` finds them there.
FINAL_SUBFOLDER = "final"


def is_fit_folder(model: str | Path) -> bool:
    """Whether ``model`` is a finished ``autocnn fit`` folder: its model is the whole final
    ensemble (the one its summary tests and its export holds), so predict averages every net."""
    path = Path(model)
    return (
        path.is_dir()
        and not (path / "metrics.json").is_file()
        and (path / FINAL_SUBFOLDER / "metrics.json").is_file()
    )


def is_export(model: str | Path) -> bool:
    """Whether ``model`` names an exported model: a .ts / .onnx file, or a folder holding
    ``export.json`` and no checkpoint (a folder with both predicts with the checkpoint)."""
    from autocnn.final.export import EXPORT_FILE

    path = Path(model)
    if path.suffix in EXPORT_SUFFIXES:
        return True
    checkpoints = ("metrics.json", "model.pt", "run.db")
    return (
        path.is_dir()
        and (path / EXPORT_FILE).is_file()
        and not any((path / name).is_file() for name in checkpoints)
    )


def exported_probabilities(
    model: str | Path, images: str | Path, batch_size: int, files: list[Path] | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """Softmax probabilities (N, n_classes, float32) of an exported model for an .npz or a
    folder of images (``files``: its images as listed already), and its class names (None
    where its training data had none)."""
    from autocnn.final.export import read_export

    meta, path = read_export(model)
    n_classes = int(meta["n_classes"])
    names = meta.get("class_names")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != n_classes
        or not all(isinstance(n, str) for n in names)
    ):
        raise CheckpointError(
            f"{path}: its export.json's class_names is not a list of {n_classes} names; export "
            "the model again"
        )
    shape = tuple(int(v) for v in meta["input_shape"])
    x = read_images(images, shape, files)  # type: ignore[arg-type]
    run = _onnx_runner(path) if path.suffix == ".onnx" else _torchscript_runner(path)
    chunks = [run(x[start : start + batch_size]) for start in range(0, len(x), batch_size)]
    if not chunks:
        return np.zeros((0, n_classes), dtype=np.float32), names
    probabilities = np.concatenate(chunks).astype(np.float32, copy=False)
    if probabilities.shape != (len(x), n_classes):
        raise CheckpointError(
            f"{path}: returned shape {probabilities.shape}, expected {(len(x), n_classes)}; "
            "it does not match its export.json: export the model again"
        )
    return probabilities, names


def _torchscript_runner(path: Path):
    import warnings

    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.10: TorchScript
            module = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # a corrupt zip, a foreign file: all mean the same to the user
        raise CheckpointError(
            f"{path}: not a readable TorchScript model ({type(exc).__name__}); export it again"
        ) from exc

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(batch)).float().numpy()

    return run


def _onnx_runner(path: Path):
    import torch

    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            f"{path}: ONNX models need onnxruntime: pip install 'autocnn[onnx]' (or predict "
            "with the .pt checkpoint or model.ts)"
        ) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # torch's setting rules both paths
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise CheckpointError(
            f"{path}: not a readable ONNX model ({type(exc).__name__}); export it again"
        ) from exc
    name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {name: batch})[0]

    return run


def ensemble_files(folder: str | Path) -> list[Path]:
    """Every model an ``evaluate`` / ``transfer weights`` folder trained (its ``metrics.json``),
    or a fit folder's final ensemble."""
    import json

    folder = Path(folder)
    if not (folder / "metrics.json").is_file() and (folder / FINAL_SUBFOLDER).is_dir():
        folder = folder / FINAL_SUBFOLDER  # a fit's
    metrics = folder / "metrics.json"
    if not metrics.is_file():
        raise ConfigError(
            f"{folder}: --ensemble needs the folder of `autocnn evaluate` or `transfer weights` "
            "(with metrics.json), not a single model"
        )
    try:
        rows = json.loads(metrics.read_text()).get("per_seed", [])
        named = [row["model"] for row in rows if row.get("model")]
    except (OSError, ValueError, AttributeError, TypeError, KeyError) as exc:
        raise RunError(f"{metrics}: unreadable ({exc}); run `autocnn evaluate` again") from exc
    missing = [name for name in named if not (folder / name).is_file()]
    if not named or missing:
        raise RunError(
            f"{metrics}: models missing ({', '.join(missing) or 'none listed'}); run "
            "`autocnn evaluate` again into a new folder"
        )
    return [folder / name for name in named]


def ensemble_size(model: str | Path) -> int:
    """How many models ``predict --ensemble`` would average for ``model`` (0: not a folder of
    models, e.g. a single checkpoint, an export, or a fit folder, which averages them always)."""
    path = Path(model)
    if not path.is_dir() or is_export(path) or is_fit_folder(path):
        return 0
    try:
        return len(ensemble_files(path))
    except (ConfigError, RunError):
        return 0


def read_images(
    path: str | Path, input_shape: tuple[int, int, int], files: list[Path] | None = None
) -> np.ndarray:
    """Images from an .npz or a folder of image files as uint8 (N, C, H, W), checked against
    the model's input shape.

    An .npz's array is ``x``, ``x_test``, ``images``, ``arr_0`` or the file's only array; uint8
    in 0..255, or floats in [0, 1] (scaled by 255) or in [0, 255]; shape (N, H, W),
    (N, H, W, C) or (N, C, H, W), resized to the model's input size if theirs differs, with a
    warning. A folder's images (PNG, JPEG, ..., in sub-folders too, in the
    order of :func:`~autocnn.data.folders.images_under`) are converted to the model's channels
    and resized to its input size, with a warning; ``files`` are those images where the caller
    listed them already (so that its list and the labels cannot differ). DataError naming the
    file and what to fix otherwise.
    """
    from autocnn.data.folders import images_under, read_as
    from autocnn.data.readers import as_images, read_npz
    from autocnn.data.resize import resize_images

    path = Path(path)
    if path.is_dir():
        files = images_under(path) if files is None else files
        if not files:
            raise DataError(f"{path}: no image files (PNG, JPEG, ...) in this folder")
        channels, height, width = input_shape
        # the filter resize: and fit scale training images with: a model fit trained on
        # scaled photos sees the photos as it was trained on them
        return read_as(
            files,
            channels,
            (width, height),
            path,
            "the model's input size",
            advice="scaled as fit and resize:SIDE: scale training images",
        )
    arrays = read_npz(path)
    names = [k for k in ("x", "x_test", "images", "arr_0") if k in arrays]
    if not names and len(arrays) == 1:
        names = list(arrays)
    if not names:
        raise DataError(
            f"{path}: no image array found (it holds {', '.join(arrays) or 'nothing'}); save the "
            "images as x (np.savez(path, x=images))"
        )
    x = arrays[names[0]]
    where = f"{path} [{names[0]}]"
    if np.issubdtype(x.dtype, np.floating):
        if x.size and not np.isfinite(x).all():
            raise DataError(f"{where}: images contain NaN or infinity")
        low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
        if low < 0.0 or high > 255.0:
            raise DataError(
                f"{where}: float images must lie in [0, 1] or [0, 255], found [{low:g}, {high:g}]"
            )
        x = np.round(x * (255.0 if high <= 1.0 else 1.0)).astype(np.uint8)
    elif x.dtype != np.uint8:
        raise DataError(
            f"{where}: images must be uint8 (0..255) or floats, got {x.dtype}; convert them with "
            "x.astype(np.uint8)"
        )
    if x.ndim == 2 and tuple(x.shape) == tuple(input_shape[1:]):
        x = x[None]  # one image
    images = as_images(x, where).numpy()
    if images.shape[1] == input_shape[0] and tuple(images.shape[2:]) != tuple(input_shape[1:]):
        # a model trained on resize:SIDE:NAME (fit chooses that for large images): scaled the
        # way its training images were (autocnn.data.resize), as a folder's images are
        warnings.warn(
            f"{where}: {len(images)} images of {images.shape[3]}x{images.shape[2]} resized to "
            f"the model's input size {input_shape[2]}x{input_shape[1]}",
            DataWarning,
            stacklevel=2,
        )
        images = resize_images(images, tuple(input_shape[1:]))
    if tuple(images.shape[1:]) != tuple(input_shape):
        raise DataError(
            f"{where}: images of shape {tuple(images.shape[1:])} (C, H, W), but the model takes "
            f"{tuple(input_shape)}; convert them to {input_shape[0]} channel(s) "
            f"({'grayscale' if input_shape[0] == 1 else 'RGB'})"
        )
    return images


def predict(
    model: str | Path,
    images: str | Path,
    *,
    out: str | Path,
    batch_size: int = 2048,
    device: str = "cpu",
    overwrite: bool = False,
    ensemble: bool = False,
) -> np.ndarray:
    """Predict the class of every image in ``images`` (an .npz, or a folder of image files);
    write ``out`` (.npz: ``labels``).

    ``out`` also holds ``probabilities`` (N, n_classes, float32), for a folder ``files`` (each
    image's path relative to it, in the order of the labels), and ``class_names`` where the
    training data named its classes (``dir:`` sets: label k is ``class_names[k]``). With
    ``ensemble``, ``model`` is an ``evaluate`` / ``transfer weights`` folder and the
    probabilities are the average of all its models' (the ensemble its ``metrics.json``
    reports). A fit folder always predicts with every net of its final: that ensemble is its
    model (``FIT/model.pt`` is the first net alone). ``model`` may also be an export (model.ts,
    model.onnx or their folder; see the module docstring), which runs on the CPU. An existing
    ``out`` is not overwritten unless ``overwrite``.
    """
    out = Path(out)
    if out.suffix != ".npz":
        raise ConfigError(f"--out {out} must end in .npz")
    if out.exists() and not overwrite:
        raise RunError(f"{out} exists; choose another --out file (nothing was overwritten)")
    files = None
    if Path(images).is_dir():  # listed once: the labels and `files` come from one list
        from autocnn.data.folders import images_under

        files = images_under(Path(images))
    if is_export(model):
        if ensemble:
            raise ConfigError(f"{model}: an export holds one model; predict without --ensemble")
        probabilities, names = exported_probabilities(model, images, batch_size, files)
    else:
        together = ensemble or is_fit_folder(model)
        probabilities, names = _checkpoint_probabilities(
            model, images, batch_size, device, together, files
        )
    labels = probabilities.argmax(axis=1).astype(np.int64)
    arrays = {"labels": labels, "probabilities": probabilities}
    if names is not None:  # label k is class_names[k] (the training folders' names)
        arrays["class_names"] = np.array(names, dtype=str)
    if files is not None:
        relative = [p.relative_to(images).as_posix() for p in files]
        arrays["files"] = np.array(relative, dtype=str)  # a unicode array: no pickle needed
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return labels


def _checkpoint_probabilities(
    model: str | Path,
    images: str | Path,
    batch_size: int,
    device: str,
    ensemble: bool,
    files: list[Path] | None,
) -> tuple[np.ndarray, list[str] | None]:
    import torch

    from autocnn.final.sources import class_names, load_together
    from autocnn.train import class_probabilities, model_from_checkpoint

    paths = ensemble_files(model) if ensemble else [model_file(model)]
    checkpoints, shape, _ = load_together(paths, "predict with one model (drop --ensemble)")
    x = torch.from_numpy(read_images(images, shape, files))  # type: ignore[arg-type]
    summed = None
    for path, checkpoint in zip(paths, checkpoints, strict=True):
        net, norm, _ = model_from_checkpoint(checkpoint, device, where=path)
        p = class_probabilities(net, x, normalization=norm, batch_size=batch_size, device=device)
        summed = p if summed is None else summed + p
    return (summed / len(paths)).numpy().astype(np.float32), class_names(checkpoints)
