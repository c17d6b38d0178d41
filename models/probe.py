"""Lazy probes for the optional GPU packages.

Nothing here imports ``mamba_ssm``, ``flash_attn`` or ``triton`` at import time.
Each probe tries the import once, on first use, and returns ``None`` when the
package is usable or a one-line reason when it is not; the reason ends up in a
``skipped`` record, never in a silent swap of implementation.
"""

from __future__ import annotations

import functools
import importlib


@functools.cache
def import_reason(module: str) -> str | None:
    """``None`` if ``module`` imports, else why not (one line)."""
    try:
        importlib.import_module(module)
    except Exception as error:  # ImportError, but also CUDA/ABI errors raised on import
        first_line = (str(error).strip().splitlines() or [""])[0]
        return f"{module} does not import here ({type(error).__name__}: {first_line[:160]})"
    return None


def cuda_reason(device: str) -> str | None:
    """``None`` if ``device`` is a CUDA device that torch can use, else why not."""
    import torch

    if not str(device).startswith("cuda"):
        return f"needs a CUDA device, this cell runs on {device}"
    if not torch.cuda.is_available():
        return "needs CUDA, but torch.cuda.is_available() is False"
    return None


def first_reason(*checks) -> str | None:
    """Run the checks (callables returning ``None`` or a reason) in order and stop at
    the first reason, so a package is never imported for a device that cannot run it."""
    for check in checks:
        reason = check()
        if reason:
            return reason
    return None
