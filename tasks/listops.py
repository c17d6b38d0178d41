"""ListOps (Nangia & Bowman 2018; Long Range Arena, Tay et al. 2021), generated on the fly.

An expression over the digits 0-9 with nested operators, the answer (a digit)
at the end::

    pad ... pad [MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ] =
                                                            ^ target: 9

Operators as in LRA: ``MIN``, ``MAX``, ``MED`` (median; for an even count the
mean of the two middle values, rounded down, as LRA's ``int(np.median(x))``)
and ``SM`` (sum modulo 10). Tokens: ``0..9`` the digits, 10 ``[MIN``, 11
``[MAX``, 12 ``[MED``, 13 ``[SM``, 14 ``]``, 15 ``=`` (the query), 16 pad.

Generation to a target length ``T``: a random tree is grown with a token
budget of ``T - 1``: a node is a digit (1 token) when the budget is under 4
tokens, at ``max_depth``, or with probability ``leaf_prob`` when its budget is
small (under ``2 + 2 * max_args`` tokens, so large budgets are not thrown away
on one digit and the expression fills most of ``T``); otherwise an
operator with 2..``max_args`` arguments (2 tokens for ``[OP`` and ``]``) whose
remaining budget is split at random among its arguments. The expression is
left-padded to ``T - 1`` and ``=`` is appended; only that last position is
scored. LRA's lengths reach 2000 tokens (``max_depth=10``, ``max_args=10``);
any ``T >= 2`` works here, ``T = 2048`` included. Each row draws one seed
from the torch generator and grows its tree with ``random.Random(seed)``, so a
batch is a pure function of the generator. ``chance_accuracy`` is 1/10.
"""
from __future__ import annotations

import random

import torch

from tasks.base import Batch, Task

DESCRIPTION = "ListOps (Long Range Arena): evaluate a nested MIN/MAX/MED/SUM_MOD expression, answer at the end"

OPERATORS = {"MIN": 10, "MAX": 11, "MED": 12, "SM": 13}
CLOSE, QUERY, PAD = 14, 15, 16


def apply(operator: str, values: list[int]) -> int:
    if operator == "MIN":
        return min(values)
    if operator == "MAX":
        return max(values)
    if operator == "SM":
        return sum(values) % 10
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) // 2


def grow(rng: random.Random, budget: int, depth: int, max_depth: int, max_args: int, leaf_prob: float):
    """``(tokens, value)`` of a random expression of at most ``budget`` tokens."""
    small = budget < 2 + 2 * max_args  # could be a flat list of digits: may stop here
    if budget < 4 or depth >= max_depth or (depth > 0 and small and rng.random() < leaf_prob):
        digit = rng.randrange(10)
        return [digit], digit
    operator = rng.choice(list(OPERATORS))
    inner = budget - 2
    num_args = rng.randint(2, max(2, min(max_args, inner)))
    # split the inner budget at random (every argument gets at least one token)
    cuts = sorted(rng.sample(range(1, inner), num_args - 1)) if inner > num_args else list(range(1, num_args))
    shares = [b - a for a, b in zip([0] + cuts, cuts + [inner])]
    tokens, values = [OPERATORS[operator]], []
    for share in shares:
        sub_tokens, sub_value = grow(rng, share, depth + 1, max_depth, max_args, leaf_prob)
        tokens += sub_tokens
        values.append(sub_value)
    return tokens + [CLOSE], apply(operator, values)


class ListOps(Task):
    name = "listops"
    has_sequence_score = False

    def __init__(self, max_depth: int = 10, max_args: int = 10, leaf_prob: float = 0.25):
        self.max_depth = int(max_depth)
        self.max_args = int(max_args)
        self.leaf_prob = float(leaf_prob)
        if self.max_depth < 1 or self.max_args < 2 or not 0 <= self.leaf_prob < 1:
            raise ValueError(f"task 'listops' needs max_depth >= 1, max_args >= 2 and 0 <= leaf_prob < 1, got "
                             f"{self.max_depth}, {self.max_args}, {self.leaf_prob}")
        self.vocab_size = PAD + 1
        self.chance_accuracy = 0.1
        self.min_len = 2
        self.max_len = None

    def params(self) -> dict:
        return {"max_depth": self.max_depth, "max_args": self.max_args, "leaf_prob": self.leaf_prob}

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        self.check_len(seq_len)
        seeds = torch.randint(0, 2**62, (batch,), generator=generator).tolist()
        inputs = torch.full((batch, seq_len), PAD, dtype=torch.long)
        targets = torch.zeros(batch, seq_len, dtype=torch.long)
        for row, seed in enumerate(seeds):
            tokens, value = grow(random.Random(seed), seq_len - 1, 0, self.max_depth, self.max_args,
                                 self.leaf_prob)
            inputs[row, seq_len - 1 - len(tokens):seq_len - 1] = torch.tensor(tokens)
            targets[row, -1] = value
        inputs[:, -1] = QUERY
        mask = torch.zeros(batch, seq_len, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(inputs, targets, mask)


TASK = ListOps
