"""ListOps (Nangia & Bowman 2018; Long Range Arena, Tay et al. 2021), generated on the fly.

An expression over the digits 0-9 with nested operators, the answer (a digit)
at the ``=`` after it::

    pad ... pad [MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ] =      (variant "suite")
    [MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ] = pad ... pad      (variant "lra")
                                               ^ target: 9

Operators as in LRA: ``MIN``, ``MAX``, ``MED`` (median; for an even count the
mean of the two middle values, rounded down, as LRA's ``int(np.median(x))``)
and ``SM`` (sum modulo 10). Tokens: ``0..9`` the digits, 10 ``[MIN``, 11
``[MAX``, 12 ``[MED``, 13 ``[SM``, 14 ``]``, 15 ``=`` (the query), 16 pad.
Only the ``=`` position is scored.

``variant="suite"`` (the default; the generator every earlier result used):
a random tree is grown with a token budget of ``T - 1``: a node is a digit (1
token) when the budget is under 4 tokens, at ``max_depth``, or with
probability ``leaf_prob`` (0.25) when its budget is small (under
``2 + 2 * max_args`` tokens, so large budgets are not thrown away on one digit
and the expression fills most of ``T``, about 63%); otherwise an operator with
2..``max_args`` arguments (2 tokens for ``[OP`` and ``]``) whose remaining
budget is split at random among its arguments. The root (depth 0) is an
operator (from ``T = 5``), so operators nest up to ``max_depth`` (10) deep. The expression is
left-padded to ``T - 1`` and ``=`` is appended. Any ``T >= 2``. Each row draws
one seed from the torch generator and grows its tree with
``random.Random(seed)``, so a batch is a pure function of the generator.
These trees are not LRA's: every length fills about 63% of ``T``, the leaf
rule is a budget rule rather than LRA's 0.75 at every node, operators nest one
level deeper, padding is on the left, and the most frequent answer is more
frequent (0.19 against LRA's 0.17 near ``T = 2048``).

``variant="lra"``: LRA's generator (``lra_benchmarks/data/listops.py``). Every
node below the leaf level is a digit with probability ``leaf_prob`` (LRA's
0.75: ``random() > VALUE_P = 0.25``), else an operator with a uniform
2..``max_args`` (10) arguments; the root is at depth 1 and depth ``max_depth``
(10) is all digits, so operators nest up to ``max_depth - 1`` = 9 deep, as in
LRA. Trees are drawn until their length (tokens, brackets included) lies in
``[max(4, ceil(T/4)), T - 1]``: LRA keeps lengths in (500, 2000) for a
maximum length of 2000, a quarter of the maximum to all of it, so the range is
scaled to ``T`` (at ``T = 2048``: 512..2047), and the task's difficulty keeps
growing with ``T`` the way LRA's does. The expression comes first, then ``=``,
then padding (right padding, as LRA's). A causal model reads the expression
and must answer at ``=``, the first position that has seen all of it; padding
after ``=`` is invisible to that answer (it only costs compute), whereas
padding between the expression and ``=`` would make the model carry the answer
across a run of pads, which LRA does not ask. The scored position therefore
moves from row to row. ``T`` from 5 to 8192: with operators at most 9 deep,
about 1 tree in 2,300 reaches 4,096 tokens (1 in 100 reaches 2,048), so longer
``T`` would need tens of thousands of draws per row. Sampled in batches with
torch (``grow_batch``); at ``T = 2000`` its answers, lengths (mean ~1,040
tokens) and depths match LRA's generator run with its own 500-2000 filter.

What still differs from LRA's ListOps in the ``lra`` variant:

- LRA classifies the whole padded sequence with a bidirectional encoder (a CLS
  token, 10 classes); here a causal language model emits the answer at ``=``
  (an extra token) as a token over the 17-token vocabulary, so it may also
  predict a non-digit.
- LRA trains on a fixed, deduplicated set (96,000 train, 2,000 validation and
  2,000 test trees, a ``set``); here every batch is fresh, so at small ``T`` a
  test expression can also occur in training.
- LRA's range is fixed at 500-2000 tokens; here it is ``T/4 .. T-1`` (above).
- Token ids: LRA builds its vocabulary with a tokenizer (``]`` renamed ``X``,
  the ``(``/``)`` of its tree printer removed); the token sequences are the same.

``chance_accuracy`` is 1/10, a uniform guess among the ten answers. The answers
are not uniform (a 0 or a 9 is most frequent: ``MIN``/``MAX`` favour the ends),
so ``chance_accuracy_at(T)`` is the rate of the most frequent answer, what a
constant guess scores, measured at that length: ``diagnostics(T)`` reports it
as ``majority_class_rate`` (suite variant: about 0.16 at ``T = 64``, 0.19 at
2048, 0.21 at 4096; lra: 0.15, 0.17 (LRA's generator: 0.16-0.17), 0.20), with
``mean_expression_tokens`` and ``max_depth_seen`` (the deepest operator
nesting). Both are measured over ``tasks.base``'s fixed
diagnostic batches; for the suite variant the rows come from ``grow_batch``
with the suite's rule (the same distribution in batched torch code, so 640 rows
at ``T = 4096`` take well under a second; the tests check it against
``sample``), for the lra variant from ``sample`` itself.
"""

