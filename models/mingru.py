"""minGRU (Feng et al., 2024, "Were RNNs All We Needed?", Sec. 3.1).

    z_t  = sigmoid(W_z x_t)          update gate: depends on the input only
    h~_t = g(W_h x_t)                candidate (g keeps it positive for log space)
    h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t

Because no gate sees h_{t-1}, the whole sequence is one linear recurrence
h_t = a_t h_{t-1} + b_t with a = 1 - z, b = z g(h~), trained in parallel by one of
three scans (``models/scans/gated.py``): ``triton`` (fused kernels, CUDA),
``linear`` (linear-space, hand-written backward) or ``log`` (the paper's
log-space scan: log a = -softplus(k), log b = -softplus(-k) + log g(W_h x), k = W_z x).
``step`` is the same recurrence one token at a time (inference mode).
The hidden width is ``expansion * d_model``, projected back to ``d_model``.
"""
from __future__ import annotations

import torch
from torch import nn

from models.scans import gated, scan_dtype
from models.scans.log_space import g

DESCRIPTION = "minGRU: input-only update gate, parallel scan (Triton / linear-space / log-space)"
BACKENDS = gated.BACKENDS  # triton (CUDA), linear, log: see models/scans/gated.py
DEFAULTS = {"expansion": 2.0}


def probe(backend: str, device: str) -> str | None:
    return gated.probe(backend, device)


class MinGRU(nn.Module):
    def __init__(self, d_model: int, expansion: float = 2.0, backend: str = "linear"):
        super().__init__()
        self.hidden = int(round(d_model * expansion))
        self.to_hidden_and_gate = nn.Linear(d_model, 2 * self.hidden, bias=False)
        self.to_out = nn.Linear(self.hidden, d_model, bias=False) if self.hidden != d_model else nn.Identity()
        self.backend = backend

    def forward(self, x, state=None, return_state=False):
        # The recurrence runs in float32 (float64 stays) even under bf16 autocast.
        h = gated.recurrence(self.backend, x, self.to_hidden_and_gate.weight, state, self.hidden, "gru")
        out = self.to_out(h.to(x.dtype))
        return (out, h[:, -1].clone()) if return_state else out  # a view would pin all T hidden states

    def init_state(self, batch, device=None, dtype=None):
        return torch.zeros(batch, self.hidden, device=device, dtype=scan_dtype(dtype))

    def step(self, x, state):
        candidate, gate = self.to_hidden_and_gate(x).chunk(2, dim=-1)
        z = torch.sigmoid(gate.to(state.dtype))
        h = (1 - z) * state + z * g(candidate.to(state.dtype))
        return self.to_out(h.to(x.dtype)), h

    def state_elements(self, seq_len: int) -> int:
        return self.hidden


def make_mixer(d_model: int, backend: str, layer_index: int = 0, expansion: float = 2.0) -> nn.Module:
    return MinGRU(d_model, expansion=expansion, backend=backend)
