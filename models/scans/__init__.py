"""Scans and kernels the mixers use."""
import torch


def scan_dtype(dtype) -> torch.dtype:
    """The precision recurrences accumulate in: float64 stays float64; float32,
    bfloat16, float16 (and ``None``) run in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32
