"""The synthetic tasks keep the contract in ``tasks/base.py`` and are what they
claim: solvable from the inputs alone (a hand-written oracle scores 100%),
not solvable from the current token alone (a lookup table stays near chance),
seeded, and causal (every label is determined by the inputs up to its
position)."""

import time

import pytest
import torch

from suite.registry import builtin_task_names, get_task, task_description
from tasks.base import Batch, Task, stream

# Small, non-default parameters as well as the defaults, for every task.
CONFIGS = {
    "mqar": [{}, {"vocab_size": 32, "num_kv_pairs": 3}, {"num_kv_pairs": 4, "random_filler": False}],
    "selective-copy": [{}, {"vocab_size": 10, "num_data_tokens": 6}],
    "needle": [
        {},
        {"vocab_size": 32, "num_distractor_pairs": 5},
        {"num_distractor_pairs": 0},
        {"num_distractor_pairs": 5, "num_queries": 3},
    ],
}
CASES = [(name, params) for name in CONFIGS for params in CONFIGS[name]]
CASE_IDS = [f"{name}-{i}" for name in CONFIGS for i in range(len(CONFIGS[name]))]


def lengths_for(task):
    return sorted({task.min_len, task.min_len + 1} | {n for n in (37, 64, 129) if n >= task.min_len})


# ---------------------------------------------------------------- oracles
# Each oracle sees one row's prefix inputs[:t+1] (a 1-D tensor) and returns the
# token it predicts at t. It never sees targets, mask or later inputs.


def oracle_mqar(task, prefix):
    context = prefix[: 2 * task.num_kv_pairs]
    query = prefix[-1]
    hits = (context[0::2] == query).nonzero()
    return int(context[1::2][hits[0, 0]]) if len(hits) else -1


def oracle_selective_copy(task, prefix):
    if int(prefix[-1]) != task.marker:
        return -1
    k = int((prefix == task.marker).sum()) - 1  # which marker this is
    data = prefix[(prefix != task.marker) & (prefix != task.blank)]
    return int(data[k]) if k < len(data) else -1


def oracle_needle(task, prefix):
    query = prefix[-1]
    earlier = prefix[:-1]
    hits = (earlier[:-1] == query).nonzero()
    return int(earlier[hits[-1, 0] + 1]) if len(hits) else -1


ORACLES = {"mqar": oracle_mqar, "selective-copy": oracle_selective_copy, "needle": oracle_needle}


# ---------------------------------------------------------------- registry and contract


def test_every_builtin_task_has_an_oracle_and_configs():
    from tests.tasks.test_state_tasks import CONFIGS as STATE_CONFIGS, ORACLES as STATE_ORACLES

    assert set(builtin_task_names()) == set(ORACLES) | set(STATE_ORACLES) == set(CONFIGS) | set(STATE_CONFIGS)
    for name in builtin_task_names():
        description = task_description(name)
        assert description and "\n" not in description


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_attributes_and_params(name, params):
    task = get_task(name, **params)
    assert isinstance(task, Task)
    assert task.name == name
    assert 0 < task.chance_accuracy < 1
    assert task.min_len >= 1 and task.max_len is None
    recorded = task.params()
    for key, value in params.items():
        assert recorded[key] == value
    # params() rebuilds the same task
    assert get_task(name, **recorded).params() == recorded


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_shapes_dtypes_ranges(name, params):
    task = get_task(name, **params)
    for seq_len in lengths_for(task):
        batch = task.sample(stream(0, "train"), 5, seq_len)
        assert isinstance(batch, Batch)
        for tensor, dtype in ((batch.inputs, torch.int64), (batch.targets, torch.int64), (batch.mask, torch.bool)):
            assert tensor.shape == (5, seq_len) and tensor.dtype == dtype
        assert batch.mask.any(dim=1).all(), "every row has a scored position"
        assert batch.inputs.min() >= 0 and batch.inputs.max() < task.vocab_size
        scored = batch.targets[batch.mask]
        assert scored.min() >= 0 and scored.max() < task.vocab_size


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_seeded(name, params):
    task = get_task(name, **params)
    seq_len = max(task.min_len, 64)
    a = task.sample(stream(3, "train"), 4, seq_len)
    b = task.sample(stream(3, "train"), 4, seq_len)
    for x, y in ((a.inputs, b.inputs), (a.targets, b.targets), (a.mask, b.mask)):
        assert torch.equal(x, y)
    for other in (task.sample(stream(4, "train"), 4, seq_len), task.sample(stream(3, "test"), 4, seq_len)):
        assert not torch.equal(a.inputs, other.inputs)
        assert not torch.equal(a.targets, other.targets)


