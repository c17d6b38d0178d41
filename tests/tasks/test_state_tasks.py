"""State-tracking and reasoning tasks: each label against an independent,
hand-written oracle that reads only the inputs up to its position; seeded;
shapes; lengths; parameters."""

import itertools
import statistics

import pytest
import torch

from suite.registry import get_task, task_description
from tasks.base import Batch, Task, stream

CONFIGS = {
    "parity": [{}, {"mode": "final"}],
    "cycle-nav": [{}, {"cycle_len": 7}],
    "modular-arith": [{}, {"modulus": 3, "mode": "final"}],
    "s5": [{}, {"inputs": "generators"}],
    "a5": [{}],
    "z60": [{}],
    "majority": [{}, {"num_symbols": 2}],
    "bucket-sort": [{}, {"num_symbols": 3}],
    "listops": [{}, {"max_depth": 3, "max_args": 4}],
    "induction": [{}, {"vocab_size": 8}],
}
CASES = [(name, params) for name in CONFIGS for params in CONFIGS[name]]
CASE_IDS = [f"{name}-{i}" for name in CONFIGS for i in range(len(CONFIGS[name]))]


# ---------------------------------------------------------------- oracles: prefix -> the label at its end


def oracle_parity(task, prefix):
    return sum(prefix) % 2


def oracle_cycle_nav(task, prefix):
    position = 0
    for move in prefix:
        position = (position + {0: -1, 1: 0, 2: 1}[move]) % task.cycle_len
    return position


def oracle_modular_arith(task, prefix):
    return sum(prefix) % task.modulus


def _permutations(group):
    every = list(itertools.permutations(range(5)))
    if group == "s5":
        return every

    def sign(p):
        return sum(p[i] > p[j] for i in range(5) for j in range(i + 1, 5)) % 2

    return [p for p in every if sign(p) == 0]


def oracle_group(task, prefix):
    if task.group == "z60":
        return sum(prefix) % 60
    elements = _permutations(task.group)
    state = list(range(5))  # position i holds the item that started at i
    for token in prefix:
        permutation = elements[token]
        state = [permutation[state[i]] for i in range(5)]  # apply the earlier ones first, then this one
    return elements.index(tuple(state))


def oracle_majority(task, prefix):
    counts = [prefix.count(symbol) for symbol in range(task.num_symbols)]
    return counts.index(max(counts))


def oracle_bucket_sort(task, prefix):
    data = [token for token in prefix if token >= 2]
    k = sum(1 for token in prefix if token == 1) - 1  # which marker this is
    return sorted(data)[k]


def oracle_listops(task, prefix):
    """A stack evaluator over the tokens (independent of the generator's recursion)."""
    names = {10: min, 11: max, 12: lambda v: int(statistics.median(v)), 13: lambda v: sum(v) % 10}
    stack = []
    for token in prefix:
        if token in names:
            stack.append([names[token]])
        elif token == 14:
            function, *values = stack.pop()
            result = function(values)
            if stack:
                stack[-1].append(result)
            else:
                stack.append(result)
        elif token < 10:
            if stack and isinstance(stack[-1], list):
                stack[-1].append(token)
            else:
                stack.append(token)
    assert prefix[-1] == 15 and len(stack) == 1
    return stack[0]


def oracle_induction(task, prefix):
    first = prefix.index(0)
    assert prefix[-1] == 0 and first < len(prefix) - 1
    return prefix[first + 1]


ORACLES = {
    "parity": oracle_parity,
    "cycle-nav": oracle_cycle_nav,
    "modular-arith": oracle_modular_arith,
    "s5": oracle_group,
    "a5": oracle_group,
    "z60": oracle_group,
    "majority": oracle_majority,
    "bucket-sort": oracle_bucket_sort,
    "listops": oracle_listops,
    "induction": oracle_induction,
}


