"""minLSTM (Feng et al., 2024, Sec. 3.2), with the length-independence scaling.

    f_t  = sigmoid(W_f x_t)     i_t = sigmoid(W_i x_t)     h~_t = g(W_h x_t)
    f'_t = f_t / (f_t + i_t)    i'_t = i_t / (f_t + i_t)
    h_t  = f'_t * h_{t-1} + i'_t * h~_t

No output gate; the cell state is the hidden state. Trained by the same
three scans as minGRU (``models/scans/gated.py``): ``triton``, ``linear``, or
the paper's log space (its Appendix B): diff = softplus(-k_f) - softplus(-k_i),
log f' = -softplus(diff), log i' = -softplus(-diff).
"""
from __future__ import annotations

import torch
from torch import nn

from models.scans import gated, scan_dtype
from models.scans.log_space import g

DESCRIPTION = "minLSTM: input-only forget/input gates normalised to sum 1, parallel scan (Triton / linear-space / log-space)"
BACKENDS = gated.BACKENDS  # triton (CUDA), linear, log: see models/scans/gated.py
DEFAULTS = {"expansion": 2.0}


def probe(backend: str, device: str) -> str | None:
    return gated.probe(backend, device)


class MinLSTM(nn.Module):
    def __init__(self, d_model: int, expansion: float = 2.0, backend: str = "linear"):
        super().__init__()
        self.hidden = int(round(d_model * expansion))
        self.to_hidden_and_gates = nn.Linear(d_model, 3 * self.hidden, bias=False)
        self.to_out = nn.Linear(self.hidden, d_model, bias=False) if self.hidden != d_model else nn.Identity()
        self.backend = backend

    def forward(self, x, state=None, return_state=False):
        # The recurrence runs in float32 (float64 stays) even under bf16 autocast.
        h = gated.recurrence(self.backend, x, self.to_hidden_and_gates.weight, state, self.hidden, "lstm")
        out = self.to_out(h.to(x.dtype))
        return (out, h[:, -1].clone()) if return_state else out  # a view would pin all T hidden states

    def init_state(self, batch, device=None, dtype=None):
        return torch.zeros(batch, self.hidden, device=device, dtype=scan_dtype(dtype))

    def step(self, x, state):
        candidate, forget, inp = self.to_hidden_and_gates(x).to(state.dtype).chunk(3, dim=-1)
        f, i = torch.sigmoid(forget), torch.sigmoid(inp)
        h = (f * state + i * g(candidate)) / (f + i)
        return self.to_out(h.to(x.dtype)), h

    def state_elements(self, seq_len: int) -> int:
        return self.hidden


def make_mixer(d_model: int, backend: str, layer_index: int = 0, expansion: float = 2.0) -> nn.Module:
    return MinLSTM(d_model, expansion=expansion, backend=backend)
