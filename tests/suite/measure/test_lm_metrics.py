"""Language-model cells: the recall-token split, the test metrics, and early stopping on validation loss."""

import contextlib
import dataclasses
import math
import random

import pytest
import torch
from torch.nn import functional as F

from suite.measure import lm_metrics, train
from suite.measure.cell import run_cell
from suite.plan.cells import TrainConfig
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset
from suite.registry import build_model, get_task
from tasks.base import stream

from tests.suite.measure.test_training import feed, stopping


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A text file of a few thousand characters whose words and speakers repeat."""
    rng = random.Random(0)
    words = "the king and queen of denmark speak to hamlet who answers not in jest but in earnest".split()
    speeches = [
        rng.choice(["HAMLET", "KING", "QUEEN", "HORATIO"])
        + ":\n"
        + " ".join(rng.choice(words) for _ in range(rng.randint(4, 12)))
        + ".\n"
        for _ in range(150)
    ]
    path = tmp_path_factory.mktemp("corpus") / "play.txt"
    path.write_text("\n".join(speeches), encoding="utf-8")
    return path


def encode(text: str, vocabulary: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """A window of ``text``: inputs and targets (the next character), one row."""
    vocabulary = vocabulary or "".join(sorted(set(text)))
    ids = torch.tensor([[vocabulary.index(c) for c in text]])
    return ids[:, :-1], ids[:, 1:]


def brute_force_recall(inputs: list[int], targets: list[int], n: int) -> list[bool]:
    """The definition, literally: t is a recall token when some s < t has the same n inputs ending
    there and the same target."""
    found = []
    for t in range(len(inputs)):
        key = (tuple(inputs[t - n + 1 : t + 1]), targets[t]) if t >= n - 1 else None
        found.append(
            key is not None and any((tuple(inputs[s - n + 1 : s + 1]), targets[s]) == key for s in range(n - 1, t))
        )
    return found


def test_recall_tokens_of_a_hand_worked_window():
    text = "abcabcabd"  # inputs a b c a b c a b, targets b c a b c a b d
    inputs, targets = encode(text)
    recall = lm_metrics.recall_tokens(inputs, targets, 2)[0].tolist()
    # t: input pair (x[t-1], x[t]) -> target
    # 0: -            -> b  (no pair yet)
    # 1: (a, b)       -> c
    # 2: (b, c)       -> a
    # 3: (c, a)       -> b
    # 4: (a, b)       -> c  seen at t = 1: recall
    # 5: (b, c)       -> a  seen at t = 2: recall
    # 6: (c, a)       -> b  seen at t = 3: recall
    # 7: (a, b)       -> d  (a, b) was followed by c, never by d: not recall
    assert recall == [False, False, False, False, True, True, True, False]
    assert lm_metrics.recall_tokens(inputs, targets, 1)[0].tolist() == [
        False,
        False,
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    assert not lm_metrics.recall_tokens(inputs, targets, 7)[0].any()  # no 8-character string repeats


def test_an_overlapping_earlier_occurrence_counts_and_windows_are_separate():
    inputs, targets = encode("aaaaaa")  # t = 3 repeats the "aaaa" of t = 2, which it overlaps
    assert lm_metrics.recall_tokens(inputs, targets, 3)[0].tolist() == [False, False, False, True, True]
    # the same string in two windows: nothing is recalled from the other window
    both_inputs, both_targets = torch.cat([inputs, inputs]), torch.cat([targets, targets])
    assert lm_metrics.recall_tokens(both_inputs, both_targets, 3).tolist() == [[False, False, False, True, True]] * 2


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_recall_tokens_agree_with_the_definition_on_random_strings(n):
    generator = torch.Generator().manual_seed(n)
    seen = set()
    for vocab, length in ((2, 40), (3, 64), (5, 33)):
        ids = torch.randint(0, vocab, (6, length + 1), generator=generator)
        inputs, targets = ids[:, :-1], ids[:, 1:]
        fast = lm_metrics.recall_tokens(inputs, targets, n)
        for row in range(ids.shape[0]):
            assert fast[row].tolist() == brute_force_recall(inputs[row].tolist(), targets[row].tolist(), n)
        seen.update(fast.flatten().tolist())
    assert seen == {True, False}  # both sides of the split were exercised


def test_recall_tokens_need_targets_that_are_not_shifted_inputs_too():
    inputs = torch.tensor([[0, 1, 0, 1, 0, 1]])
    targets = torch.tensor([[5, 6, 5, 7, 5, 6]])
    assert lm_metrics.recall_tokens(inputs, targets, 2)[0].tolist() == brute_force_recall(
        inputs[0].tolist(), targets[0].tolist(), 2
    )
    with pytest.raises(ValueError, match="at least 1"):
        lm_metrics.recall_tokens(inputs, targets, 0)


def test_early_stopping_on_loss_keeps_the_lowest_and_stops_on_a_plateau():
    config = stopping(patience=2, min_delta=0.01)
    stopper, model = feed(train.EarlyStopping(config, lower_is_better=True), [3.0, 2.0, 1.995, 1.999, 1.0])
    assert stopper.stop_reason == "plateau" and len(stopper.curve) == 4  # 1.995 is not a drop of more than 0.01
    metrics = stopper.metrics()
    assert metrics["best_valid_loss"] == 1.995 and metrics["best_step"] == 30  # the lowest, not the last
    assert metrics["best_valid_accuracy"] is None and metrics["target_accuracy"] is None
    assert [point[2] for point in metrics["valid_curve"]] == [3.0, 2.0, 1.995, 1.999]
    stopper.restore_best(model)
    assert model.w.tolist() == [2.0, 2.0]


def test_early_stopping_on_loss_stops_at_the_target_loss():
    config = stopping(patience=5, target_loss=1.5, target_accuracy=0.9)  # an accuracy target does not apply
    stopper, _ = feed(train.EarlyStopping(config, lower_is_better=True), [3.0, 1.6, 1.5, 1.2])
    metrics = stopper.metrics()
    assert metrics["stop_reason"] == "target" and metrics["steps_to_target"] == 30 and metrics["target_loss"] == 1.5
    stopper, _ = feed(train.EarlyStopping(config, lower_is_better=True), [3.0, 2.0, 1.9])
    assert stopper.stop_reason is None and stopper.metrics()["still_rising"] is True


def lm_setup(corpus, **extra):
    task = get_task("char-lm", corpus=str(corpus))
    torch.manual_seed(0)
    model = build_model("mingru", vocab_size=task.vocab_size, d_model=16, n_layers=1, mlp_mult=1)
    settings = dict(
        steps=30,
        lr=1e-2,
        weight_decay=0.0,
        warmup_steps=2,
        grad_clip=1.0,
        eval_batches=2,
        eval_batch_size=4,
        dtype="float32",
        eval_every=5,
        curve_batches=1,
        recall_ngram=3,
    )
    config = TrainConfig(**{**settings, **extra})
    return model, task, config


def test_an_lm_cell_trains_on_loss_over_every_position_and_keeps_the_lowest_validation_loss(corpus):
    model, task, config = lm_setup(corpus, patience=0)
    metrics = train.train(model, task, 32, 4, 0, config, "cpu")
    curve = metrics["valid_curve"]
    assert [point[0] for point in curve] == [5, 10, 15, 20, 25, 30] and metrics["stop_reason"] == "max_steps"
    assert curve[-1][2] < curve[0][2] < math.log(task.vocab_size) + 0.5  # a loss in nats, falling
    best = min(curve, key=lambda point: point[2])
    assert metrics["best_valid_loss"] == best[2] and metrics["best_step"] == best[0]
    assert metrics["best_valid_accuracy"] is None
    nothing = contextlib.nullcontext
    again = lm_metrics.validation_loss(model, task, 32, 0, 1, config.eval_batch_size, "cpu", nothing)
    assert again == pytest.approx(metrics["best_valid_loss"], rel=1e-6)  # the model holds the best weights


def test_an_lm_cell_stops_on_a_plateau_of_its_loss_and_on_a_target_loss(corpus):
    model, task, config = lm_setup(corpus, patience=1, min_delta=100.0)  # no drop can exceed 100 nats
    metrics = train.train(model, task, 32, 4, 0, config, "cpu")
    assert metrics["stop_reason"] == "plateau" and metrics["steps_trained"] == 10 and not metrics["still_rising"]
    model, task, config = lm_setup(corpus, patience=0, target_loss=50.0)  # any loss is below 50 nats
    metrics = train.train(model, task, 32, 4, 0, config, "cpu")
    assert metrics["stop_reason"] == "target" and metrics["steps_to_target"] == 5 == metrics["steps_trained"]


def test_lm_training_batches_come_from_the_train_split_only(corpus, monkeypatch):
    model, task, config = lm_setup(corpus, patience=0, steps=4, eval_every=2)
    drawn = []
    original = type(task).sample_split

    def spy(self, generator, batch, seq_len, split):
        drawn.append(split)
        return original(self, generator, batch, seq_len, split)

    monkeypatch.setattr(type(task), "sample_split", spy)
    train.train(model, task, 16, 4, 0, config, "cpu")
    assert drawn == ["train", "train", "valid", "train", "train", "valid"]
    drawn.clear()
    train.score(model, task, 16, 0, config, "cpu")
    assert drawn == ["test", "test"]


def test_lm_test_metrics_are_the_cross_entropy_of_every_position(corpus):
    model, task, config = lm_setup(corpus, patience=0, steps=10)
    train.train(model, task, 24, 4, 0, config, "cpu")
    metrics = train.score(model, task, 24, 0, config, "cpu")
    generator = stream(0, "test")
    batches = [task.sample_split(generator, 4, 24, "test") for _ in range(2)]
    with torch.no_grad():
        model.eval()
        losses = torch.cat(
            [F.cross_entropy(model(b.inputs).transpose(1, 2), b.targets, reduction="none") for b in batches]
        ).double()
    assert metrics["test_loss"] == pytest.approx(float(losses.mean()), rel=1e-6)
    assert metrics["bits_per_char"] == pytest.approx(metrics["test_loss"] / math.log(2))
    windows = losses.mean(dim=1)
    assert metrics["test_loss_se"] == pytest.approx(float(windows.std()) / math.sqrt(8), rel=1e-6)
    assert metrics["test_loss_ci_low"] < metrics["test_loss"] < metrics["test_loss_ci_high"]
    assert metrics["loss_by_position"] == [round(float(v), 4) for v in losses.mean(dim=0)]
    assert len(metrics["loss_by_position"]) == 24 and metrics["n_scored"] == 8 * 24
    recall = torch.cat([lm_metrics.recall_tokens(b.inputs, b.targets, 3) for b in batches])
    assert metrics["recall_ngram"] == 3 and metrics["recall_fraction"] == float(recall.double().mean())
    assert 0 < metrics["recall_fraction"] < 1  # repeated words: both sides are populated
    assert metrics["recall_loss"] == pytest.approx(float(losses[recall].mean()), rel=1e-6)
    assert metrics["other_loss"] == pytest.approx(float(losses[~recall].mean()), rel=1e-6)
    share = metrics["recall_fraction"]
    mixed = share * metrics["recall_loss"] + (1 - share) * metrics["other_loss"]
    assert mixed == pytest.approx(metrics["test_loss"], rel=1e-9)


def test_an_lm_rate_sweep_keeps_the_lowest_validation_loss(corpus):
    _, task, config = lm_setup(corpus, patience=0, steps=10, lr_sweep=(1e-4, 1e-2))

    def build():
        torch.manual_seed(0)
        return build_model("mingru", vocab_size=task.vocab_size, d_model=16, n_layers=1, mlp_mult=1)

    _, metrics = train.train_best_lr(build, task, 16, 4, 0, config, "cpu")
    losses = metrics["lr_valid_loss"]
    assert set(losses) == {repr(1e-4), repr(1e-2)} and "lr_valid_accuracy" not in metrics
    assert metrics["lr"] == 1e-2 and losses[repr(1e-2)] == min(losses.values()) == metrics["best_valid_loss"]


def test_a_synthetic_cell_is_recorded_as_before():
    """A task without real splits trains and scores on ``sample`` (``sample_split``'s default), on
    accuracy: the key and numbers below were measured before language models existed (one thread), so
    a change to a synthetic cell's key, batches, stopping rule or scoring moves them."""
    preset = dataclasses.replace(
        get_preset("tiny"), train_steps=40, eval_every=5, lr=1e-2, eval_batches=4, eval_batch_size=16
    )
    (cell,) = build_plan(preset, models=["mingru"], tasks=["selective-copy"], kinds=("accuracy",))
    assert cell.key == "4afc2627920c35a1" and "recall_ngram" not in cell.train_config
    (record,) = run_cell(cell, "cpu")
    assert (record["best_step"], record["best_valid_accuracy"], record["stop_reason"]) == (20, 0.171875, "max_steps")
    assert [point[2] for point in record["valid_curve"]] == [
        0.078125,
        0.078125,
        0.109375,
        0.171875,
        0.15625,
        0.171875,
        0.125,
        0.09375,
    ]
    assert record["final_loss"] == pytest.approx(2.6223453283309937, rel=1e-5)
    numbers = (record["accuracy"], record["n_scored"], record["seq_accuracy"], record["last_accuracy"])
    assert numbers == (0.0703125, 128, 0.015625, 0.109375)
    assert record["objective"] == "accuracy" and record["dataset"] is None
    assert all(record[name] is None for name in ("test_loss", "best_valid_loss", "loss_by_position", "recall_loss"))
