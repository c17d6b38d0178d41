"""minGRU (Feng et al., 2024, "Were RNNs All We Needed?", Sec. 3.1).

    z_t  = sigmoid(W_z x_t + b_z)    update gate: depends on the input only
    h~_t = g(W_h x_t + b_h)          candidate (g keeps it positive for log space)
    h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t          h_0 = 0, or g(h0_raw) (learned)

Because no gate sees h_{t-1}, the whole sequence is one linear recurrence
h_t = a_t h_{t-1} + b_t with a = 1 - z, b = z g(h~), trained in parallel by one of
four scans (``models/scans/gated.py``): ``triton`` (fused kernels, CUDA),
``linear`` (linear-space, hand-written backward), ``log`` (the paper's
log-space scan: log a = -softplus(k), log b = -softplus(-k) + log g(W_h x), k = W_z x)
or ``fla`` (these gates, the scan by flash-linear-attention's ``chunk_hgrn``, CUDA and
``.[cuda]``: a third-party peer of ``triton``, used only when named).
``step`` is the same recurrence one token at a time (inference mode), the suite's own
one line h = (1 - z) h + z g(h~) on every backend, ``fla`` included.
The hidden width is ``expansion * d_model``, projected back to ``d_model`` by ``to_out``
(none when the two are equal).

Options (``DEFAULTS``, keyword arguments of ``make_mixer``):

- ``expansion`` (2.0): hidden width / d_model.
- ``bias`` (False): biases on the input projection (``b_z``, ``b_h``) and on ``to_out``.
- ``learn_init_state`` (False): a learnable ``h0_raw[hidden]``, initialised N(0, 1) as in
  the official code; every sequence started without a state (``forward(x)``,
  ``init_state``) starts from ``g(h0_raw)``, and gradients reach ``h0_raw``.
- ``decay_gates`` (True): False marks the input projection's parameters
  ``_no_weight_decay``, which the optimizer leaves undecayed.

The defaults are lucidrains' minGRU-pytorch (today's behaviour). The official code
(BorealisAI/minRNNs) uses ``bias=True``, a learned initial state and no weight decay on
the input projection: ``family_options={"mingru": {"bias": True, "learn_init_state": True,
"decay_gates": False}}`` in a preset, or ``--set family_options.mingru.bias=true``
(one ``--set`` per option). Every backend implements every option: the bias is part of the
projection and the initial state is the scan's ``h0``.
"""

from __future__ import annotations

import torch
from torch import nn

from models.scans import gated
from models.scans.log_space import g

VERSION = 1  # bump when this family's maths changes: compare warns across versions (suite.registry)
DESCRIPTION = "minGRU: input-only update gate, parallel scan (Triton / linear-space / log-space / FLA)"
BACKENDS = gated.BACKENDS  # triton (CUDA), linear, log, fla (CUDA): see models/scans/gated.py
DEFAULTS = {"expansion": 2.0, "bias": False, "learn_init_state": False, "decay_gates": True}


def probe(backend: str, device: str) -> str | None:
    return gated.probe(backend, device)


class MinGRU(nn.Module):
    def __init__(
        self,
        d_model: int,
        expansion: float = 2.0,
        backend: str = "linear",
        bias: bool = False,
        learn_init_state: bool = False,
        decay_gates: bool = True,
    ):
        super().__init__()
        self.hidden = int(round(d_model * expansion))
        self.to_hidden_and_gate = nn.Linear(d_model, 2 * self.hidden, bias=bias)
        self.to_out = nn.Linear(self.hidden, d_model, bias=bias) if self.hidden != d_model else nn.Identity()
        self.h0_raw = nn.Parameter(torch.randn(self.hidden)) if learn_init_state else None
        if not decay_gates:
            gated.exempt_from_weight_decay(self.to_hidden_and_gate)
        self.backend = backend

    def forward(self, x, state=None, return_state=False):
        if state is None and self.h0_raw is not None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        # The recurrence runs in float32 (float64 stays) even under bf16 autocast.
        projection = self.to_hidden_and_gate
        h = gated.recurrence(self.backend, x, projection.weight, state, self.hidden, "gru", projection.bias)
        out = self.to_out(h.to(x.dtype))
        return (out, h[:, -1].clone()) if return_state else out  # a view would pin all T hidden states

    def init_state(self, batch, device=None, dtype=None):
        return gated.initial_state(self.h0_raw, batch, self.hidden, device, dtype)

    def step(self, x, state):
        candidate, gate = self.to_hidden_and_gate(x).chunk(2, dim=-1)
        z = torch.sigmoid(gate.to(state.dtype))
        h = (1 - z) * state + z * g(candidate.to(state.dtype))
        return self.to_out(h.to(x.dtype)), h

    def state_elements(self, seq_len: int) -> int:
        return self.hidden


def make_mixer(
    d_model: int,
    backend: str,
    layer_index: int = 0,
    expansion: float = 2.0,
    bias: bool = False,
    learn_init_state: bool = False,
    decay_gates: bool = True,
) -> nn.Module:
    return MinGRU(
        d_model,
        expansion=expansion,
        backend=backend,
        bias=bias,
        learn_init_state=learn_init_state,
        decay_gates=decay_gates,
    )
