"""Running modular addition: the sum so far modulo ``modulus``.

Inputs are numbers ``0 .. modulus-1`` (uniform); the target at ``t`` is
``(x_1 + ... + x_t) mod modulus`` (the cyclic group Z_m; a simplification of
Delétang et al.'s modular arithmetic, without brackets or other operators).
``chance_accuracy`` is ``1 / modulus``. Any length.
"""

from __future__ import annotations

import torch

from tasks.running import RunningTask

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = "running sum mod m (state tracking, Z_m): the sum of the numbers so far modulo 5"


class ModularArith(RunningTask):
    name = "modular-arith"

    def __init__(self, modulus: int = 5, mode: str = "running"):
        self._set_mode(mode)
        self.modulus = int(modulus)
        if self.modulus < 2:
            raise ValueError(f"task 'modular-arith' needs modulus >= 2, got {self.modulus}")
        self.vocab_size = self.modulus
        self.chance_accuracy = 1.0 / self.modulus
        self.min_len = 1
        self.max_len = None

    def params(self) -> dict:
        return {"modulus": self.modulus, "mode": self.mode}

    def _inputs(self, generator, batch, seq_len):
        return torch.randint(0, self.modulus, (batch, seq_len), generator=generator)

    def _labels(self, inputs):
        return inputs.cumsum(dim=1) % self.modulus


TASK = ModularArith
