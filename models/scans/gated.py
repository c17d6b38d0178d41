"""The ways to run the min-RNN recurrence, behind one call.

``recurrence(backend, x, weight, h0, hidden, kind, bias=None)`` → ``h[B, T, H]`` in
float32 (float64 for float64 inputs) from the layer input and its input projection
(``weight`` and optional ``bias``; ``scan_projection`` takes the projection ready-made),
for ``backend`` in:

- ``triton``: fused Triton kernels (``triton_scan``), CUDA only;
- ``linear``: linear-space chunked scan with a hand-written backward (``linear_space``);
- ``log``: the paper's log-space scan (``log_space``), kept as the faithful reference;
- ``fla``: the gates of ``log``, the scan by flash-linear-attention's ``chunk_hgrn``
  (``fla_hgrn``), CUDA only: a third-party peer of ``triton``, never chosen by default.

``kind`` is the gate arithmetic (``KINDS``), the same on every backend:

- ``gru``: ``a = 1 - sigmoid(k)``, ``b = sigmoid(k) g(c)``;
- ``lstm``: ``a = f / (f + i)``, ``b = i / (f + i) g(c)`` with ``f, i = sigmoid(k_f), sigmoid(k_i)``;
- ``lstm-unnormalised``: ``a = f``, ``b = i g(c)`` (the official code's ``use_coeff_norm=False``).

Biases and a learnable initial state live outside the scans: the bias is part of the
projection, the initial state is ``h0``. ``probe(backend, device)`` says why a backend
cannot run here (``None`` if it can). ``initial_state`` (zeros or a learned ``g(h0_raw)``)
and ``exempt_from_weight_decay`` (``decay_gates=False``) serve the options minGRU and
minLSTM share.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from models.probe import cuda_reason, first_reason, import_reason
from models.scans import linear_space, scan_dtype
from models.scans.linear_space import KINDS
from models.scans.log_space import g, log_g, log_gates, parallel_scan_log

# Preference order: the first that runs is the default. ``fla`` comes last, so a bare
# ``mingru``/``minlstm`` never runs the third-party package: it is asked for by name.
BACKENDS = ("triton", "linear", "log", "fla")


def probe(backend: str, device: str) -> str | None:
    if backend == "triton":
        return first_reason(lambda: cuda_reason(device), lambda: import_reason("triton"))
    if backend == "fla":
        return first_reason(lambda: cuda_reason(device), lambda: import_reason("fla.ops.hgrn"))
    return None  # linear and log are plain torch: they run everywhere


def log_scan(projection: torch.Tensor, h0, hidden: int, kind: str) -> torch.Tensor:
    """The paper's Appendix B: log a, log b from the gates, then ``parallel_scan_log``."""
    projection = projection.to(scan_dtype(projection.dtype))
    log_coeffs, log_weights = log_gates(projection, hidden, kind)
    log_values = log_weights + log_g(projection[..., :hidden])  # log s + log g(h~)
    if h0 is None:
        return parallel_scan_log(log_coeffs, log_values, has_initial=False)
    log_values = torch.cat([torch.log(h0).unsqueeze(1).to(log_values.dtype), log_values], dim=1)
    return parallel_scan_log(log_coeffs, log_values)


def recurrence(
    backend: str, x: torch.Tensor, weight: torch.Tensor, h0, hidden: int, kind: str, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """``h`` of the layer: ``weight`` is the input projection's ``[(2|3) H, D]`` (candidate rows first),
    ``bias`` its ``[(2|3) H]`` or None. The linear backend projects each gate on its own, so every
    tensor it touches is contiguous (strided gate views cost its elementwise CPU kernels up to
    twice the time)."""
    if backend == "linear":
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
        biases = bias.split(hidden) if bias is not None else (None,) * (weight.shape[0] // hidden)
        pieces = (F.linear(x, rows, row_bias) for rows, row_bias in zip(weight.split(hidden), biases))
        return linear_space.gated_scan(h0, *pieces, normalised=kind != "lstm-unnormalised")
    return scan_projection(backend, F.linear(x, weight, bias), h0, hidden, kind)


def scan_projection(backend: str, projection: torch.Tensor, h0, hidden: int, kind: str) -> torch.Tensor:
    """``h`` from the projection ``[B, T, (2|3) H]`` (candidate, gate | candidate, forget, input)."""
    if backend == "linear":
        return linear_space.gated_scan_projection(projection, h0, hidden, kind)
    if backend == "log":
        return log_scan(projection, h0, hidden, kind)
    if backend == "triton":
        from models.scans.triton_scan import triton_gated_scan  # imports triton: only when asked for

        return triton_gated_scan(projection, h0, hidden, kind)
    if backend == "fla":
        from models.scans.fla_hgrn import fla_gated_scan  # imports fla: only when asked for

        return fla_gated_scan(projection, h0, hidden, kind)
    raise ValueError(f"unknown min-RNN scan backend {backend!r}: known {', '.join(BACKENDS)}")


def initial_state(h0_raw: torch.Tensor | None, batch: int, hidden: int, device=None, dtype=None) -> torch.Tensor:
    """The state before any token, in :func:`scan_dtype` of ``dtype``: zeros, or ``g(h0_raw)``
    (a learnable ``[hidden]`` parameter, positive through ``g`` as the log-space scan needs)
    for every sequence of the batch. A new tensor, in the graph of ``h0_raw``."""
    dtype = scan_dtype(dtype)
    if h0_raw is None:
        return torch.zeros(batch, hidden, device=device, dtype=dtype)
    return g(h0_raw.to(device=device, dtype=dtype)).expand(batch, hidden).clone()


def exempt_from_weight_decay(module: nn.Module) -> None:
    """Mark every parameter of ``module`` ``_no_weight_decay = True``: the optimizer
    (``suite.measure.train.make_optimizer``) leaves such parameters undecayed."""
    for parameter in module.parameters():
        parameter._no_weight_decay = True
