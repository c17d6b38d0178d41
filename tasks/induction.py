"""Induction heads (Olsson et al. 2022; the H3/Zoology "induction head" task).

A row of random tokens from ``1 .. V-1`` in which the trigger token 0 occurs
twice: once at a random position ``p`` in the first half, followed by a
random token ``v``, and once more at the last position. The target at the
last position is ``v``: "after the trigger, predict what followed its previous
occurrence". Only that position is scored. The trigger never occurs
elsewhere; ``v`` may also occur elsewhere (it is a random token).
``chance_accuracy`` is ``1 / (V - 1)``. Lengths ``T >= 4``.
"""

from __future__ import annotations

import torch

from tasks.base import Batch, Task

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = "induction head: after the trigger token, predict the token that followed its earlier occurrence"

TRIGGER = 0


class Induction(Task):
    name = "induction"
    has_sequence_score = False

    def __init__(self, vocab_size: int = 32):
        self.vocab_size = int(vocab_size)
        if self.vocab_size < 3:
            raise ValueError(f"task 'induction' needs vocab_size >= 3, got {self.vocab_size}")
        self.chance_accuracy = 1.0 / (self.vocab_size - 1)
        self.min_len = 4
        self.max_len = None

    def params(self) -> dict:
        return {"vocab_size": self.vocab_size}

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        self.check_len(seq_len)
        inputs = torch.randint(1, self.vocab_size, (batch, seq_len), generator=generator)
        first = torch.randint(0, max(1, (seq_len - 2) // 2), (batch,), generator=generator)
        rows = torch.arange(batch)
        inputs[rows, first] = TRIGGER
        inputs[:, -1] = TRIGGER
        targets = torch.zeros(batch, seq_len, dtype=torch.long)
        targets[:, -1] = inputs[rows, first + 1]
        mask = torch.zeros(batch, seq_len, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(inputs, targets, mask)


TASK = Induction
