"""Running majority: the most frequent symbol so far.

Inputs are symbols ``0 .. num_symbols-1`` (uniform); the target at ``t`` is
the symbol with the highest count in ``x_1 .. x_t``, ties going to the
smallest symbol (Delétang et al.'s "majority", scored after every prefix).
Needs unbounded counters in principle, but at a given length a counter per
symbol up to ``T`` suffices. ``chance_accuracy`` is ``1 / num_symbols``.
Any length.
"""

from __future__ import annotations

import torch

from tasks.running import RunningTask

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = "running majority (counting): the most frequent of 3 symbols so far, ties to the smallest"


class Majority(RunningTask):
    name = "majority"

    def __init__(self, num_symbols: int = 3, mode: str = "running"):
        self._set_mode(mode)
        self.num_symbols = int(num_symbols)
        if self.num_symbols < 2:
            raise ValueError(f"task 'majority' needs num_symbols >= 2, got {self.num_symbols}")
        self.vocab_size = self.num_symbols
        self.chance_accuracy = 1.0 / self.num_symbols
        self.min_len = 1
        self.max_len = None

    def params(self) -> dict:
        return {"num_symbols": self.num_symbols, "mode": self.mode}

    def _inputs(self, generator, batch, seq_len):
        return torch.randint(0, self.num_symbols, (batch, seq_len), generator=generator)

    def _labels(self, inputs):
        counts = torch.nn.functional.one_hot(inputs, self.num_symbols).cumsum(dim=1)  # [B, T, K]
        # argmax returns the first maximum: ties go to the smallest symbol
        return counts.argmax(dim=-1)


TASK = Majority
