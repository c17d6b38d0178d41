"""The word problem of a finite group: the running product of group elements.

Each input token is an element of the group; the target at ``t`` is the
product ``x_1 · x_2 · ... · x_t`` (apply ``x_1`` first). For the symmetric
group ``S5`` (permutations of 5 items, 120 elements) this is the task of
"The Illusion of State in State-Space Models" (Merrill, Petty & Sabharwal,
arXiv 2404.08819): S5's word problem is NC1-complete, so no constant-depth
parallel model (transformers, diagonal SSMs, minGRU/minLSTM with their
parallel scan) can solve it at every length, while a recurrent network can.

Variants (one task name each):

- ``s5``: all 120 permutations of ``{0..4}``, indexed in lexicographic order
  (index 0 is the identity);
- ``a5``: the 60 even permutations (the smallest non-solvable group; also
  NC1-complete), indexed by their order in that list;
- ``z60``: the cyclic group of order 60 (addition mod 60): the same number of
  elements as ``a5`` but abelian and solvable, the control that a parallel
  model *can* learn.

``inputs``: ``"all"`` draws every token uniformly from the group;
``"generators"`` only from a small generating set (``s5``: the identity, the
swap (0 1) and the 5-cycle (0 1 2 3 4); ``a5``: the identity, (0 1 2) and
(0 1 2 3 4); ``z60``: 0 and 1) — a learnable curriculum on a small budget with
the same state space. ``chance_accuracy`` is ``1 / |G|`` with ``"all"``; with
``"generators"`` the labels still range over the whole group at long lengths,
so it stays ``1 / |G|``. Tokens and labels share the vocabulary ``0 .. |G|-1``.
"""

from __future__ import annotations

import itertools

import torch

from tasks.running import RunningTask

VERSION = 1  # of the three tasks here (s5, a5, z60): bump when the generator or scoring changes (suite.registry)
DESCRIPTIONS = {
    "s5": "S5 word problem (state tracking, NC1-complete): running composition of permutations of 5 items",
    "a5": "A5 word problem (state tracking, NC1-complete): running composition of even permutations of 5",
    "z60": "Z60 word problem (abelian control for a5): running sum mod 60",
}
DESCRIPTION = DESCRIPTIONS["s5"]
INPUTS = ("all", "generators")


def _is_even(permutation) -> bool:
    inversions = sum(
        1 for i, j in itertools.combinations(range(len(permutation)), 2) if permutation[i] > permutation[j]
    )
    return inversions % 2 == 0


def group_elements(group: str) -> list[tuple]:
    """The elements in token order: permutations as tuples, or ``(k,)`` for ``z60``."""
    if group == "z60":
        return [(k,) for k in range(60)]
    permutations = list(itertools.permutations(range(5)))
    return permutations if group == "s5" else [p for p in permutations if _is_even(p)]


def compose(group: str, first: tuple, then: tuple) -> tuple:
    """Apply ``first`` then ``then``: ``i -> then[first[i]]`` (or the sum mod 60)."""
    if group == "z60":
        return ((first[0] + then[0]) % 60,)
    return tuple(then[first[i]] for i in range(5))


GENERATORS = {
    "s5": [(0, 1, 2, 3, 4), (1, 0, 2, 3, 4), (1, 2, 3, 4, 0)],
    "a5": [(0, 1, 2, 3, 4), (1, 2, 0, 3, 4), (1, 2, 3, 4, 0)],
    "z60": [(0,), (1,)],
}


class GroupWord(RunningTask):
    def __init__(self, group: str = "s5", inputs: str = "all", mode: str = "running"):
        if group not in GENERATORS:
            raise ValueError(f"task group word needs group in {sorted(GENERATORS)}, got {group!r}")
        self.group = group
        self.name = group
        self._set_mode(mode)
        if inputs not in INPUTS:
            raise ValueError(f"task {group!r} needs inputs in {INPUTS}, got {inputs!r}")
        self.inputs = inputs
        elements = group_elements(group)
        index = {element: i for i, element in enumerate(elements)}
        self.order = len(elements)
        self.table = torch.tensor([[index[compose(group, a, b)] for b in elements] for a in elements])
        self.identity = index[(0,) if group == "z60" else tuple(range(5))]
        self.generator_tokens = torch.tensor([index[g] for g in GENERATORS[group]])
        self.vocab_size = self.order
        self.chance_accuracy = 1.0 / self.order
        self.min_len = 1
        self.max_len = None

    def params(self) -> dict:
        return {"inputs": self.inputs, "mode": self.mode}

    def _inputs(self, generator, batch, seq_len):
        if self.inputs == "all":
            return torch.randint(0, self.order, (batch, seq_len), generator=generator)
        choice = torch.randint(0, len(self.generator_tokens), (batch, seq_len), generator=generator)
        return self.generator_tokens[choice]

    def _labels(self, inputs):
        state = torch.full((inputs.shape[0],), self.identity, dtype=torch.long)
        labels = torch.empty_like(inputs)
        for t in range(inputs.shape[1]):
            state = self.table[state, inputs[:, t]]
            labels[:, t] = state
        return labels


def s5(**params):
    return GroupWord("s5", **params)


def a5(**params):
    return GroupWord("a5", **params)


def z60(**params):
    return GroupWord("z60", **params)


TASKS = {"s5": s5, "a5": a5, "z60": z60}
TASK = s5
