"""Where training runs: the device a user names (``"auto"``, ``"cpu"``, ``"cuda:1"``) resolved,
and the CUDA devices whose random state a training run must fork.

Example:
    >>> resolve_device("cpu"), rng_devices(resolve_device("cpu"))
    (device(type='cpu'), [])
"""

from __future__ import annotations

import torch

from autocnn.errors import ConfigError


def resolve_device(device: str) -> torch.device:
    """``"auto"``: CUDA where available, else the CPU; a named CUDA device without CUDA is a
    ConfigError (before anything is trained)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available; use 'cpu'")
    return dev


def rng_devices(dev: torch.device) -> list[int]:
    """The CUDA device whose RNG ``torch.random.fork_rng`` must save and restore (none on the
    CPU)."""
    if dev.type != "cuda":
        return []
    return [dev.index if dev.index is not None else torch.cuda.current_device()]
