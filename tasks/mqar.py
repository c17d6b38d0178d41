"""Multi-query associative recall (MQAR), as Zoology defines it.

One row of length ``T`` over vocabulary ``V`` with ``n = num_kv_pairs``::

    k1 v1 k2 v2 ... kn vn | f f q f f f f q f ... f
    \\___ context: 2n ___/   \\______ query region: T - 2n ______/

- Keys come from ``[1, V//2)`` and values from ``[V//2, V)`` (disjoint halves;
  0 is never a key). Inside a row the keys are distinct and so are the values,
  so each key and each value occurs exactly once in the context.
- The query region holds the ``n`` keys again, in a random order, at offsets
  ``2*g`` from its start. The gaps ``g`` are drawn without replacement from
  ``{0, ..., (T-2n)//2 - 1}`` with ``p(g) ∝ a·(g+1)^(a-1)`` (``a = power_a``,
  Zoology's 0.01): most queries sit near the context, a long tail far away.
- Every other query-region position is filler: a uniform token from the whole
  vocabulary (Zoology's ``random_non_queries``) or 0 with ``random_filler=False``.
  Filler can therefore repeat a key or a value; only real queries are scored.
- The target at a query position is that key's value (the model sees the
  query key at ``t`` and must emit the value at ``t``); only those ``n``
  positions per row are scored. The value is never shown after its query.

``chance_accuracy`` is ``1 / (V - V//2)``: a uniform guess over the value half.
(Guessing uniformly among the ``n`` values present in the row would score
``1/n``; that is the bar a model that copies "some value" clears.)
Lengths: ``T >= 4n`` (Zoology's assertion), any length above.

Regime: Zoology asserts ``V > T`` and uses ``V = 8192``, so a filler token
almost never repeats the queried key. At small vocabularies it does: the key
then also occurs in the filler before its query, followed by a random token, a
second "pair" for that key that a model storing every bigram must ignore.
``diagnostics(T)["key_in_filler_rate"]`` measures the fraction of queries
where that happens (over the fixed diagnostic batches of ``tasks.base``): about
0.28 at ``V = 32`` and 0.16 at ``V = 64`` (``T = 64``, 4 pairs: the ``cpu``
and ``smoke`` presets), 0.005 at ``V = 8192`` (``T = 256``, 32 pairs), 0 with
``random_filler=False``. Results at ``V <= 64`` are therefore not comparable
with published MQAR numbers.

Other differences from Zoology's ``multiquery_ar`` (``zoology/data``; the
same generator as its older ``associative_recall.py``):

- Zoology asserts ``T`` even and ``V > T``; here any ``T >= 4n`` and any
  ``V >= 2n + 2`` are allowed (an odd ``T`` leaves its last position filler).
- Zoology builds finite data sets once (100,000 training rows per segment,
  1,000-3,000 test rows, numpy's and torch's global RNGs seeded per segment)
  and trains for epochs over them; here every batch is fresh, from one
  ``torch.Generator``. Its default data seed is 123.
- Zoology trains one model on a list of (``T``, ``n``) segments, in order, and
  tests on several; here a cell has one ``T`` and one ``n``.
- ``num_passes`` (the key-value context repeated, for JRT) is not supported.
- Zoology's ICLR'24 Figure 2 configs set ``random_non_queries=False`` (zero
  filler, ``random_filler=False`` here); its ``original_mqar_configs`` keep
  the default ``True``, as here.
- Zoology scores ``argmax`` over the whole vocabulary and averages accuracy per
  row, then over rows; with ``n`` queries in every row that equals the
  per-query mean reported here.
The key and value draws, the gaps (without replacement, weights
``a·(g+1)^(a-1)``), the query offsets ``2n + 2g`` and the labels at the query
positions are Zoology's.
"""

from __future__ import annotations

import torch

from tasks.base import Batch, Task

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = "multi-query associative recall (Zoology): recall the value of each key queried after the key-value pairs"


def _distinct(generator: torch.Generator, batch: int, population: int, k: int) -> torch.Tensor:
    """``k`` distinct integers from ``[0, population)`` per row, in random order."""
    return torch.rand(batch, population, generator=generator).topk(k, dim=1).indices


