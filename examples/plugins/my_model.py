"""A model plugin to copy: per channel h_t = a * h_{t-1} + (1 - a) * W x_t, y_t = U h_t. Run it with
python -m suite run --plugin examples/plugins/my_model.py --models my-ema,mingru --preset tiny
"""

import torch
from torch import nn

from suite import register_model


class MovingAverage(nn.Module):
    def __init__(self, d_model: int, backend: str, decay_logit: float):
        super().__init__()
        self.backend = backend  # names the implementation that actually runs
        self.d_model, self.inp, self.out = d_model, nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.decay_logit = nn.Parameter(torch.full((d_model,), float(decay_logit)))

    def init_state(self, batch, device=None, dtype=None):  # the state before any token
        return torch.zeros(batch, self.d_model, device=device, dtype=dtype)

    def step(self, x, state):  # one token: x [B, D] -> (y [B, D], state)
        decay = torch.sigmoid(self.decay_logit)
        state = decay * state + (1 - decay) * self.inp(x)
        return self.out(state), state

    def forward(self, x, state=None, return_state=False):  # x [B, T, D] -> y [B, T, D] (, state)
        state = self.init_state(x.shape[0], x.device, x.dtype) if state is None else state
        outputs = []
        for t in range(x.shape[1]):  # a Python loop: simple, and slow at long lengths
            y_t, state = self.step(x[:, t], state)
            outputs.append(y_t)
        y = torch.stack(outputs, dim=1)
        return (y, state) if return_state else y

    def state_elements(self, seq_len):  # numbers of state per sequence after seq_len tokens
        return self.d_model


register_model(
    "my-ema",
    lambda d_model, backend, layer_index, **config: MovingAverage(d_model, backend, **config),
    backends=("loop",),
    defaults={"decay_logit": 2.0},
    description="gated moving average (example plugin)",
)
