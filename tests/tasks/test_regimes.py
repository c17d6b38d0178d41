"""The regime hooks of tasks.base (``chance_accuracy_at``, ``diagnostics``) and the
published-regime variants: ListOps' chance bar against a measurement with another
seed, the lra variant against an independent evaluator and its length range,
MQAR's key-in-filler rate against a brute-force count; all deterministic."""

import hashlib

import pytest
import torch

from suite.registry import get_task
from tasks.base import DIAGNOSTIC_BATCH_SIZE, DIAGNOSTIC_BATCHES, Task, stream
from tasks.listops import CLOSE, PAD, QUERY, _compositions, grow_batch
from tasks.mqar import keys_in_filler
from tests.tasks.test_state_tasks import oracle_listops


class Counting(Task):
    name = "counting"
    vocab_size = 4
    chance_accuracy = 0.25
    calls = 0

    def measure_diagnostics(self, seq_len):
        self.calls += 1
        return {"seq_len": seq_len}


def nesting(inputs: torch.Tensor) -> torch.Tensor:
    """Per row, the deepest operator nesting, counted over the tokens."""
    steps = ((inputs >= 10) & (inputs <= 13)).long() - (inputs == CLOSE).long()
    return steps.cumsum(dim=1).max(dim=1).values


# ---------------------------------------------------------------- the base hooks


def test_base_hooks_default_to_chance_and_nothing():
    class Plain(Task):
        vocab_size, chance_accuracy = 3, 1 / 3

    assert Plain().chance_accuracy_at(64) == 1 / 3 and Plain().diagnostics(64) == {}
    copy = get_task("selective-copy")
    assert copy.chance_accuracy_at(100) == copy.chance_accuracy and copy.diagnostics(100) == {}


def test_diagnostics_are_cached_per_length_and_returned_as_copies():
    task = Counting()
    first = task.diagnostics(8)
    first["seq_len"] = -1
    assert task.diagnostics(8) == {"seq_len": 8} and task.calls == 1
    assert task.diagnostics(16) == {"seq_len": 16} and task.calls == 2


@pytest.mark.parametrize(
    "name,params,seq_len",
    [
        ("listops", {}, 64),
        ("listops", {"variant": "lra"}, 64),
        ("mqar", {"vocab_size": 32, "num_kv_pairs": 4}, 64),
    ],
)
def test_diagnostics_ignore_the_global_seed_and_repeat(name, params, seq_len):
    torch.manual_seed(1)
    first = get_task(name, **params).diagnostics(seq_len)
    torch.manual_seed(2)
    state = torch.get_rng_state()
    again = get_task(name, **params).diagnostics(seq_len)
    assert first == again and first
    assert torch.equal(state, torch.get_rng_state())


# ---------------------------------------------------------------- ListOps


@pytest.mark.parametrize("variant", ["suite", "lra"])
@pytest.mark.parametrize("seq_len", [64, 256])
def test_listops_chance_is_the_majority_rate_another_seed_measures(variant, seq_len):
    task = get_task("listops", variant=variant)
    generator = torch.Generator().manual_seed(2024)
    batches = [task.sample(generator, DIAGNOSTIC_BATCH_SIZE, seq_len) for _ in range(DIAGNOSTIC_BATCHES)]
    answers = torch.cat([batch.targets[batch.mask] for batch in batches])
    measured = torch.bincount(answers, minlength=10).max().item() / answers.numel()
    chance = task.chance_accuracy_at(seq_len)
    assert abs(chance - measured) <= 0.02, (chance, measured)
    assert 0.12 < chance < 0.25  # well above a uniform guess's 0.1
    assert task.diagnostics(seq_len)["majority_class_rate"] == chance