def test_sampling_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    for name in builtin_task_names():
        get_task(name).sample(stream(0, "train"), 3, 64)
        assert torch.equal(before, torch.get_rng_state()), name
    assert torch.equal(before, torch.get_rng_state())


# ---------------------------------------------------------------- solvable from the inputs, causally


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_oracle_on_prefix_is_perfect(name, params):
    """The oracle reads only inputs[:t+1], so this also shows every scored
    label is determined by the inputs up to its position."""
    task = get_task(name, **params)
    oracle = ORACLES[name]
    for seq_len in lengths_for(task):
        batch = task.sample(stream(1, "test"), 4, seq_len)
        rows, cols = batch.mask.nonzero(as_tuple=True)
        for b, t in zip(rows.tolist(), cols.tolist()):
            assert oracle(task, batch.inputs[b, : t + 1]) == int(batch.targets[b, t]), (seq_len, b, t)


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_scored_target_occurs_earlier_in_row(name, params):
    task = get_task(name, **params)
    batch = task.sample(stream(2, "train"), 6, max(task.min_len, 48))
    rows, cols = batch.mask.nonzero(as_tuple=True)
    for b, t in zip(rows.tolist(), cols.tolist()):
        assert (batch.inputs[b, :t] == batch.targets[b, t]).any()


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_scored_target_not_at_current_input(name, params):
    """The answer is never the token the model is looking at."""
    task = get_task(name, **params)
    batch = task.sample(stream(2, "valid"), 6, max(task.min_len, 48))
    assert not (batch.inputs[batch.mask] == batch.targets[batch.mask]).any()


# ---------------------------------------------------------------- not solvable without memory


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_lookup_table_stays_near_chance(name, params):
    """Fit current token -> most frequent scored target on a train batch;
    score it on a test batch: at most chance + 10 points."""
    task = get_task(name, **params)
    seq_len = max(task.min_len, 64)
    v = task.vocab_size
    train = task.sample(stream(0, "train"), 512, seq_len)
    counts = torch.zeros(v, v, dtype=torch.long)
    counts.index_put_(
        (train.inputs[train.mask], train.targets[train.mask]),
        torch.ones(int(train.mask.sum()), dtype=torch.long),
        accumulate=True,
    )
    table = counts.argmax(dim=1)
    test = task.sample(stream(0, "test"), 512, seq_len)
    accuracy = (table[test.inputs[test.mask]] == test.targets[test.mask]).float().mean().item()
    assert accuracy <= task.chance_accuracy + 0.10, (accuracy, task.chance_accuracy)


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_scored_targets_cover_the_answer_set(name, params):
    """chance_accuracy is honest: scored targets spread over 1/chance answers."""
    task = get_task(name, **params)
    batch = task.sample(stream(5, "train"), 256, max(task.min_len, 32))
    distinct = batch.targets[batch.mask].unique().numel()
    assert distinct == round(1 / task.chance_accuracy)


# ---------------------------------------------------------------- task-specific structure


def test_mqar_structure():
    task = get_task("mqar", vocab_size=64, num_kv_pairs=6)
    n = task.num_kv_pairs
    batch = task.sample(stream(0, "train"), 32, 96)
    keys, values = batch.inputs[:, 0 : 2 * n : 2], batch.inputs[:, 1 : 2 * n : 2]
    assert ((keys >= 1) & (keys < 32)).all() and ((values >= 32) & (values < 64)).all()
    for row in range(32):
        assert keys[row].unique().numel() == n and values[row].unique().numel() == n
        # each key is queried exactly once, after the context, at an even offset
        positions = batch.mask[row].nonzero().flatten()
        assert len(positions) == n and (positions >= 2 * n).all() and ((positions - 2 * n) % 2 == 0).all()
        assert sorted(batch.inputs[row, positions].tolist()) == sorted(keys[row].tolist())
    assert batch.mask[:, : 2 * n].sum() == 0


