"""Weight transfer: rebuild a trained network with a new head, copy the rest, fine-tune it.

A source model is an autocnn checkpoint (``model.pt`` of ``autocnn train``/``evaluate``, or the
incumbent's checkpoint in a run folder). The destination network is built from the same config
for the destination's class count; every entry of the source's state dict except the head's is
copied into it, buffers included: BatchNorm running means, variances and batch counters are
part of what the features learned (copying only parameters, as the seed did, evaluates the
copied BN layers with the statistics of a fresh net).

Fine-tuning drives :func:`autocnn.train.train` through its optional hooks:

- ``freeze_epochs``: for the first epochs the copied layers ("backbone": ``features`` and the
  hidden FC layers in ``classifier``) get no gradient and run in eval mode (BN statistics and
  dropout as at inference), so only the new head learns;
- ``backbone_lr_factor``: afterwards the copied layers learn at this fraction of the scheduled
  learning rate, the new head at the full rate.

Example::

    source = load_source("runs/kmnist-final")             # a folder or a .pt file
    model, copied = transferred_model(source, n_classes=49)
    result = finetune(source, train_set, val_set, epochs=9, freeze_epochs=1,
                      backbone_lr_factor=0.1)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autocnn.errors import CheckpointError, ConfigError
from autocnn.final.sources import model_file as source_checkpoint  # predict reads it too
from autocnn.model import ConvNet, build_model
from autocnn.model.weights import HEAD_PREFIX, partial_state
from autocnn.train import TrainResult, load_checkpoint, train


@dataclass(frozen=True)
class SourceModel:
    """A trained network as data: its config, weights and the shape of its inputs."""

    config: dict[str, Any]
    state: dict[str, torch.Tensor]
    input_shape: tuple[int, int, int]
    n_classes: int
    path: Path

    def model(self) -> ConvNet:
        """The source network itself (eval mode, CPU)."""
        model = build_model(self.config, self.input_shape, self.n_classes)
        model.load_state_dict(self.state)
        return model.eval()


def load_source(source: str | Path) -> SourceModel:
    """Read a source network (see :func:`source_checkpoint`); tensors as data, never code."""
    path = source_checkpoint(source)
    payload = load_checkpoint(path)
    config = json.loads(payload["config"])
    return SourceModel(
        config=config,
        state={k: v.detach().clone() for k, v in payload["model"].items()},
        input_shape=tuple(int(v) for v in payload["input_shape"]),  # type: ignore[arg-type]
        n_classes=int(payload["n_classes"]),
        path=path,
    )


def transfer_state(
    source_state: Mapping[str, torch.Tensor], target: nn.Module
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The target's state dict with every non-head entry taken from ``source_state``.

    Returns ``(state, copied_keys)``. Buffers (BN running statistics, ``num_batches_tracked``)
    are copied like parameters. CheckpointError when a copied entry is missing or has another
    shape (the two networks are not the same architecture).
    """
    for key, value in target.state_dict().items():  # every non-head tensor must fit
        if key.startswith(HEAD_PREFIX):
            continue
        if key not in source_state:
            raise CheckpointError(f"the source network has no {key!r}; it is another architecture")
        if tuple(source_state[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{key!r} has shape {tuple(source_state[key].shape)} in the source and "
                f"{tuple(value.shape)} in the destination network; transfer needs the same "
                "architecture and input size"
            )
    return partial_state(source_state, target)


def transferred_model(
    source: SourceModel,
    n_classes: int,
    input_shape: tuple[int, int, int] | None = None,
    seed: int = 0,
) -> tuple[ConvNet, list[str]]:
    """The source network rebuilt for ``n_classes`` outputs: all but the head copied.

    The head is freshly initialised (torch's default for ``nn.Linear``) from ``seed``; the
    caller's random state is left alone.
    """
    shape = tuple(input_shape or source.input_shape)
    if shape != tuple(source.input_shape):
        raise ConfigError(
            f"the destination images have shape {shape}, the source network was trained on "
            f"{source.input_shape}; weight transfer needs images of the same size and channels"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(source.config, shape, n_classes)  # type: ignore[arg-type]
    state, copied = transfer_state(source.state, model)
    model.load_state_dict(state)
    return model, copied


def backbone_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters of every layer but the head (the copied ones)."""
    return [p for name, p in model.named_parameters() if not name.startswith(HEAD_PREFIX)]


@dataclass(frozen=True)
class FineTune:
    """The optimizer groups and freezing schedule of a fine-tuning run (picklable, pure).

    ``param_groups`` and ``before_epoch`` are the hooks :func:`autocnn.train.train` takes.
    """

    freeze_epochs: int = 0
    backbone_lr_factor: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.freeze_epochs, bool) or int(self.freeze_epochs) != self.freeze_epochs:
            raise ConfigError(f"freeze_epochs must be a whole number, got {self.freeze_epochs!r}")
        if self.freeze_epochs < 0:
            raise ConfigError(f"freeze_epochs must be >= 0, got {self.freeze_epochs}")
        if not 0.0 <= float(self.backbone_lr_factor) <= 1e3:
            raise ConfigError(
                f"backbone_lr_factor must be in [0, 1000] (0.1: copied layers learn 10x slower), "
                f"got {self.backbone_lr_factor!r}"
            )

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        backbone = backbone_parameters(model)
        head = [p for name, p in model.named_parameters() if name.startswith(HEAD_PREFIX)]
        groups = [{"params": head, "lr_factor": 1.0}]
        if backbone:
            groups.append({"params": backbone, "lr_factor": float(self.backbone_lr_factor)})
        return groups

    def before_epoch(self, model: nn.Module, epoch: int) -> None:
        frozen = epoch < self.freeze_epochs
        for parameter in backbone_parameters(model):
            parameter.requires_grad_(not frozen)
        if frozen:  # the copied layers act as a fixed feature extractor: BN keeps its statistics
            for name, module in model.named_children():
                if name != "head":
                    module.eval()


def finetune(
    source: SourceModel,
    train_set: Any,
    val_set: Any | None,
    *,
    epochs: float,
    freeze_epochs: int = 0,
    backbone_lr_factor: float = 1.0,
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
    save_to: Path | None = None,
    device: str = "auto",
    progress: bool = False,
) -> TrainResult:
    """Fine-tune the transferred network on ``train_set`` (see the module docstring).

    ``config`` (default the source's) may change training settings only (learning rate, batch
    size, ...): the architecture must be the source's, or the shapes will not match.
    """
    config = dict(config or source.config)
    schedule = FineTune(freeze_epochs, backbone_lr_factor)
    model, _ = transferred_model(source, train_set.n_classes, train_set.input_shape, seed)
    result = train(
        config,
        train_set,
        val_set,
        epochs=epochs,
        seed=seed,
        save_to=save_to,
        device=device,
        progress=progress,
        init_state=model.state_dict(),
        param_groups=schedule.param_groups,
        before_epoch=schedule.before_epoch,
    )
    if result.model is not None:  # unfreeze, so the returned model counts all its parameters
        for parameter in result.model.parameters():
            parameter.requires_grad_(True)
        result.n_params = sum(p.numel() for p in result.model.parameters())
    return result
