"""Scans and kernels the mixers use."""

import functools

import torch


def scan_dtype(dtype) -> torch.dtype:
    """The precision recurrences accumulate in: float64 stays float64; float32,
    bfloat16, float16 (and ``None``) run in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def full_precision(tensor: torch.Tensor):
    """A context with autocast off on ``tensor``'s device: inside it matmuls run in the
    dtype of their inputs, so a scan cast to :func:`scan_dtype` stays there under
    ``torch.autocast`` (which would otherwise run its matmuls, and so its state, in bf16)."""
    return torch.autocast(tensor.device.type, enabled=False)


def without_autocast(fn):
    """Run ``fn`` inside :func:`full_precision` of its first tensor argument."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tensor = next(arg for arg in (*args, *kwargs.values()) if isinstance(arg, torch.Tensor))
        with full_precision(tensor):
            return fn(*args, **kwargs)

    return wrapper
