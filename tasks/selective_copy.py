"""Selective copying (Mamba §4.1; the minGRU/minLSTM paper's version).

Token layout for vocabulary ``V`` (default 16, as in both papers and the
official minRNN sampler):

- ``0``          the marker: "emit the next copied token now";
- ``1 .. V-2``   the data alphabet (14 symbols at ``V = 16``);
- ``V-1``        noise / blank.

One row of length ``T`` with ``K = num_data_tokens``::

    . . d1 . . . d2 d3 . . . dK .  | 0 0 ... 0
    \\_______ T - K positions ______/   \\_ K _/

The first ``T - K`` positions are blanks with the ``K`` data tokens (uniform
over the alphabet, repeats allowed) at distinct random positions; the last
``K`` positions are markers. At the ``k``-th marker the target is ``d_k``, the
``k``-th data token in order of appearance; those ``K`` positions are scored
and the sequence score is an exact copy of all ``K``.

``chance_accuracy`` is ``1 / (V - 2)`` (uniform over the data alphabet).
Lengths: ``T >= 2K``; at ``T = 2K`` there are no blanks (plain copying).

Differences from the official minRNN sampler (BorealisAI/minRNNs,
``data/selective_copy.py``; the layout, token values, uniform positions and
scored positions are the same):

- ``T`` counts the ``K`` markers. The minRNN sampler's ``sequence_length`` is
  the part before the markers and its rows are ``sequence_length + K`` long:
  its 4096 with 16 data tokens is a row of 4112, while ``T = 4096`` here has 16
  fewer blanks (0.4% of the row; ``T = 4112`` reproduces it).
- It draws from torch's global RNG, seeded once per split; here every batch
  comes from the generator passed to ``sample`` (``tasks.base.stream``).
- It scores a fixed evaluation set generated once from a seed (200 batches of
  64 in its config); here the test batches come from the run's
  ``stream(seed, "test")``, as many as the preset asks.
- Its task is 16 data tokens at 4096; the default here is 4 (the presets set
  ``num_data_tokens``; ``paper-selective-copy`` uses 16 at ``T = 4096``).
"""

from __future__ import annotations

import torch

from tasks.base import Batch, Task

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = (
    "selective copying (Mamba / minRNN): copy the data tokens scattered among blanks, in order, at the markers"
)

MARKER = 0


class SelectiveCopy(Task):
    name = "selective-copy"
    has_sequence_score = True

    def __init__(self, vocab_size: int = 16, num_data_tokens: int = 4):
        self.vocab_size = int(vocab_size)
        self.num_data_tokens = int(num_data_tokens)
        if self.vocab_size < 4:
            raise ValueError(
                f"task 'selective-copy' needs vocab_size >= 4 (marker 0, blank V-1, at least 2 data tokens), "
                f"got {self.vocab_size}"
            )
        if self.num_data_tokens < 1:
            raise ValueError(f"task 'selective-copy' needs num_data_tokens >= 1, got {self.num_data_tokens}")
        self.marker = MARKER
        self.blank = self.vocab_size - 1
        self.num_symbols = self.vocab_size - 2
        self.chance_accuracy = 1.0 / self.num_symbols
        self.min_len = 2 * self.num_data_tokens
        self.max_len = None

    def params(self) -> dict:
        return {"vocab_size": self.vocab_size, "num_data_tokens": self.num_data_tokens}

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        self.check_len(seq_len)
        k = self.num_data_tokens
        body = seq_len - k
        positions = torch.rand(batch, body, generator=generator).topk(k, dim=1).indices.sort(dim=1).values
        data = torch.randint(1, self.vocab_size - 1, (batch, k), generator=generator)
        inputs = torch.full((batch, seq_len), self.blank, dtype=torch.long)
        inputs.scatter_(1, positions, data)
        inputs[:, body:] = self.marker
        targets = torch.zeros(batch, seq_len, dtype=torch.long)
        targets[:, body:] = data
        mask = torch.zeros(batch, seq_len, dtype=torch.bool)
        mask[:, body:] = True
        return Batch(inputs, targets, mask)


TASK = SelectiveCopy