from __future__ import annotations

import random

import torch

from tasks.base import DIAGNOSTIC_BATCH_SIZE, DIAGNOSTIC_BATCHES, Batch, Task, diagnostic_generator

VERSION = 1  # bump when the generator or the scoring changes: compare warns across versions (suite.registry)
DESCRIPTION = "ListOps (Long Range Arena): evaluate a nested MIN/MAX/MED/SUM_MOD expression, answer at the end"

OPERATORS = {"MIN": 10, "MAX": 11, "MED": 12, "SM": 13}
CLOSE, QUERY, PAD = 14, 15, 16
VARIANTS = ("suite", "lra")
DEFAULT_LEAF_PROB = {"suite": 0.25, "lra": 0.75}
LRA_MAX_LEN = 8192


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

    def __init__(self, max_depth: int = 10, max_args: int = 10, leaf_prob: float | None = None, variant: str = "suite"):
        self.variant = str(variant).strip().lower()
        if self.variant not in VARIANTS:
            raise ValueError(f"task 'listops' has no variant {variant!r}; use one of {', '.join(VARIANTS)}")
        self.max_depth = int(max_depth)
        self.max_args = int(max_args)
        self.leaf_prob = DEFAULT_LEAF_PROB[self.variant] if leaf_prob in (None, "None", "") else float(leaf_prob)
        lowest_depth = 2 if self.variant == "lra" else 1  # lra: the root is at depth 1
        if self.max_depth < lowest_depth or self.max_args < 2 or not 0 <= self.leaf_prob < 1:
            raise ValueError(
                f"task 'listops' needs max_depth >= {lowest_depth}, max_args >= 2 and "
                f"0 <= leaf_prob < 1, got {self.max_depth}, {self.max_args}, {self.leaf_prob}"
            )
        self.vocab_size = PAD + 1
        self.chance_accuracy = 0.1
        self.min_len = 5 if self.variant == "lra" else 2
        self.max_len = LRA_MAX_LEN if self.variant == "lra" else None

    def params(self) -> dict:
        """The parameters; ``variant`` only when it is not the default, so the records
        (and cell keys) of suite-variant runs stay as they were."""
        params = {"max_depth": self.max_depth, "max_args": self.max_args, "leaf_prob": self.leaf_prob}
        return params if self.variant == "suite" else {"variant": self.variant, **params}

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        self.check_len(seq_len)
        if self.variant == "lra":
            return grow_batch(generator, batch, seq_len, self)
        seeds = torch.randint(0, 2**62, (batch,), generator=generator).tolist()
        inputs = torch.full((batch, seq_len), PAD, dtype=torch.long)
        targets = torch.zeros(batch, seq_len, dtype=torch.long)
        for row, seed in enumerate(seeds):
            tokens, value = grow(random.Random(seed), seq_len - 1, 0, self.max_depth, self.max_args, self.leaf_prob)
            inputs[row, seq_len - 1 - len(tokens) : seq_len - 1] = torch.tensor(tokens)
            targets[row, -1] = value
        inputs[:, -1] = QUERY
        mask = torch.zeros(batch, seq_len, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(inputs, targets, mask)

    def length_range(self, seq_len: int) -> tuple[int, int]:
        """The expression lengths (tokens) the lra variant keeps at ``seq_len``."""
        return max(4, -(-seq_len // 4)), seq_len - 1

    def chance_accuracy_at(self, seq_len: int) -> float:
        """The measured rate of the most frequent answer at ``seq_len`` (module docstring)."""
        return self.diagnostics(seq_len)["majority_class_rate"]

    def measure_diagnostics(self, seq_len: int) -> dict:
        self.check_len(seq_len)
        if self.variant == "lra":
            batches = self.diagnostic_batches(seq_len)
        else:
            generator = diagnostic_generator()
            batches = [grow_batch(generator, DIAGNOSTIC_BATCH_SIZE, seq_len, self) for _ in range(DIAGNOSTIC_BATCHES)]
        return describe(batches)


def describe(batches: list[Batch]) -> dict:
    """``majority_class_rate``, ``mean_expression_tokens`` and ``max_depth_seen``
    (deepest operator nesting) of ListOps batches, read from their tokens."""
    inputs = torch.cat([batch.inputs for batch in batches])
    answers = torch.cat([batch.targets[batch.mask] for batch in batches])
    is_expression = inputs < QUERY
    opens = (inputs >= OPERATORS["MIN"]) & (inputs <= OPERATORS["SM"])
    nesting = (opens.long() - (inputs == CLOSE).long()).cumsum(dim=1)
    return {
        "majority_class_rate": torch.bincount(answers, minlength=10).max().item() / answers.numel(),
        "mean_expression_tokens": is_expression.sum(dim=1).float().mean().item(),
        "max_depth_seen": int(nesting.max()),
    }


# ---------------------------------------------------------------- batched trees
# All trees of a batch grow together, one level (depth) at a time. A level is a
# dict of [N] tensors: ``tree`` (which tree), ``parent`` (index of its parent
# among the previous level's operators), ``is_op``, ``op`` (0..3: MIN MAX MED
# SM), ``digit``, ``num_args``; ``_evaluate`` adds ``value`` and ``length``. The
# children of one operator are consecutive and in order, so segment sums give
# their offsets. Each node draws its own randomness: a digit and an operator
# are drawn for every node and the one its kind needs is used.


def grow_batch(generator: torch.Generator, rows: int, seq_len: int, task: ListOps) -> Batch:
    """``rows`` expressions at ``seq_len`` under ``task``'s rule: the suite rule with
    budget ``T - 1`` (left padded), or the lra rule kept to ``task.length_range``
    (right padded), drawing pools of trees until ``rows`` are kept (the first that
    fit, in the order drawn)."""
    inputs = torch.full((rows, seq_len), PAD, dtype=torch.long)
    targets = torch.zeros(rows, seq_len, dtype=torch.long)
    mask = torch.zeros(rows, seq_len, dtype=torch.bool)
    filled, pools = 0, 0
    while filled < rows:
        if pools == 100:
            raise RuntimeError(
                f"task 'listops' (lra) kept only {filled} of {rows} trees in 100 pools at "
                f"length {seq_len}; use a shorter length"
            )
        # lra: 16 trees per missing row first (most draws are a bare digit), 4x more each time short
        pool = rows if task.variant == "suite" else min(max(256, (16 << 2 * pools) * (rows - filled)), 1 << 16)
        levels = _grow_levels(generator, pool, seq_len - 1, task)
        if task.variant == "lra":
            low, high = task.length_range(seq_len)
            length = levels[0]["tokens"]
            kept = ((length >= low) & (length <= high) & levels[0]["alive"]).nonzero().flatten()[: rows - filled]
            levels = _keep_trees(levels, kept, pool)
        value, length = _evaluate(levels)
        out_rows = torch.arange(filled, filled + len(length))
        query = torch.full_like(length, seq_len - 1) if task.variant == "suite" else length
        _layout(levels, out_rows, query - length, inputs)
        inputs[out_rows, query] = QUERY
        targets[out_rows, query] = value
        mask[out_rows, query] = True
        filled += len(length)
        pools += 1
    return Batch(inputs, targets, mask)


def _grow_levels(generator: torch.Generator, num_trees: int, cap: int, task: ListOps) -> list[dict]:
    """Expand ``num_trees`` trees level by level. A tree dies (its children are
    dropped) once its length must exceed ``cap``; ``levels[0]["alive"]`` says which
    trees grew to the end. Depth counts from 0 at the root (LRA's depth 1)."""
    suite = task.variant == "suite"
    tree = torch.arange(num_trees)
    parent = torch.full((num_trees,), -1, dtype=torch.long)
    budget = torch.full((num_trees,), cap, dtype=torch.long)
    tokens = torch.zeros(num_trees, dtype=torch.long)
    alive = torch.ones(num_trees, dtype=torch.bool)
    op_depth_limit = task.max_depth if suite else task.max_depth - 1
    levels, depth = [], 0
    while tree.numel():
        n = tree.numel()
        u = torch.rand(n, generator=generator)
        if suite:
            small = budget < 2 + 2 * task.max_args
            leaf = (budget < 4) | (depth >= op_depth_limit) | ((depth > 0) & small & (u < task.leaf_prob))
            upper = (budget - 2).clamp(max=task.max_args, min=2)
        else:
            leaf = (u < task.leaf_prob) | (depth >= op_depth_limit)
            upper = torch.full((n,), task.max_args, dtype=torch.long)
        num_args = 2 + (torch.rand(n, generator=generator) * (upper - 1)).long()
        num_args = torch.where(leaf, 0, num_args)
        level = {
            "tree": tree,
            "parent": parent,
            "is_op": ~leaf,
            "num_args": num_args,
            "op": torch.randint(0, 4, (n,), generator=generator),
            "digit": torch.randint(0, 10, (n,), generator=generator),
        }
        levels.append(level)
        tokens.index_add_(0, tree, torch.where(leaf, 1, 2))
        pending = torch.zeros(num_trees, dtype=torch.long).index_add_(0, tree, num_args)
        alive &= tokens + pending <= cap
        ops = (~leaf).nonzero().flatten()
        tree = tree[ops].repeat_interleave(num_args[ops])
        parent = torch.arange(len(ops)).repeat_interleave(num_args[ops])
        keep = alive[tree]
        if suite:
            budget = _compositions(generator, budget[ops] - 2, num_args[ops])[keep]
        tree, parent = tree[keep], parent[keep]
        depth += 1
    levels[0]["alive"], levels[0]["tokens"] = alive, tokens
    return levels


def _keep_trees(levels: list[dict], kept: torch.Tensor, num_trees: int) -> list[dict]:
    """The levels of the trees ``kept`` only (renumbered 0.. in that order)."""
    number = torch.full((num_trees,), -1, dtype=torch.long)
    number[kept] = torch.arange(len(kept))
    out, op_number = [], None
    for level in levels:
        chosen = number[level["tree"]] >= 0
        new = {name: level[name][chosen] for name in ("tree", "parent", "is_op", "op", "digit")}
        new["tree"] = number[new["tree"]]
        if op_number is not None:
            new["parent"] = op_number[new["parent"]]
        op_number = chosen[level["is_op"]].long().cumsum(0) - 1
        out.append(new)
    return out


def _compositions(generator: torch.Generator, inner: torch.Tensor, parts: torch.Tensor) -> torch.Tensor:
    """The shares, concatenated in order, of a uniform random composition of each
    ``inner[i]`` into ``parts[i]`` positive parts: ``parts - 1`` distinct cuts from
    ``1..inner-1`` by Floyd's algorithm (the suite's ``rng.sample`` of cuts)."""
    n = inner.numel()
    needed = parts - 1
    width = int(needed.max()) if n else 0
    # Floyd: the i-th cut is drawn from 1..top_i, and is top_i when it repeats an earlier cut
    top = (inner - needed)[:, None] + torch.arange(width)
    draws = 1 + (torch.rand(n, width, generator=generator) * top.clamp(min=1)).long()
    for i in range(1, width):
        repeat = (draws[:, :i] == draws[:, i : i + 1]).any(dim=1)
        draws[:, i] = torch.where(repeat, top[:, i], draws[:, i])
    cuts = torch.where(torch.arange(width) < needed[:, None], draws, inner[:, None]).sort(dim=1).values
    edges = torch.cat([torch.zeros(n, 1, dtype=torch.long), cuts, inner[:, None]], dim=1)
    shares = edges.diff(dim=1)
    return shares[shares > 0]


def _evaluate(levels: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    """Bottom up: every node's ``value`` and ``length`` (tokens); returns the roots'."""
    below = None
    for level in reversed(levels):
        value, length = level["digit"].clone(), torch.ones_like(level["digit"])
        ops = level["is_op"].nonzero().flatten()
        length[ops] = 2
        if below is not None and len(ops):
            child_value, child_length, child_parent = below
            value[ops] = _reduce(level["op"][ops], child_parent, child_value)
            length[ops] += torch.zeros(len(ops), dtype=torch.long).index_add_(0, child_parent, child_length)
        level["value"], level["length"] = value, length
        below = value, length, level["parent"]
    return levels[0]["value"], levels[0]["length"]


def _reduce(op: torch.Tensor, parent: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Each operator applied to its children (``value`` grouped by ``parent``)."""
    n = len(op)
    mins = torch.full((n,), 9, dtype=torch.long).scatter_reduce(0, parent, value, reduce="amin")
    maxs = torch.zeros(n, dtype=torch.long).scatter_reduce(0, parent, value, reduce="amax")
    sums = torch.zeros(n, dtype=torch.long).index_add_(0, parent, value) % 10
    counts = torch.bincount(parent, minlength=n)
    ordered = (parent * 10 + value).sort().values % 10  # by parent, then by value
    starts, last = counts.cumsum(0) - counts, max(len(ordered) - 1, 0)
    low = ordered[(starts + (counts - 1).clamp(min=0) // 2).clamp(max=last)]
    high = ordered[(starts + counts // 2).clamp(max=last)]
    return torch.stack([mins, maxs, (low + high) // 2, sums], dim=1).gather(1, op[:, None]).squeeze(1)


def _layout(levels: list[dict], out_rows: torch.Tensor, offset: torch.Tensor, inputs: torch.Tensor) -> None:
    """Top down: write the tokens of tree ``i`` into row ``out_rows[i]`` of ``inputs``,
    its expression starting at column ``offset[i]``."""
    seq_len = inputs.shape[1]
    flat = inputs.view(-1)
    op_start = None
    for level in levels:
        tree, length, is_op = level["tree"], level["length"], level["is_op"]
        if op_start is None:
            start = torch.zeros_like(tree)
        else:
            parent = level["parent"]
            before = length.cumsum(0) - length  # tokens of the earlier nodes of this level
            counts = torch.bincount(parent, minlength=len(op_start))
            first_child = counts.cumsum(0) - counts
            start = op_start[parent] + 1 + before - before[first_child[parent]]
        position = out_rows[tree] * seq_len + offset[tree] + start
        flat[position] = torch.where(is_op, OPERATORS["MIN"] + level["op"], level["digit"])
        flat[(position + length - 1)[is_op]] = CLOSE
        op_start = start[is_op]


TASK = ListOps
