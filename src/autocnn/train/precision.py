"""Numeric precision of training: bf16 autocast wherever the hardware runs bf16 natively.

Under ``torch.autocast(..., torch.bfloat16)`` convolutions and linear layers take bf16 inputs
and accumulate in fp32, while the weights, the optimizer state, the loss and the gradients
stay fp32 (mixed precision, not bf16 training). CPUs with AVX512-BF16 or AMX (AMD Zen 4+,
Intel Cooper Lake / Sapphire Rapids+) run oneDNN's bf16 kernels at about twice the fp32 rate;
measured on this project's 2-core AMD EPYC (BENCHMARKS §1, "bf16 autocast"): the extended
default 1.8-1.9x and the seed default 1.75x more training images per second, at the same test
accuracy. Without native support oneDNN emulates bf16 and is slower than fp32, so ``"auto"``
asks oneDNN whether it is native.

- ``"auto"``: bf16 on CUDA and on CPUs with native bf16, otherwise fp32;
- ``"fp32"``: never autocast (bit-for-bit what earlier versions computed on the CPU);
- ``"bf16"``: always autocast.

Example:
    >>> import torch
    >>> autocast_dtype(torch.device("cpu"), "fp32") is None
    True
    >>> autocast_dtype(torch.device("cpu"), "bf16")
    torch.bfloat16
    >>> autocast_dtype(torch.device("cpu"), "half")
    Traceback (most recent call last):
    ...
    autocnn.errors.ConfigError: precision must be one of auto, fp32, bf16 (got 'half')
"""

from __future__ import annotations

import functools

import torch

from autocnn.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`; ConfigError otherwise."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    return precision


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The dtype to autocast to on ``device`` (``None``: plain fp32)."""
    check_precision(precision)
    if precision == "fp32":
        return None
    if precision == "bf16" or device.type == "cuda":
        return torch.bfloat16
    return torch.bfloat16 if device.type == "cpu" and native_cpu_bf16() else None


def precision_name(dtype: torch.dtype | None) -> str:
    """What a result records: ``"bf16"`` or ``"fp32"``."""
    return "fp32" if dtype is None else "bf16"


@functools.cache
def native_cpu_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX), not by emulation."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:  # a build without oneDNN
        return False
