"""Parity: is the number of ones in the bit string so far odd?

Inputs are bits (tokens 0 and 1, uniform); the target at ``t`` is
``(x_1 + ... + x_t) mod 2``. The smallest non-trivial state-tracking problem
(the group Z2): a diagonal linear recurrence whose transitions depend on the
input but not on the state and are non-negative (minGRU/minLSTM: gates in
(0, 1); diagonal SSMs with positive gates) cannot flip a sign per input, which
is the "Illusion of State" argument
(arXiv 2404.08819) and Grazzi et al. 2024 (negative eigenvalues). An LSTM or
GRU solves it. ``chance_accuracy`` is 1/2. Any length >= 1.
"""

from __future__ import annotations

import torch

from tasks.running import RunningTask

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = "parity (state tracking, Z2): the parity of the ones seen so far, after every bit"


class Parity(RunningTask):
    name = "parity"

    def __init__(self, mode: str = "running"):
        self._set_mode(mode)
        self.vocab_size = 2
        self.chance_accuracy = 0.5
        self.min_len = 1
        self.max_len = None

    def params(self) -> dict:
        return {"mode": self.mode}

    def _inputs(self, generator, batch, seq_len):
        return torch.randint(0, 2, (batch, seq_len), generator=generator)

    def _labels(self, inputs):
        return inputs.cumsum(dim=1) % 2


TASK = Parity
