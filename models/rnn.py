"""The classic gated RNNs, GRU and LSTM, as the baseline minGRU/minLSTM simplify.

GRU (PyTorch's gate order and convention), hidden width d_h:

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)         reset gate
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)         update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))    candidate
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                        state: h

LSTM:

    i_t, f_t, g_t, o_t = split(W_i x_t + b_i + W_h h_{t-1} + b_h)
    c_t = sigmoid(f_t) * c_{t-1} + sigmoid(i_t) * tanh(g_t)
    h_t = sigmoid(o_t) * tanh(c_t)                               state: (h, c)

Every gate reads h_{t-1}, so there is no parallel scan: training is sequential
in T. That is the point of comparison with the min-variants. The output is
``h_t`` (projected back to ``d_model`` when ``hidden`` != ``d_model``).

Backends, in preference order:

- ``cudnn``  — ``nn.GRU``/``nn.LSTM`` on a CUDA device (cuDNN's fused kernel);
- ``native`` — the same module wherever it is (ATen's CPU kernel on CPU); its
  ``backend`` reads ``native-cpu`` there and ``cudnn`` on CUDA with cuDNN on.
  CUDA autocast runs these modules in float16 (not the autocast dtype, whatever
  it is), and the ``backend`` then says so: ``cudnn-float16``;
- ``loop``   — the paper's sequential baseline: ``nn.GRUCell``/``nn.LSTMCell``
  stepped in a Python loop over T. Its weights have the shapes of ``nn.GRU``'s
  layer 0 (``weight_ih``/``weight_hh``/``bias_ih``/``bias_hh``), so the two are
  comparable weight for weight. The loop walks ``x.unbind(1)``: indexing
  ``x[:, t]`` instead would make the backward of every step write its slice
  into a full ``[B, T, D]`` zero gradient, an O(T^2) backward that inflates
  every "vs loop" speed-up at long T (``tests/benchmarks/test_loop_baseline.py``
  times both).

``step`` runs the same module on a length-1 sequence (or the same cell), so it
matches ``forward`` to rounding.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from models.probe import cuda_reason, first_reason

BACKENDS = ("cudnn", "native", "loop")
DEFAULTS = {"hidden": None}  # None: d_h = d_model


def probe(backend: str, device: str) -> str | None:
    if backend == "cudnn":
        return first_reason(
            lambda: cuda_reason(device),
            lambda: None if torch.backends.cudnn.is_available() else "cuDNN is not available in this torch build",
        )
    return None  # native and loop are plain torch: they run everywhere


class RecurrentMixer(nn.Module):
    """A one-layer GRU or LSTM keeping the mixer contract; ``cell`` is ``"gru"`` or ``"lstm"``."""

    def __init__(self, cell: str, d_model: int, hidden: int | None = None, backend: str = "native"):
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', not {cell!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.cell_kind = cell
        self.hidden = int(hidden or d_model)
        self.requested_backend = backend
        self.ran_dtype = None  # the dtype nn.GRU/nn.LSTM last ran in (autocast may change it)
        if backend == "loop":
            self.cell = (nn.GRUCell if cell == "gru" else nn.LSTMCell)(d_model, self.hidden)
        else:
            self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(d_model, self.hidden, batch_first=True)
        self.to_out = nn.Linear(self.hidden, d_model, bias=False) if self.hidden != d_model else nn.Identity()

    @property
    def backend(self) -> str:
        """What runs, read from where the weights are now (the model moves after it is built)."""
        if self.requested_backend == "loop":
            return "loop"
        weight = self.rnn.weight_ih_l0
        if weight.device.type == "cuda" and torch.backends.cudnn.enabled and torch.backends.cudnn.is_available():
            name = "cudnn"
        else:
            name = f"native-{weight.device.type}"
        if self.ran_dtype is not None and self.ran_dtype != weight.dtype:  # autocast casts nn.GRU to float16
            name += "-" + str(self.ran_dtype).removeprefix("torch.")
        return name

    def init_state(self, batch: int, device=None, dtype=None):
        weight = next(self.parameters())
        zeros = torch.zeros(batch, self.hidden, device=device or weight.device, dtype=dtype or weight.dtype)
        return zeros if self.cell_kind == "gru" else (zeros, zeros.clone())

    def _run(self, x: torch.Tensor, state):
        """``x[B, T, D]``, state → hidden outputs ``h[B, T, d_h]``, state after the last token."""
        if state is None:
            state = self.init_state(x.shape[0], device=x.device, dtype=x.dtype)
        if self.cell_kind == "gru":
            state = state.to(x.dtype)
        else:
            state = tuple(part.to(x.dtype) for part in state)
        if self.requested_backend == "loop":
            outputs = []
            for x_t in x.unbind(1):  # one view per step; its backward stacks the T gradients once
                state = self.cell(x_t, state)
                outputs.append(state if self.cell_kind == "gru" else state[0])
            return torch.stack(outputs, dim=1), state
        # nn.GRU / nn.LSTM want states shaped [num_layers=1, B, d_h].
        if self.cell_kind == "gru":
            h, last = self.rnn(x, state.unsqueeze(0))
            self.ran_dtype = h.dtype
            return h, last.squeeze(0)
        h, (last_h, last_c) = self.rnn(x, (state[0].unsqueeze(0), state[1].unsqueeze(0)))
        self.ran_dtype = h.dtype
        return h, (last_h.squeeze(0), last_c.squeeze(0))

    def forward(self, x, state=None, return_state=False):
        h, state = self._run(x, state)
        out = self.to_out(h)
        return (out, state) if return_state else out

    def step(self, x, state):
        h, state = self._run(x.unsqueeze(1), state)
        return self.to_out(h[:, 0]), state

    def state_elements(self, seq_len: int) -> int:
        return self.hidden if self.cell_kind == "gru" else 2 * self.hidden


def _family(cell: str, description: str) -> SimpleNamespace:
    def make_mixer(d_model: int, backend: str, layer_index: int = 0, hidden: int | None = None) -> nn.Module:
        return RecurrentMixer(cell, d_model, hidden=hidden, backend=backend)

    return SimpleNamespace(
        DESCRIPTION=description, BACKENDS=BACKENDS, DEFAULTS=dict(DEFAULTS), probe=probe, make_mixer=make_mixer
    )


VERSION = 1  # of both families here (gru, lstm): bump when their maths changes (suite.registry)
FAMILIES = {
    "gru": _family("gru", "GRU: gates read h_{t-1}, sequential in T (cuDNN / ATen / Python loop)"),
    "lstm": _family("lstm", "LSTM: gates read h_{t-1}, sequential in T (cuDNN / ATen / Python loop)"),
}