class MQAR(Task):
    name = "mqar"
    has_sequence_score = True

    def __init__(self, vocab_size: int = 64, num_kv_pairs: int = 8, power_a: float = 0.01, random_filler: bool = True):
        self.vocab_size = int(vocab_size)
        self.num_kv_pairs = int(num_kv_pairs)
        self.power_a = float(power_a)
        self.random_filler = _as_bool(random_filler)
        n, v = self.num_kv_pairs, self.vocab_size
        if n < 1:
            raise ValueError(f"task 'mqar' needs num_kv_pairs >= 1, got {n}")
        num_keys, num_values = v // 2 - 1, v - v // 2
        if num_keys < n or num_values < n:
            raise ValueError(
                f"task 'mqar' with num_kv_pairs={n} needs {n} distinct keys in [1, V//2) and {n} values in "
                f"[V//2, V), but vocab_size={v} gives {num_keys} keys and {num_values} values; "
                f"use vocab_size >= {2 * n + 2} or fewer num_kv_pairs"
            )
        if not self.power_a > 0:
            raise ValueError(f"task 'mqar' needs power_a > 0 (Zoology uses 0.01), got {self.power_a}")
        self.num_values = num_values
        self.chance_accuracy = 1.0 / num_values
        self.min_len = 4 * n
        self.max_len = None

    def params(self) -> dict:
        return {
            "vocab_size": self.vocab_size,
            "num_kv_pairs": self.num_kv_pairs,
            "power_a": self.power_a,
            "random_filler": self.random_filler,
        }

    def gap_probabilities(self, seq_len: int) -> torch.Tensor:
        """The power law over query gaps ``0..space-1`` (float64, sums to 1)."""
        space = (seq_len - 2 * self.num_kv_pairs) // 2
        i = torch.arange(1, space + 1, dtype=torch.float64)
        p = self.power_a * i ** (self.power_a - 1)
        return p / p.sum()

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        self.check_len(seq_len)
        n, v = self.num_kv_pairs, self.vocab_size
        half = v // 2
        keys = 1 + _distinct(generator, batch, half - 1, n)
        values = half + _distinct(generator, batch, v - half, n)
        p = self.gap_probabilities(seq_len)
        gaps = torch.multinomial(p.expand(batch, -1), n, replacement=False, generator=generator)
        if self.random_filler:
            inputs = torch.randint(0, v, (batch, seq_len), generator=generator)
        else:
            inputs = torch.zeros(batch, seq_len, dtype=torch.long)
        inputs[:, 0 : 2 * n : 2] = keys
        inputs[:, 1 : 2 * n : 2] = values
        query_pos = 2 * n + 2 * gaps
        inputs.scatter_(1, query_pos, keys)
        targets = torch.zeros(batch, seq_len, dtype=torch.long).scatter_(1, query_pos, values)
        mask = torch.zeros(batch, seq_len, dtype=torch.bool).scatter_(1, query_pos, True)
        return Batch(inputs, targets, mask)

    def measure_diagnostics(self, seq_len: int) -> dict:
        """``key_in_filler_rate``: the fraction of queries whose key also occurs as
        filler between the context and the query, over the diagnostic batches."""
        hits = torch.cat(
            [keys_in_filler(batch, self.num_kv_pairs, self.vocab_size) for batch in self.diagnostic_batches(seq_len)]
        )
        return {"key_in_filler_rate": hits.float().mean().item()}


def keys_in_filler(batch: Batch, num_kv_pairs: int, vocab_size: int) -> torch.Tensor:
    """One bool per scored query (in ``mask.nonzero()`` order): does its key occur at
    a filler position (after the ``2n`` context tokens, not a query) before it?"""
    rows_n, seq_len = batch.inputs.shape
    start = 2 * num_kv_pairs
    region = batch.inputs[:, start:]
    positions = torch.arange(start, seq_len).expand(rows_n, -1)
    positions = torch.where(batch.mask[:, start:], seq_len, positions)  # queries are not filler
    first = torch.full((rows_n, vocab_size), seq_len, dtype=torch.long)
    first.scatter_reduce_(1, region, positions, reduce="amin")
    rows, cols = batch.mask.nonzero(as_tuple=True)
    return first[rows, batch.inputs[rows, cols]] < cols


def _as_bool(value) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"task 'mqar' expects a boolean for random_filler, got {value!r}")
    return bool(value)


TASK = MQAR
