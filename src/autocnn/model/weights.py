"""Start a network from another network's weights: every tensor whose name and shape still fit.

Weight transfer and configuration transfer with ``--init-weights`` start a destination network
from a source network trained on other classes. The head (``head.*``, the last ``nn.Linear``)
always starts fresh: its outputs are the source's classes. Any other tensor is copied when the
destination has one of the same name and shape (BatchNorm buffers included: the running
statistics belong to the features learned); a layer whose width changed keeps its fresh
initialisation.

Defined here, below ``train``, because both a search (``autocnn.transfer``) and a final
evaluation of such a search (``autocnn.final``) build their networks this way.

Example:
    >>> from autocnn.space import default_config
    >>> source = build_model(default_config("seed"), (1, 28, 28), n_classes=10)
    >>> state, copied = start_state(default_config("seed"), (1, 28, 28), 49, source.state_dict())
    >>> sorted(copied), tuple(state["head.weight"].shape)
    (['features.0.bias', 'features.0.weight'], (49, 784))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from autocnn.model import build_model

HEAD_PREFIX = "head."


def partial_state(
    source_state: Mapping[str, torch.Tensor], target: nn.Module
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The target's state dict with each non-head entry of the same shape taken from the source.

    Returns ``(state, copied_keys)``; the target itself is not changed.
    """
    state = {k: v.detach().clone() for k, v in target.state_dict().items()}
    copied = []
    for key, value in state.items():
        theirs = source_state.get(key)
        if key.startswith(HEAD_PREFIX) or theirs is None or theirs.shape != value.shape:
            continue
        state[key] = theirs.detach().clone().to(value.dtype)
        copied.append(key)
    return state, copied


def start_state(
    config: Mapping[str, Any],
    input_shape: tuple[int, int, int],
    n_classes: int,
    source_state: Mapping[str, torch.Tensor],
    seed: int,
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Initial weights of ``config``'s network: fresh from ``seed`` (the caller's random state
    is left alone), then every fitting tensor of ``source_state`` (:func:`partial_state`)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_model(config, input_shape, n_classes)
    return partial_state(source_state, fresh)