@pytest.mark.parametrize("seq_len,rows", [(5, 8), (9, 16), (64, 32), (256, 16), (1024, 4)])
def test_listops_lra_rows_are_right_in_range_and_right_padded(seq_len, rows):
    task = get_task("listops", variant="lra")
    low, high = max(4, -(-seq_len // 4)), seq_len - 1
    batch = task.sample(stream(0, "test"), rows, seq_len)
    assert batch.mask.sum(dim=1).eq(1).all()
    ends = batch.mask.int().argmax(dim=1)
    assert ((ends >= low) & (ends <= high)).all(), ends
    for row, end in enumerate(ends.tolist()):
        tokens = batch.inputs[row]
        assert int(tokens[end]) == QUERY and (tokens[:end] < QUERY).all() and (tokens[end + 1 :] == PAD).all()
        assert oracle_listops(task, tokens[: end + 1].tolist()) == int(batch.targets[row, end])
    assert (nesting(batch.inputs) <= 9).all()


def test_listops_lra_lengths_spread_over_the_range_and_depth_follows_max_depth():
    task = get_task("listops", variant="lra")
    ends = task.sample(stream(1, "train"), 64, 256).mask.int().argmax(dim=1)
    assert ends.min() < 100 and ends.max() > 150
    shallow = get_task("listops", variant="lra", max_depth=3, max_args=4)
    batch = shallow.sample(stream(1, "train"), 32, 40)
    assert nesting(batch.inputs).max() == 2  # LRA's depth counts the root as 1 and the digits' level
    for row in range(32):
        end = int(batch.mask[row].nonzero())
        assert oracle_listops(shallow, batch.inputs[row, : end + 1].tolist()) == int(batch.targets[row, end])


def test_listops_lra_is_seeded_and_params_rebuild_it():
    task = get_task("listops", variant="lra")
    a, b = task.sample(stream(3, "train"), 8, 128), task.sample(stream(3, "train"), 8, 128)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets) and torch.equal(a.mask, b.mask)
    assert not torch.equal(a.inputs, task.sample(stream(3, "valid"), 8, 128).inputs)
    assert task.params() == {"variant": "lra", "max_depth": 10, "max_args": 10, "leaf_prob": 0.75}
    assert get_task("listops", **task.params()).params() == task.params()
    assert task.min_len == 5 and task.max_len == 8192


def test_listops_default_variant_is_unchanged():
    task = get_task("listops")
    assert task.params() == {"max_depth": 10, "max_args": 10, "leaf_prob": 0.25}
    assert get_task("listops", variant="suite").params() == task.params()
    assert task.chance_accuracy == 0.1 and task.min_len == 2 and task.max_len is None
    batch = task.sample(stream(0, "train"), 4, 64)
    digest = hashlib.sha256(str([batch.inputs.tolist(), batch.targets.tolist()]).encode()).hexdigest()
    assert digest == GOLDEN_SUITE_BATCH and batch.targets[:, -1].tolist() == [2, 8, 1, 6]


# sha256 of the batch the generator made before the lra variant existed (tasks/listops.py as of f7ceb1a)
GOLDEN_SUITE_BATCH = "ff306232cf840733ba5c11c43a3e3459c1f0de20a96aee798674f141d799e015"


@pytest.mark.parametrize("seq_len", [16, 64, 256])
def test_listops_batched_twin_follows_the_suite_generator(seq_len):
    """The suite variant's diagnostics draw from ``grow_batch``: its rows are right
    (same layout as ``sample``) and as long and as deep as ``sample``'s."""
    task = get_task("listops")
    twin = grow_batch(stream(0, "valid"), 64, seq_len, task)
    real = task.sample(stream(0, "valid"), 64, seq_len)
    assert twin.mask[:, -1].all() and twin.mask.sum() == 64 and (twin.inputs[:, -1] == QUERY).all()
    for row in range(64):
        assert oracle_listops(task, twin.inputs[row].tolist()) == int(twin.targets[row, -1])
    twin_tokens = (twin.inputs < QUERY).sum(dim=1).float().mean()
    real_tokens = (real.inputs < QUERY).sum(dim=1).float().mean()
    assert abs(twin_tokens - real_tokens) < 0.05 * seq_len
    assert abs(nesting(twin.inputs).float().mean() - nesting(real.inputs).float().mean()) < 0.5
    assert (nesting(twin.inputs) <= 10).all()


def test_listops_budget_splits_are_uniform_compositions():
    """5 tokens into 3 arguments: each of the C(4, 2) = 6 splits about 1/6 of the time."""
    n = 6000
    shares = _compositions(torch.Generator().manual_seed(0), torch.full((n,), 5), torch.full((n,), 3)).view(n, 3)
    assert (shares >= 1).all() and (shares.sum(dim=1) == 5).all()
    _, counts = torch.unique(shares, dim=0, return_counts=True)
    assert len(counts) == 6 and (counts - n / 6).abs().max() < 100, counts
    mixed = _compositions(torch.Generator().manual_seed(1), torch.tensor([2, 9, 30]), torch.tensor([2, 9, 4]))
    assert mixed[:2].tolist() == [1, 1] and mixed[2:11].tolist() == [1] * 9 and mixed[11:].sum() == 30


@pytest.mark.parametrize("variant,deepest", [("suite", 10), ("lra", 9)])
def test_listops_diagnostics_describe_the_regime(variant, deepest):
    task = get_task("listops", variant=variant)
    facts = task.diagnostics(128)
    assert set(facts) == {"majority_class_rate", "mean_expression_tokens", "max_depth_seen"}
    assert 4 <= facts["max_depth_seen"] <= deepest
    low, high = (0.5 * 127, 0.75 * 127) if variant == "suite" else (32, 127)
    assert low <= facts["mean_expression_tokens"] <= high


@pytest.mark.parametrize(
    "params,message",
    [
        ({"variant": "classic"}, "variant"),
        ({"variant": "lra", "max_depth": 1}, "max_depth"),
        ({"leaf_prob": 1.0}, "leaf_prob"),
    ],
)
def test_listops_bad_parameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        get_task("listops", **params)


@pytest.mark.parametrize("seq_len", [4, 8193])
def test_listops_lra_lengths_outside_its_range_raise(seq_len):
    with pytest.raises(ValueError, match="listops"):
        get_task("listops", variant="lra").sample(stream(0, "train"), 2, seq_len)


# ---------------------------------------------------------------- MQAR


def test_mqar_key_in_filler_counts_match_a_brute_force_count():
    task = get_task("mqar", vocab_size=32, num_kv_pairs=4)
    batch = task.sample(stream(0, "train"), 16, 64)
    rows, cols = batch.mask.nonzero(as_tuple=True)
    expected = []
    for row, col in zip(rows.tolist(), cols.tolist()):
        key = int(batch.inputs[row, col])
        filler = [t for t in range(8, col) if not batch.mask[row, t]]
        expected.append(any(int(batch.inputs[row, t]) == key for t in filler))
    assert keys_in_filler(batch, 4, 32).tolist() == expected and any(expected) and not all(expected)


@pytest.mark.parametrize(
    "params,seq_len,low,high",
    [
        ({"vocab_size": 32, "num_kv_pairs": 4}, 64, 0.2, 0.4),
        ({"vocab_size": 64, "num_kv_pairs": 4}, 64, 0.1, 0.25),
        ({"vocab_size": 8192, "num_kv_pairs": 4}, 64, 0.0, 0.05),
        ({"vocab_size": 64, "num_kv_pairs": 4, "random_filler": False}, 64, 0.0, 0.0),
    ],
)
def test_mqar_key_in_filler_rate_by_vocabulary(params, seq_len, low, high):
    rate = get_task("mqar", **params).diagnostics(seq_len)["key_in_filler_rate"]
    assert low <= rate <= high, rate