def test_mqar_gaps_follow_a_power_law():
    task = get_task("mqar", vocab_size=64, num_kv_pairs=4)
    batch = task.sample(stream(0, "train"), 400, 256)
    gaps = (batch.mask[:, 8:].nonzero()[:, 1] // 2).float()
    # heavy near the context, with a tail across the query region
    assert (gaps < 8).float().mean() > 0.25 and gaps.max() > 60
    probs = task.gap_probabilities(256)
    assert probs.shape == (124,) and abs(probs.sum().item() - 1) < 1e-12 and (probs.diff() < 0).all()


def test_mqar_scales_to_zoology_vocab():
    task = get_task("mqar", vocab_size=8192, num_kv_pairs=256)
    assert task.min_len == 1024 and task.chance_accuracy == 1 / 4096
    batch = task.sample(stream(0, "train"), 2, 1024)
    assert int(batch.mask.sum()) == 512


def test_selective_copy_structure():
    task = get_task("selective-copy", vocab_size=16, num_data_tokens=5)
    batch = task.sample(stream(0, "train"), 16, 40)
    body = batch.inputs[:, :35]
    assert (batch.inputs[:, 35:] == 0).all() and batch.mask[:, 35:].all() and not batch.mask[:, :35].any()
    assert (body != 0).all()
    data = body[body != 15].view(16, 5)
    assert torch.equal(data, batch.targets[:, 35:])
    assert ((data >= 1) & (data <= 14)).all()


def test_needle_structure():
    task = get_task("needle", vocab_size=64, num_distractor_pairs=4)
    batch = task.sample(stream(0, "train"), 64, 50)
    assert batch.mask[:, -1].all() and batch.mask.sum() == 64
    hay = batch.inputs[:, :-1]
    is_key = (hay >= 32) & (hay < 48)
    is_value = hay >= 48
    assert (is_key.sum(dim=1) == 5).all() and (is_value.sum(dim=1) == 5).all()
    # every key is followed by a value, keys are distinct, the query key occurs once before
    assert torch.equal(is_key[:, :-1], is_value[:, 1:])
    for row in range(64):
        assert hay[row][is_key[row]].unique().numel() == 5
        assert int((hay[row] == batch.inputs[row, -1]).sum()) == 1
    # the needle's depth spreads over the haystack
    depth = (hay == batch.inputs[:, -1:]).float().argmax(dim=1)
    assert depth.min() < 12 and depth.max() > 36
    assert not task.has_sequence_score


def test_needle_several_queries():
    task = get_task("needle", vocab_size=64, num_distractor_pairs=5, num_queries=3)
    assert task.has_sequence_score and task.min_len == 15
    batch = task.sample(stream(0, "train"), 32, 40)
    assert batch.mask[:, -3:].all() and batch.mask.sum() == 96
    queries = batch.inputs[:, -3:]
    assert ((queries >= 32) & (queries < 48)).all()
    for row in range(32):
        assert queries[row].unique().numel() == 3  # three different pairs are asked


# ---------------------------------------------------------------- lengths and parameters


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_bad_length_raises_one_clear_line(name):
    task = get_task(name)
    for bad in (task.min_len - 1, 0):
        with pytest.raises(ValueError) as info:
            task.sample(stream(0, "train"), 2, bad)
        message = str(info.value)
        assert "\n" not in message and name in message and str(task.min_len) in message
        assert "--seq-lens" in message or "parameters" in message


@pytest.mark.parametrize(
    "name,bad",
    [
        ("mqar", {"vocab_size": 16, "num_kv_pairs": 8}),
        ("mqar", {"num_kv_pairs": 0}),
        ("mqar", {"power_a": 0}),
        ("selective-copy", {"vocab_size": 3}),
        ("selective-copy", {"num_data_tokens": 0}),
        ("needle", {"vocab_size": 16, "num_distractor_pairs": 8}),
        ("needle", {"num_distractor_pairs": -1}),
        ("needle", {"num_queries": 0}),
        ("needle", {"num_distractor_pairs": 2, "num_queries": 4}),
    ],
)
def test_bad_parameters_raise(name, bad):
    with pytest.raises(ValueError, match=name):
        get_task(name, **bad)


@pytest.mark.parametrize("name", ["mqar", "needle", "selective-copy"])
def test_long_sequences_are_quick(name):
    task = get_task(name)
    start = time.perf_counter()
    batch = task.sample(stream(0, "test"), 2, 8192)
    elapsed = time.perf_counter() - start
    assert batch.inputs.shape == (2, 8192) and batch.mask.any(dim=1).all()
    assert elapsed < 1.0, elapsed
