"""Needle in a haystack: retrieve one key's value from anywhere in a long row.

Vocabulary ``V`` is split into three disjoint ranges (``F = V//2``,
``K = (V - F)//2``):

- filler (the haystack)  ``[0, F)``
- keys                   ``[F, F + K)``
- values                 ``[F + K, V)``

One row of length ``T`` with ``P = num_distractor_pairs + 1`` pairs and
``Q = num_queries`` (default 1)::

    f f k1 v1 f f f ... f k2 v2 f ... f kP vP f f | q1 .. qQ
    \\_______________ haystack: T - Q ______________/  the last Q

- ``P`` key-value pairs (two adjacent tokens each, key then value) sit at
  uniformly random non-overlapping places in the haystack; every other
  haystack position is uniform filler, which never contains a key or a value.
- Keys are distinct inside a row; values are uniform (repeats allowed).
- ``Q`` of the pairs, chosen uniformly, are the needles (so a needle's depth is
  uniform over the haystack); the others are distractors with other keys, so a
  model has to match the key, not just remember "the last value".
- The last ``Q`` inputs are the needles' keys (in a random order); the target
  at each is its value. Only those positions are scored. With one query (the
  default) the sequence score would equal the accuracy, so
  ``has_sequence_score`` is False; it is True for ``Q > 1``. More queries give
  more training signal per row (one scored token per row learns slowly).

``chance_accuracy`` is ``1 / (V - F - K)`` (uniform over the value range).
Lengths: ``T >= 2P + Q``; any length above, generated in O(B·T).
"""

from __future__ import annotations

import torch

from tasks.base import Batch, Task

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = (
    "needle in a haystack: at the end, recall the value paired with the queried key "
    "among distractor pairs in long filler"
)


class Needle(Task):
    name = "needle"
    has_sequence_score = False

    def __init__(self, vocab_size: int = 64, num_distractor_pairs: int = 3, num_queries: int = 1):
        self.vocab_size = int(vocab_size)
        self.num_distractor_pairs = int(num_distractor_pairs)
        self.num_queries = int(num_queries)
        if self.num_distractor_pairs < 0:
            raise ValueError(f"task 'needle' needs num_distractor_pairs >= 0, got {self.num_distractor_pairs}")
        v = self.vocab_size
        self.num_pairs = self.num_distractor_pairs + 1
        if not 1 <= self.num_queries <= self.num_pairs:
            raise ValueError(
                f"task 'needle' needs 1 <= num_queries <= num_distractor_pairs + 1 = {self.num_pairs} "
                f"(each query asks a different pair), got num_queries={self.num_queries}"
            )
        self.has_sequence_score = self.num_queries > 1
        self.num_filler = v // 2
        self.num_keys = (v - self.num_filler) // 2
        self.num_values = v - self.num_filler - self.num_keys
        self.key_start = self.num_filler
        self.value_start = self.num_filler + self.num_keys
        if self.num_keys < self.num_pairs or self.num_values < 2:
            raise ValueError(
                f"task 'needle' with num_distractor_pairs={self.num_distractor_pairs} needs {self.num_pairs} "
                f"distinct keys in [V//2, V//2 + (V - V//2)//2), but vocab_size={v} gives {self.num_keys}; "
                f"use vocab_size >= {max(4 * self.num_pairs, 8)} or fewer num_distractor_pairs"
            )
        self.chance_accuracy = 1.0 / self.num_values
        self.min_len = 2 * self.num_pairs + self.num_queries
        self.max_len = None

    def params(self) -> dict:
        return {
            "vocab_size": self.vocab_size,
            "num_distractor_pairs": self.num_distractor_pairs,
            "num_queries": self.num_queries,
        }

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        self.check_len(seq_len)
        p, q = self.num_pairs, self.num_queries
        haystack = seq_len - q
        # Stars and bars: the haystack is (haystack - 2p) filler items plus p pair items,
        # haystack - p items in all; choose which items are pairs, uniformly.
        slots = torch.rand(batch, haystack - p, generator=generator).topk(p, dim=1).indices.sort(dim=1).values
        starts = slots + torch.arange(p)
        keys = self.key_start + torch.rand(batch, self.num_keys, generator=generator).topk(p, dim=1).indices
        values = torch.randint(self.value_start, self.vocab_size, (batch, p), generator=generator)
        needles = torch.rand(batch, p, generator=generator).topk(q, dim=1).indices
        inputs = torch.randint(0, self.num_filler, (batch, seq_len), generator=generator)
        inputs.scatter_(1, starts, keys)
        inputs.scatter_(1, starts + 1, values)
        inputs[:, haystack:] = keys.gather(1, needles)
        targets = torch.zeros(batch, seq_len, dtype=torch.long)
        targets[:, haystack:] = values.gather(1, needles)
        mask = torch.zeros(batch, seq_len, dtype=torch.bool)
        mask[:, haystack:] = True
        return Batch(inputs, targets, mask)


TASK = Needle
