"""The task contract every synthetic task follows.

A task is a small object with:

- ``vocab_size``: tokens are integers in ``[0, vocab_size)``; inputs and targets
  share this vocabulary so one embedding and one output head serve every task.
- ``chance_accuracy``: the accuracy of guessing uniformly among the answers a
  scored position can have (not among the whole vocabulary), so "beats chance"
  is an honest statement.
- ``min_len`` / ``max_len``: the sequence lengths it can generate (``max_len``
  may be ``None`` for "any").
- ``sample(generator, batch, seq_len) -> Batch``: a seeded, pure function of
  the ``torch.Generator`` it is given. No global RNG is touched.

Real-data tasks (``tasks/char_lm.py``, ``tasks/seq_fashion_mnist.py``) add:
``has_splits`` and ``sample_split(generator, batch, seq_len, split)``, which
draws only from that split's part of the data; ``data_fields()``, the data
set's identity for the records; and ``objective`` ("lm" for language
modelling: every position is scored and the loss is the measure).

``stream(seed, split)`` derives an independent generator per (seed, split), so
every model of a run trains on the same batches and is scored on the same test
batches.

Two hooks describe the regime a task is in at one length ``T``; both are cheap
(well under 0.5 s at ``T <= 4096`` on a CPU for the built-in tasks) and cached
per length on the task object (a task's parameters do not change after it is
built):

- ``chance_accuracy_at(T) -> float``: the chance bar at that length. By
  default ``chance_accuracy``; a task whose answers are far from uniform
  overrides it (ListOps: the measured rate of its most frequent answer, what a
  constant guess scores, 0.15-0.21 where a uniform guess scores 0.1).
- ``diagnostics(T) -> dict``: measured facts about the task at that length
  (names to numbers, e.g. ListOps' ``majority_class_rate``, MQAR's
  ``key_in_filler_rate``); ``{}`` by default. Subclasses override
  ``measure_diagnostics``; ``diagnostics`` caches its result and returns a copy.

Both measure batches from a fixed generator, never from a run's seed:
``DIAGNOSTIC_BATCHES`` batches of ``DIAGNOSTIC_BATCH_SIZE`` rows drawn from
``torch.Generator().manual_seed(DIAGNOSTIC_SEED)`` (``diagnostic_batches``),
so the same task at the same length always reports the same numbers, whatever
the run's seeds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

SPLITS = ("train", "valid", "test")

DIAGNOSTIC_SEED = 12345
DIAGNOSTIC_BATCHES = 10
DIAGNOSTIC_BATCH_SIZE = 64


@dataclass
class Batch:
    """One batch: ``inputs[B,T]`` and ``targets[B,T]`` (int64) and ``mask[B,T]``
    (bool) marking the positions that are scored (and trained on)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor

    def to(self, device) -> Batch:
        return Batch(self.inputs.to(device), self.targets.to(device), self.mask.to(device))


def diagnostic_generator() -> torch.Generator:
    """The fixed CPU generator every regime measurement starts from."""
    return torch.Generator().manual_seed(DIAGNOSTIC_SEED)


def stream(seed: int, split: str) -> torch.Generator:
    """A CPU generator seeded from (seed, split): splits never share batches."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    digest = hashlib.sha256(f"{seed}:{split}".encode()).digest()
    generator = torch.Generator()
    generator.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return generator


class Task:
    """Base class: subclasses set the attributes below and implement ``sample``."""

    name: str = "task"
    vocab_size: int
    chance_accuracy: float
    min_len: int = 1
    max_len: int | None = None
    # True when the sequence score (all scored positions right) is meaningful,
    # e.g. a whole copied string; reported as ``seq_accuracy``.
    has_sequence_score: bool = True
    # What training optimises and early stopping watches: "accuracy" (scored
    # positions right) or "lm" (next-token loss over every position).
    objective: str = "accuracy"
    # True when the task draws train, valid and test batches from disjoint parts
    # of its data (``sample_split``); synthetic tasks draw every split from one
    # distribution and tell splits apart only by their generators (``stream``).
    has_splits: bool = False

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        raise NotImplementedError

    def sample_split(self, generator: torch.Generator, batch: int, seq_len: int, split: str) -> Batch:
        """A batch of ``split`` ("train", "valid" or "test"). By default ``sample``: a
        task with real splits (``has_splits``) overrides it and draws only from that
        split's part of its data."""
        return self.sample(generator, batch, seq_len)

    def data_fields(self) -> dict:
        """What a real-data task's records say about its data (data set name,
        version, sha256, licence, split bounds); ``{}`` for a synthetic task."""
        return {}

    def check_len(self, seq_len: int) -> None:
        """One clear error when a length is outside what the task can generate."""
        upper = "any length" if self.max_len is None else f"at most {self.max_len}"
        if seq_len < self.min_len or (self.max_len is not None and seq_len > self.max_len):
            raise ValueError(
                f"task {self.name!r} cannot make sequences of length {seq_len}: "
                f"it needs at least {self.min_len} and {upper}; change --seq-lens or the task's parameters"
            )

    def params(self) -> dict:
        """The parameters that define the task (recorded in every record)."""
        return {}

    def chance_accuracy_at(self, seq_len: int) -> float:
        """The chance bar at length ``seq_len``: ``chance_accuracy`` unless a subclass
        measures a better one (see the module docstring)."""
        return self.chance_accuracy

    def diagnostics(self, seq_len: int) -> dict:
        """Measured facts about the task's regime at ``seq_len`` (a copy of a cached
        ``measure_diagnostics(seq_len)``); ``{}`` for a task that measures nothing."""
        cache = self.__dict__.setdefault("_diagnostics_by_len", {})
        seq_len = int(seq_len)
        if seq_len not in cache:
            cache[seq_len] = self.measure_diagnostics(seq_len)
        return dict(cache[seq_len])

    def measure_diagnostics(self, seq_len: int) -> dict:
        """Override to measure the regime at ``seq_len``, e.g. over
        ``diagnostic_batches(seq_len)``; called once per length."""
        return {}

    def diagnostic_batches(self, seq_len: int):
        """``DIAGNOSTIC_BATCHES`` batches of ``DIAGNOSTIC_BATCH_SIZE`` rows at ``seq_len``
        from the fixed generator: the same batches on every call."""
        generator = diagnostic_generator()
        return [self.sample(generator, DIAGNOSTIC_BATCH_SIZE, seq_len) for _ in range(DIAGNOSTIC_BATCHES)]
