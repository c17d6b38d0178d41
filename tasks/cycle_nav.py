"""Cycle navigation (Delétang et al. 2023, "Neural Networks and the Chomsky Hierarchy").

An agent starts at position 0 of a cycle of ``cycle_len`` positions (5 by
default). Each input token is a move: 0 = step back (-1), 1 = stay, 2 = step
forward (+1), uniform. The target at ``t`` is the position after the first
``t`` moves, ``(sum of moves) mod cycle_len``. A regular language (the group
Z5). Tokens: moves use 0..2, positions 0..cycle_len-1 (shared vocabulary of
``max(3, cycle_len)``); ``chance_accuracy`` is ``1 / cycle_len``. Any length.
"""

from __future__ import annotations

import torch

from tasks.running import RunningTask

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = "cycle navigation (state tracking, Z5): position on a cycle of 5 after -1/0/+1 moves"


class CycleNav(RunningTask):
    name = "cycle-nav"

    def __init__(self, cycle_len: int = 5, mode: str = "running"):
        self._set_mode(mode)
        self.cycle_len = int(cycle_len)
        if self.cycle_len < 3:
            raise ValueError(f"task 'cycle-nav' needs cycle_len >= 3, got {self.cycle_len}")
        self.vocab_size = max(3, self.cycle_len)
        self.chance_accuracy = 1.0 / self.cycle_len
        self.min_len = 1
        self.max_len = None

    def params(self) -> dict:
        return {"cycle_len": self.cycle_len, "mode": self.mode}

    def _inputs(self, generator, batch, seq_len):
        return torch.randint(0, 3, (batch, seq_len), generator=generator)

    def _labels(self, inputs):
        return (inputs - 1).cumsum(dim=1) % self.cycle_len


TASK = CycleNav
