"""Shared layout of the state-tracking tasks: a label after every token.

A *running* task reads a stream of input tokens ``x_1 .. x_T`` and, at every
position ``t``, the target is a function of the whole prefix ``x_1 .. x_t``
(the running parity, the position on a cycle, the running product of
permutations ...). That is the state a recurrent model must carry, and the
setting of "The Illusion of State in State-Space Models" (Merrill et al.,
arXiv 2404.08819), which trains on the label of every prefix.

``mode``:

- ``"running"`` (default): every position is scored, so training has a signal
  at every step; ``accuracy`` averages over all positions, ``seq_accuracy`` is
  the fraction of sequences with every prefix right, and the runner's
  ``last_accuracy`` is the accuracy at the final position (the state after all
  ``T`` tokens) — the number to read for length extrapolation.
- ``"final"``: only the last position is scored (the Chomsky-hierarchy
  protocol of Delétang et al. 2023: one answer per sequence).

Subclasses implement ``_inputs(generator, batch, seq_len)`` (the token stream)
and ``_labels(inputs)`` (the label of every prefix, vectorised).
"""

from __future__ import annotations

import torch

from tasks.base import Batch, Task

MODES = ("running", "final")


class RunningTask(Task):
    has_sequence_score = True
    mode: str = "running"

    def _set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"task {self.name!r} needs mode in {MODES}, got {mode!r}")
        self.mode = mode

    def _inputs(self, generator: torch.Generator, batch: int, seq_len: int) -> torch.Tensor:
        raise NotImplementedError

    def _labels(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        self.check_len(seq_len)
        inputs = self._inputs(generator, batch, seq_len)
        targets = self._labels(inputs)
        if self.mode == "running":
            mask = torch.ones(batch, seq_len, dtype=torch.bool)
        else:
            mask = torch.zeros(batch, seq_len, dtype=torch.bool)
            mask[:, -1] = True
        return Batch(inputs, targets, mask)
