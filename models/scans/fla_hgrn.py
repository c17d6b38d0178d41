"""minGRU/minLSTM with the scan of flash-linear-attention (``fla-core``): a third-party peer
of the suite's own Triton scan (``triton_scan``), CUDA only.

FLA's HGRN scan, ``fla.ops.hgrn.chunk_hgrn(x, g)``, computes ``h_t = exp(g_t) h_{t-1} + x_t``
per channel (``[B, T, D]``, chunk-parallel Triton kernels, float32 accumulation). Both min-RNNs
are that recurrence with ``g = log a`` and ``x = s g(h~)``: :func:`hgrn_inputs` computes them
with the gate arithmetic of the log-space scan (``log_space.log_gates``), so the gates are the
suite's and only the scan is FLA's; :func:`fla_gated_scan` hands them to ``chunk_hgrn``.

- The initial state is folded into the first input, ``x_1 += a_1 h0`` (exact: ``h_1 = a_1 h0 +
  b_1``), rather than passed as ``initial_state``: ``chunk_hgrn``'s backward returns no gradient
  for ``initial_state`` (fla-core 0.6.0), which would leave a learned ``h0_raw`` untrained.
- FLA's kernels take and return float32 here whatever the projection's dtype: ``h`` comes back
  in :func:`scan_dtype` (float64 for float64 inputs, at float32 precision).
- ``fla`` is imported inside :func:`fla_gated_scan`, on the first call: importing this module,
  or probing the backend for a CPU, never imports it.
"""

from __future__ import annotations

import torch

from models.scans import scan_dtype
from models.scans.log_space import g, log_gates


def hgrn_inputs(projection: torch.Tensor, h0: torch.Tensor | None, hidden: int, kind: str):
    """``(x, g)`` of FLA's HGRN recurrence (``h_t = exp(g_t) h_{t-1} + x_t``, zero initial
    state) for the projection ``[B, T, (2|3) H]`` and initial state ``h0[B, H]`` (or None),
    both ``[B, T, H]`` in :func:`scan_dtype` of the projection: ``g = log a``, ``x = s g(h~)``
    with ``a_1 h0`` added to the first step."""
    projection = projection.to(scan_dtype(projection.dtype))
    log_keep, log_weight = log_gates(projection, hidden, kind)
    x = torch.exp(log_weight) * g(projection[..., :hidden])
    if h0 is not None:
        x = torch.cat([x[:, :1] + (torch.exp(log_keep[:, :1]) * h0.to(x.dtype).unsqueeze(1)), x[:, 1:]], dim=1)
    return x, log_keep


def fla_gated_scan(projection: torch.Tensor, h0: torch.Tensor | None, hidden: int, kind: str) -> torch.Tensor:
    """``h[B, T, H]`` (in :func:`scan_dtype`) by ``fla.ops.hgrn.chunk_hgrn`` on :func:`hgrn_inputs`."""
    from fla.ops.hgrn import chunk_hgrn  # on the first call, never when this module is imported

    x, log_keep = hgrn_inputs(projection, h0, hidden, kind)
    h, _ = chunk_hgrn(x.float(), log_keep.float())
    return h.to(x.dtype)
