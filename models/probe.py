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


@functools.cache
def installed(module: str) -> str | None:
    """The installed version of the package that provides ``module`` (``"present"`` when its
    metadata names none), or ``None`` when it is not installed. Nothing is imported: a package
    can be told present on a machine where importing it would need a GPU."""
    import importlib.metadata
    import importlib.util

    try:
        if importlib.util.find_spec(module) is None:
            return None
    except (ImportError, ValueError):
        return None
    for distribution in importlib.metadata.packages_distributions().get(module, []):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "present"


def cuda_package_reason(device: str, module: str) -> str | None:
    """``cuda_reason(device)``, saying also whether the package behind ``module`` is installed,
    so that a listing on a CPU machine tells "install it" from "it needs the GPU"."""
    reason = cuda_reason(device)
    if reason is None:
        return None
    version = installed(module)
    if version is None:
        return f"{reason}; {module} is not installed either: pip install '.[cuda]'"
    return f"{reason} ({module} {version} is installed)"


def first_reason(*checks) -> str | None:
    """Run the checks (callables returning ``None`` or a reason) in order and stop at
    the first reason, so a package is never imported for a device that cannot run it."""
    for check in checks:
        reason = check()
        if reason:
            return reason
    return None
