"""Bucket sort (Delétang et al. 2023): emit the input symbols in sorted order.

Token layout for vocabulary ``V`` (``num_symbols + 2``)::

    [pad] d_1 d_2 ... d_n | s s ... s
          \\__ n data __/   \\_ n markers _/

with ``n = T // 2`` data symbols (tokens ``2 .. V-1``, uniform, repeats
allowed), then ``n`` markers (token 1); an odd ``T`` starts with one pad
(token 0). At the ``k``-th marker the target is the ``k``-th smallest data
symbol; those ``n`` positions are scored and the sequence score is the whole
sorted output. Solvable with a counter per symbol (a bounded state suffices
for a fixed length, but the counts grow with ``T``). ``chance_accuracy`` is
``1 / num_symbols``. Lengths ``T >= 2``.
"""

from __future__ import annotations

import torch

from tasks.base import Batch, Task

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = "bucket sort (counting): after the data, output its symbols in sorted order at the markers"

PAD, MARKER = 0, 1


class BucketSort(Task):
    name = "bucket-sort"
    has_sequence_score = True

    def __init__(self, num_symbols: int = 5):
        self.num_symbols = int(num_symbols)
        if self.num_symbols < 2:
            raise ValueError(f"task 'bucket-sort' needs num_symbols >= 2, got {self.num_symbols}")
        self.vocab_size = self.num_symbols + 2
        self.chance_accuracy = 1.0 / self.num_symbols
        self.min_len = 2
        self.max_len = None

    def params(self) -> dict:
        return {"num_symbols": self.num_symbols}

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        self.check_len(seq_len)
        n = seq_len // 2
        offset = seq_len - 2 * n
        data = torch.randint(2, self.vocab_size, (batch, n), generator=generator)
        inputs = torch.full((batch, seq_len), PAD, dtype=torch.long)
        inputs[:, offset : offset + n] = data
        inputs[:, offset + n :] = MARKER
        targets = torch.zeros(batch, seq_len, dtype=torch.long)
        targets[:, offset + n :] = data.sort(dim=1).values
        mask = torch.zeros(batch, seq_len, dtype=torch.bool)
        mask[:, offset + n :] = True
        return Batch(inputs, targets, mask)


TASK = BucketSort
