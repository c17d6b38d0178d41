"""minLSTM (Feng et al., 2024, Sec. 3.2), with the length-independence scaling.

    f_t  = sigmoid(W_f x_t + b_f)     i_t = sigmoid(W_i x_t + b_i)     h~_t = g(W_h x_t + b_h)
    f'_t = f_t / (f_t + i_t)          i'_t = i_t / (f_t + i_t)          (gate_norm=True)
    h_t  = f'_t * h_{t-1} + i'_t * h~_t                                h_0 = 0, or g(h0_raw)

With ``gate_norm=False`` (the official code's ``use_coeff_norm=False``) the gates stay
free: h_t = f_t * h_{t-1} + i_t * h~_t. No output gate; the cell state is the hidden
state. Trained by the same four scans as minGRU (``models/scans/gated.py``): ``triton``,
``linear``, the paper's log space (its Appendix B): diff = softplus(-k_f) - softplus(-k_i),
log f' = -softplus(diff), log i' = -softplus(-diff); without the normalisation
log f = -softplus(-k_f), log i = -softplus(-k_i) (scan kind ``lstm-unnormalised``), or ``fla``
(those log-space gates, the scan by flash-linear-attention's ``chunk_hgrn``, CUDA and
``.[cuda]``: a third-party peer of ``triton``, used only when named). ``step`` is the suite's own
one line h = f' h + i' g(h~) (or f h + i g(h~)) on every backend, ``fla`` included.

Options (``DEFAULTS``, keyword arguments of ``make_mixer``):

- ``expansion`` (2.0): hidden width / d_model.
- ``bias`` (False): biases on the input projection (``b_h``, ``b_f``, ``b_i``) and on ``to_out``.
- ``learn_init_state`` (False): a learnable ``h0_raw[hidden]``, initialised N(0, 1) as in
  the official code; every sequence started without a state (``forward(x)``,
  ``init_state``) starts from ``g(h0_raw)``, and gradients reach ``h0_raw``.
- ``forget_bias`` (0.0): added to ``b_f`` after its default initialisation (a larger
  value keeps more of h_{t-1} early in training). It needs ``bias=True``: a non-zero
  ``forget_bias`` without it is refused with a ValueError, never silently dropped.
- ``gate_norm`` (True): the f/(f+i), i/(f+i) normalisation above; False: free gates.
- ``decay_gates`` (True): False marks the input projection's parameters
  ``_no_weight_decay``, which the optimizer leaves undecayed.

The defaults are lucidrains' minGRU-pytorch minLSTM (today's behaviour). The official
code (BorealisAI/minRNNs) and its configs use ``bias=True``, a learned initial state,
``forget_bias=3``, ``gate_norm=False`` and no weight decay on the input projection:
``family_options={"minlstm": {"bias": True, "learn_init_state": True, "forget_bias": 3.0,
"gate_norm": False, "decay_gates": False}}`` in a preset, or on the command line
``--set family_options.minlstm.gate_norm=false`` (one ``--set`` per option). Every backend
implements every option (the bias is part of the projection, the initial state is the
scan's ``h0``, and each scan has the ``lstm-unnormalised`` kind).
"""

from __future__ import annotations

import torch
from torch import nn

from models.scans import gated
from models.scans.log_space import g

VERSION = 1  # bump when this family's maths changes: compare warns across versions (suite.registry)
DESCRIPTION = (
    "minLSTM: input-only forget/input gates (normalised to sum 1 unless gate_norm=false), "
    "parallel scan (Triton / linear-space / log-space / FLA)"
)
BACKENDS = gated.BACKENDS  # triton (CUDA), linear, log, fla (CUDA): see models/scans/gated.py
DEFAULTS = {
    "expansion": 2.0,
    "bias": False,
    "learn_init_state": False,
    "forget_bias": 0.0,
    "gate_norm": True,
    "decay_gates": True,
}


def probe(backend: str, device: str) -> str | None:
    return gated.probe(backend, device)


class MinLSTM(nn.Module):
    def __init__(
        self,
        d_model: int,
        expansion: float = 2.0,
        backend: str = "linear",
        bias: bool = False,
        learn_init_state: bool = False,
        forget_bias: float = 0.0,
        gate_norm: bool = True,
        decay_gates: bool = True,
    ):
        super().__init__()
        if forget_bias and not bias:
            raise ValueError(
                f"minLSTM forget_bias={forget_bias} is added to the forget gate's bias: it needs bias=True"
            )
        self.hidden = int(round(d_model * expansion))
        self.to_hidden_and_gates = nn.Linear(d_model, 3 * self.hidden, bias=bias)
        if forget_bias:
            with torch.no_grad():
                self.to_hidden_and_gates.bias[self.hidden : 2 * self.hidden].add_(forget_bias)
        self.to_out = nn.Linear(self.hidden, d_model, bias=bias) if self.hidden != d_model else nn.Identity()
        self.h0_raw = nn.Parameter(torch.randn(self.hidden)) if learn_init_state else None
        if not decay_gates:
            gated.exempt_from_weight_decay(self.to_hidden_and_gates)
        self.gate_norm = gate_norm
        self.kind = "lstm" if gate_norm else "lstm-unnormalised"
        self.backend = backend

    def forward(self, x, state=None, return_state=False):
        if state is None and self.h0_raw is not None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        # The recurrence runs in float32 (float64 stays) even under bf16 autocast.
        projection = self.to_hidden_and_gates
        h = gated.recurrence(self.backend, x, projection.weight, state, self.hidden, self.kind, projection.bias)
        out = self.to_out(h.to(x.dtype))
        return (out, h[:, -1].clone()) if return_state else out  # a view would pin all T hidden states

    def init_state(self, batch, device=None, dtype=None):
        return gated.initial_state(self.h0_raw, batch, self.hidden, device, dtype)

    def step(self, x, state):
        candidate, forget, inp = self.to_hidden_and_gates(x).to(state.dtype).chunk(3, dim=-1)
        f, i = torch.sigmoid(forget), torch.sigmoid(inp)
        h = f * state + i * g(candidate)
        if self.gate_norm:
            h = h / (f + i)
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
    forget_bias: float = 0.0,
    gate_norm: bool = True,
    decay_gates: bool = True,
) -> nn.Module:
    return MinLSTM(
        d_model,
        expansion=expansion,
        backend=backend,
        bias=bias,
        learn_init_state=learn_init_state,
        forget_bias=forget_bias,
        gate_norm=gate_norm,
        decay_gates=decay_gates,
    )
