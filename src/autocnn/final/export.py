"""Export a trained model as TorchScript and ONNX, preprocessing and softmax included.

An exported model runs without autocnn's model code: it takes the images as stored, uint8
(N, C, H, W), scales them to [0, 1], normalises them with the training set's statistics and
returns class PROBABILITIES (N, n_classes, float32 softmax), exactly what ``predict`` and the
final evaluation compute from a checkpoint. The TorchScript model also takes (N, H, W) for
one-channel images and float images already scaled to [0, 1]; the ONNX graph takes uint8
(N, C, H, W) only (its input type is fixed), with a dynamic batch axis. Conv + BatchNorm pairs
are fused for inference (outputs equal within ~1e-6).

Several checkpoints (``fit``'s final ensemble) export as one model whose output is the mean of
their probabilities, each member with its own preprocessing (:class:`Averaged`), as
``predict --ensemble`` computes from the checkpoints.

``export.json`` beside the files records the format, input shape, class count and file names;
``predict`` reads it. ONNX needs the optional extra (``pip install 'autocnn[onnx]'``); without
it ONNX is skipped with a message, TorchScript is still written.

Loading a TorchScript file runs the code it holds: predict only with exports made by autocnn
(the .pt checkpoint, loaded with ``weights_only=True``, stays the safe default).

Example::

    from autocnn.final import export_model
    files = export_model("runs/kmnist-final", "runs/kmnist-export")
    # {"torchscript": Path(".../model.ts"), "onnx": Path(".../model.onnx")}
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autocnn.errors import CheckpointError, ConfigError, RunError

log = logging.getLogger(__name__)

EXPORT_FORMAT = "autocnn-export"
EXPORT_VERSION = 1
EXPORT_FILE = "export.json"
FILES = {"torchscript": "model.ts", "onnx": "model.onnx"}
ONNX_OPSET = 18  # the torch.export-based exporter's own opset (torch >= 2.9)
ONNX_PACKAGES = ("onnx", "onnxruntime", "onnxscript")


class Preprocessed(nn.Module):
    """``softmax(net((images / 255 - mean) / std))``: the trainer's inference path in one graph.

    uint8 images are divided by 255; float images are taken as already scaled to [0, 1].
    (N, H, W) gains the channel axis. Output: float32 probabilities (N, n_classes).
    """

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.net = net
        shape = (1, len(mean), 1, 1)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(shape))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(shape))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dtype == torch.uint8:
            x = x.to(torch.float32) * (1.0 / 255.0)
        else:
            x = x.to(torch.float32)
        # channels_last, as the trainer's inference path: oneDNN's convolutions are ~1.2x
        # faster on it here (the net is converted to match in _write_torchscript)
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        return torch.softmax(self.net(x), dim=1)


class _UInt8Preprocessed(Preprocessed):
    """The ONNX variant: uint8 (N, C, H, W) only, so the graph has no branches (and no layout
    change: onnxruntime picks its own)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(torch.float32) * (1.0 / 255.0)
        return torch.softmax(self.net((x - self.mean) / self.std), dim=1)


class Averaged(nn.Module):
    """The mean of its members' probabilities (each a :class:`Preprocessed`): an ensemble as one
    model, the same input and output as a single member's."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for member in self.members:
            outputs.append(member(images))
        return torch.stack(outputs).mean(dim=0)


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """A copy of an eval-mode ``model`` with every Conv2d -> BatchNorm2d pair in a Sequential fused.

    The BatchNorm becomes an ``nn.Identity``; the conv absorbs its scale and shift.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:], strict=False):
            conv, bn = module._modules[first], module._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module._modules[first] = fuse_conv_bn_eval(conv, bn)
                module._modules[second] = nn.Identity()
    return fused