def test_every_new_task_is_registered_with_a_description():
    for name in CONFIGS:
        description = task_description(name)
        assert description and "\n" not in description


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_oracle_on_prefix_is_perfect(name, params):
    task = get_task(name, **params)
    for seq_len in sorted({task.min_len, task.min_len + 1, 9, 33}):
        batch = task.sample(stream(1, "test"), 6, seq_len)
        rows, cols = batch.mask.nonzero(as_tuple=True)
        assert len(rows) > 0
        for b, t in zip(rows.tolist(), cols.tolist()):
            prefix = batch.inputs[b, : t + 1].tolist()
            assert ORACLES[name](task, prefix) == int(batch.targets[b, t]), (seq_len, b, t)


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_shapes_ranges_and_seeds(name, params):
    task = get_task(name, **params)
    assert isinstance(task, Task) and task.name == name and 0 < task.chance_accuracy < 1
    assert get_task(name, **task.params()).params() == task.params()
    for seq_len in (task.min_len, 37, 64):
        batch = task.sample(stream(0, "train"), 5, seq_len)
        assert isinstance(batch, Batch)
        for tensor, dtype in ((batch.inputs, torch.int64), (batch.targets, torch.int64), (batch.mask, torch.bool)):
            assert tensor.shape == (5, seq_len) and tensor.dtype == dtype
        assert batch.mask.any(dim=1).all()
        assert batch.inputs.min() >= 0 and batch.inputs.max() < task.vocab_size
        assert batch.targets[batch.mask].max() < task.vocab_size
    a, b = task.sample(stream(3, "train"), 4, 64), task.sample(stream(3, "train"), 4, 64)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, task.sample(stream(3, "valid"), 4, 64).inputs)


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_labels_use_the_whole_answer_set(name, params):
    """chance_accuracy is 1 / (the number of answers a scored position can have)."""
    task = get_task(name, **params)
    batch = task.sample(stream(5, "train"), 512, 64)
    assert batch.targets[batch.mask].unique().numel() == round(1 / task.chance_accuracy)


def test_running_and_final_modes_score_every_position_or_the_last():
    running = get_task("parity").sample(stream(0, "train"), 3, 20)
    final = get_task("parity", mode="final").sample(stream(0, "train"), 3, 20)
    assert running.mask.all() and torch.equal(running.targets, final.targets)
    assert final.mask[:, -1].all() and final.mask.sum() == 3
    with pytest.raises(ValueError, match="parity"):
        get_task("parity", mode="middle")


def test_group_tables_are_groups():
    for name, order in (("s5", 120), ("a5", 60), ("z60", 60)):
        task = get_task(name)
        assert task.order == order
        table = task.table
        identity = task.identity
        assert torch.equal(table[identity], torch.arange(order)) and torch.equal(
            table[:, identity], torch.arange(order)
        )
        for row in table:  # every element has an inverse: each row is a permutation of the group
            assert row.sort().values.tolist() == list(range(order))
        a, b, c = torch.randint(0, order, (3, 200), generator=torch.Generator().manual_seed(0))
        assert torch.equal(table[table[a, b], c], table[a, table[b, c]])  # associative
    assert not torch.equal(get_task("s5").table, get_task("s5").table.T)  # S5 is not abelian
    assert torch.equal(get_task("z60").table, get_task("z60").table.T)


def test_listops_reaches_long_range_arena_lengths():
    task = get_task("listops")
    batch = task.sample(stream(0, "test"), 4, 2048)
    expressions = (batch.inputs != 16).sum(dim=1)
    assert (expressions > 1024).all(), expressions  # the budget is mostly used, not a short tree padded out
    depth = (batch.inputs == 11) | (batch.inputs == 10) | (batch.inputs == 12) | (batch.inputs == 13)
    assert (depth.sum(dim=1) > 10).all()  # nested operators, not one flat list
    for row in range(4):
        assert oracle_listops(task, batch.inputs[row].tolist()) == int(batch.targets[row, -1])


def test_bucket_sort_structure():
    task = get_task("bucket-sort", num_symbols=4)
    batch = task.sample(stream(0, "train"), 8, 21)
    assert (batch.inputs[:, 0] == 0).all() and (batch.inputs[:, 11:] == 1).all()
    assert torch.equal(batch.targets[:, 11:], batch.inputs[:, 1:11].sort(dim=1).values)
    assert batch.mask.sum() == 80


@pytest.mark.parametrize(
    "name,bad",
    [
        ("cycle-nav", {"cycle_len": 2}),
        ("modular-arith", {"modulus": 1}),
        ("majority", {"num_symbols": 1}),
        ("bucket-sort", {"num_symbols": 1}),
        ("s5", {"inputs": "some"}),
        ("listops", {"max_args": 1}),
        ("induction", {"vocab_size": 2}),
    ],
)
def test_bad_parameters_raise(name, bad):
    with pytest.raises(ValueError, match=name):
        get_task(name, **bad)


@pytest.mark.parametrize("name", ["bucket-sort", "listops", "induction"])
def test_too_short_raises_one_clear_line(name):
    task = get_task(name)
    with pytest.raises(ValueError) as info:
        task.sample(stream(0, "train"), 2, task.min_len - 1)
    assert name in str(info.value) and "\n" not in str(info.value)
