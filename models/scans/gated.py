"""The three ways to run the min-RNN recurrence, behind one call.

``recurrence(backend, x, weight, h0, hidden, kind)`` → ``h[B, T, H]`` in float32
(float64 for float64 inputs) from the layer input and its input-projection
weight (``scan_projection`` takes the projection ready-made), for ``backend`` in:

- ``triton``: fused Triton kernels (``triton_scan``), CUDA only;
- ``linear``: linear-space chunked scan with a hand-written backward (``linear_space``);
- ``log``: the paper's log-space scan (``log_space``), kept as the faithful reference.

``probe(backend, device)`` says why a backend cannot run here (``None`` if it can).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from models.probe import cuda_reason, first_reason, import_reason
from models.scans import linear_space, scan_dtype
from models.scans.log_space import log_g, parallel_scan_log

BACKENDS = ("triton", "linear", "log")  # preference order: the first that runs is the default


def probe(backend: str, device: str) -> str | None:
    if backend == "triton":
        return first_reason(lambda: cuda_reason(device), lambda: import_reason("triton"))
    return None  # linear and log are plain torch: they run everywhere


def log_scan(projection: torch.Tensor, h0, hidden: int, kind: str) -> torch.Tensor:
    """The paper's Appendix B: log a, log b from the gates, then ``parallel_scan_log``."""
    projection = projection.to(scan_dtype(projection.dtype))
    candidate = projection[..., :hidden]
    if kind == "gru":
        gate = projection[..., hidden:]
        log_coeffs = -F.softplus(gate)                       # log(1 - z)
        log_values = -F.softplus(-gate) + log_g(candidate)   # log(z) + log(g(h~))
    else:
        forget, inp = projection[..., hidden:2 * hidden], projection[..., 2 * hidden:]
        diff = F.softplus(-forget) - F.softplus(-inp)
        log_coeffs = -F.softplus(diff)                       # log f'
        log_values = -F.softplus(-diff) + log_g(candidate)   # log i' + log g(h~)
    if h0 is None:
        return parallel_scan_log(log_coeffs, log_values, has_initial=False)
    log_values = torch.cat([torch.log(h0).unsqueeze(1).to(log_values.dtype), log_values], dim=1)
    return parallel_scan_log(log_coeffs, log_values)


def recurrence(backend: str, x: torch.Tensor, weight: torch.Tensor, h0, hidden: int, kind: str) -> torch.Tensor:
    """``h`` of the layer: ``weight`` is the input projection's ``[(2|3) H, D]`` (candidate rows first).
    The linear backend projects each gate on its own, so every tensor it touches is contiguous
    (strided gate views cost its elementwise CPU kernels up to twice the time)."""
    if backend == "linear":
        return linear_space.gated_scan(h0, *(F.linear(x, rows) for rows in weight.split(hidden)))
    return scan_projection(backend, F.linear(x, weight), h0, hidden, kind)


def scan_projection(backend: str, projection: torch.Tensor, h0, hidden: int, kind: str) -> torch.Tensor:
    """``h`` from the projection ``[B, T, (2|3) H]`` (candidate, gate | candidate, forget, input)."""
    if backend == "linear":
        return linear_space.gated_scan_projection(projection, h0, hidden, kind)
    if backend == "log":
        return log_scan(projection, h0, hidden, kind)
    if backend == "triton":
        from models.scans.triton_scan import triton_gated_scan  # imports triton: only when asked for
        return triton_gated_scan(projection, h0, hidden, kind)
    raise ValueError(f"unknown min-RNN scan backend {backend!r}: known {', '.join(BACKENDS)}")
