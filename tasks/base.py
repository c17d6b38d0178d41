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

``stream(seed, split)`` derives an independent generator per (seed, split), so
every model of a run trains on the same batches and is scored on the same test
batches.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

SPLITS = ("train", "valid", "test")


@dataclass
class Batch:
    """One batch: ``inputs[B,T]`` and ``targets[B,T]`` (int64) and ``mask[B,T]``
    (bool) marking the positions that are scored (and trained on)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor

    def to(self, device) -> "Batch":
        return Batch(self.inputs.to(device), self.targets.to(device), self.mask.to(device))


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

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        raise NotImplementedError

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