def onnx_available() -> bool:
    """Whether the optional ONNX packages (``autocnn[onnx]``) are installed."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ONNX_PACKAGES)
    except (ImportError, ValueError):  # a broken or blocked install counts as missing
        return False


def export_model(
    checkpoint: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    formats: Sequence[str] = ("torchscript", "onnx"),
    *,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write ``model.ts`` / ``model.onnx`` and ``export.json`` for a checkpoint into ``out_dir``.

    ``checkpoint`` is a .pt file or a folder ``predict`` accepts (its single model), or a list
    of them: an ensemble exported as one model (their probabilities averaged). Returns
    the written files by format; ONNX is left out, with a logged message, when its packages
    are missing. Existing exports are replaced only with ``overwrite``.
    """
    from autocnn.final.sources import class_names, load_together, model_file
    from autocnn.train import model_from_checkpoint

    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = [f for f in formats if f not in FILES]
    if unknown or not formats:
        raise ConfigError(f"formats {list(formats)}: choose from {sorted(FILES)}")
    out_dir = Path(out_dir)
    if (out_dir / EXPORT_FILE).exists() and not overwrite:
        raise ConfigError(f"{out_dir} already holds an export; choose another folder")
    many = not isinstance(checkpoint, (str, Path))
    sources = [model_file(c) for c in (checkpoint if many else [checkpoint])]
    if not sources:
        raise ConfigError("export_model needs at least one checkpoint")
    payloads, shape, n_classes = load_together(sources, "export them one at a time")
    members = []  # (fused net, normalisation) per checkpoint
    for source, payload in zip(sources, payloads, strict=True):
        net, norm, _ = model_from_checkpoint(payload, "cpu", where=source)
        members.append((fuse_conv_bn(net.to(memory_format=torch.contiguous_format)), norm))
    example = torch.zeros((2, *shape), dtype=torch.uint8)
    wanted = list(dict.fromkeys(formats))
    if "onnx" in wanted and not onnx_available():
        log.warning(
            "ONNX export skipped: its packages (%s) are not installed; pip install 'autocnn[onnx]'",
            ", ".join(ONNX_PACKAGES),
        )
        wanted.remove("onnx")
        if not wanted:
            raise ConfigError(
                "ONNX export needs its packages: pip install 'autocnn[onnx]', or export "
                "formats=('torchscript',)"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in wanted:
        path = out_dir / FILES[name]
        writer = _write_torchscript if name == "torchscript" else _write_onnx
        try:
            _atomic(path, lambda tmp, w=writer: w(members, example, tmp))
        except Exception as exc:  # the exporters' own errors: not the user's to fix
            raise RunError(
                f"{name} export of {', '.join(str(s) for s in sources)} failed "
                f"({type(exc).__name__}: {exc}); predict with the checkpoint, or report this "
                "with the model's config"
            ) from exc
        written[name] = path
    meta: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "files": {name: path.name for name, path in written.items()},
        "input_shape": list(shape),
        "input": "uint8 (N, C, H, W) images as stored, 0..255; preprocessing is in the graph",
        "output": "probabilities",
        "n_classes": n_classes,
        "class_names": class_names(payloads),  # None: the labels are only numbers
        "config_hash": payloads[0]["config_hash"],
        "source": sources[0].name,
        "members": len(sources),  # > 1: an ensemble, its probabilities averaged
        "config_hashes": [p["config_hash"] for p in payloads],
        "torch": torch.__version__,
        "onnx_opset": ONNX_OPSET if "onnx" in written else None,
    }
    _atomic(out_dir / EXPORT_FILE, lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))
    return written


def _wrapped(members: Sequence[tuple[nn.Module, Any]], kind: type[Preprocessed]) -> nn.Module:
    """One member as ``kind``; several averaged (:class:`Averaged`)."""
    wrapped = [kind(net, norm.mean, norm.std) for net, norm in members]
    return (wrapped[0] if len(wrapped) == 1 else Averaged(wrapped)).eval()


def _write_torchscript(
    members: Sequence[tuple[nn.Module, Any]], example: torch.Tensor, path: Path
) -> None:
    # torch >= 2.10 marks TorchScript deprecated (in favour of torch.export); it still works
    # and is what users' C++/mobile runtimes load, so its warnings are silenced here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        channels_last = [
            (copy.deepcopy(net).to(memory_format=torch.channels_last), norm)
            for net, norm in members
        ]
        module = torch.jit.freeze(torch.jit.script(_wrapped(channels_last, Preprocessed)))
        torch.jit.save(module, str(path))


def _write_onnx(
    members: Sequence[tuple[nn.Module, Any]], example: torch.Tensor, path: Path
) -> None:
    wrapper = _wrapped(members, _UInt8Preprocessed)
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)  # "torchvision is not installed": not our concern
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                wrapper,
                (example,),
                str(path),
                input_names=["images"],
                output_names=["probabilities"],
                opset_version=ONNX_OPSET,
                dynamic_shapes={"images": {0: torch.export.Dim("batch")}},
                external_data=False,
                dynamo=True,
                verbose=False,
            )
        finally:
            registry_log.setLevel(level)


def _atomic(path: Path, write: Any) -> None:
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_export(path: str | Path) -> tuple[dict[str, Any], Path]:
    """``(export.json's content, the model file)`` for a .ts / .onnx file or an export folder."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; pass model.ts, model.onnx or their folder")
    folder = path if path.is_dir() else path.parent
    meta_path = folder / EXPORT_FILE
    if not meta_path.is_file():
        raise CheckpointError(
            f"{path}: no {EXPORT_FILE} beside it; predict takes models exported by autocnn "
            "(export_model), with their export.json"
        )
    try:
        meta = json.loads(meta_path.read_text())
        ok = meta.get("format") == EXPORT_FORMAT and isinstance(meta.get("files"), dict)
        shape = tuple(int(v) for v in meta["input_shape"])
        int(meta["n_classes"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{meta_path}: unreadable ({exc}); export the model again") from exc
    if not ok or len(shape) != 3 or meta.get("version") != EXPORT_VERSION:
        raise CheckpointError(
            f"{meta_path}: not an autocnn export of version {EXPORT_VERSION}; export it again"
        )
    if path.is_dir():
        names = meta["files"]
        name = names.get("torchscript") or names.get("onnx")
        if not name:
            raise CheckpointError(f"{meta_path} names no model file; export the model again")
        path = folder / str(name)
    if path.name not in meta["files"].values():
        raise CheckpointError(f"{path}: not one of the files {meta_path} names")
    if not path.is_file():
        raise CheckpointError(f"{path} (named in {meta_path}) is missing; export the model again")
    return meta, path
