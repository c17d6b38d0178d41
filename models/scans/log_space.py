"""The paper's log-space parallel scan (its Appendix B; Heinsen, arXiv 2311.06281).

Computes ``h_t = a_t * h_{t-1} + b_t`` for all t at once from ``log a`` and
``log b`` with two prefix sums::

    a*_t   = cumsum(log a)_t                       (with a*_0 = 0)
    log h_t = a*_t + logcumsumexp(log b - a*)_t

``b`` must be positive, which is why minGRU/minLSTM pass candidate values through
``g`` (below) before taking logs. The scan always runs in float32 or float64:
never in bfloat16, whose 8-bit mantissa makes ``exp(a* + ...)`` useless.
``log_gates`` forms ``log a`` and the candidate's log weight from a min-RNN's gate
pre-activations, as the paper's Appendix B does (the ``log`` and ``fla`` backends use it).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from models.scans.linear_space import KINDS


def g(x: torch.Tensor) -> torch.Tensor:
    """Positive activation: ``x + 0.5`` for ``x >= 0``, ``sigmoid(x)`` below."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """``log(g(x))`` computed without forming ``g(x)`` for negative ``x``."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def log_gates(projection: torch.Tensor, hidden: int, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log a, log s)`` from the projection, in its dtype: the keep gate and the candidate's
    weight of ``h_t = a_t h_{t-1} + s_t g(h~_t)`` (``s = 1 - a`` unless ``lstm-unnormalised``)."""
    if kind == "gru":
        gate = projection[..., hidden:]
        return -F.softplus(gate), -F.softplus(-gate)  # log(1 - z), log(z)
    if kind == "lstm":
        forget, inp = projection[..., hidden : 2 * hidden], projection[..., 2 * hidden :]
        diff = F.softplus(-forget) - F.softplus(-inp)
        return -F.softplus(diff), -F.softplus(-diff)  # log f', log i'
    if kind == "lstm-unnormalised":
        forget, inp = projection[..., hidden : 2 * hidden], projection[..., 2 * hidden :]
        return -F.softplus(-forget), -F.softplus(-inp)  # log f, log i
    raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")


def parallel_scan_log(log_coeffs: torch.Tensor, log_values: torch.Tensor, has_initial: bool = True) -> torch.Tensor:
    """``log_coeffs[B, T, D]`` and ``log_values[B, T + 1, D]`` (the first row being
    ``log h_0``) → ``h[B, T, D]``.

    With ``has_initial=False`` the state starts at zero and ``log_values`` has
    only the T rows of ``log b``: the zero state contributes nothing, so no
    ``log 0 = -inf`` row enters the scan (whose backward would turn it into NaN).
    """
    if log_values.dtype not in (torch.float32, torch.float64):
        log_coeffs, log_values = log_coeffs.float(), log_values.float()
    a_star = torch.cumsum(log_coeffs, dim=1)
    if has_initial:
        a_star = F.pad(a_star, (0, 0, 1, 0))
    log_h = a_star + torch.logcumsumexp(log_values - a_star, dim=1)
    return torch.exp(log_h)[:, 1:] if has_initial else torch.exp(log_h)
