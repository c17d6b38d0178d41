"""Early stopping on the validation stream, the best checkpoint, cheap scoring and weight decay groups."""

import pytest
import torch

import dataclasses

from suite.measure import train
from suite.plan.cells import TrainConfig
from suite.registry import build_model, get_task


class Weights(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2))


def feed(stopper, accuracies, model=None):
    """Feed ``accuracies`` one evaluation at a time (step 10, 20, ...) until the stopper says stop."""
    model = model or Weights()
    for index, accuracy in enumerate(accuracies):
        with torch.no_grad():
            model.w.fill_(index)
        if stopper.update(10 * (index + 1), float(index), accuracy, model):
            break
    return stopper, model


def stopping(**settings) -> TrainConfig:
    """A training configuration whose early-stopping settings are ``settings``."""
    return TrainConfig(
        steps=100,
        lr=1e-2,
        weight_decay=0.0,
        warmup_steps=0,
        grad_clip=1.0,
        eval_batches=1,
        eval_batch_size=4,
        dtype="float32",
        **settings,
    )


def test_plateau_stops_after_patience_evaluations_without_a_real_improvement():
    config = stopping(patience=3, min_delta=0.01)
    stopper, model = feed(train.EarlyStopping(config), [0.2, 0.5, 0.505, 0.509, 0.5, 0.9])
    assert stopper.stop_reason == "plateau" and len(stopper.curve) == 5  # 0.505 and 0.509 are not > 0.5 + 0.01
    metrics = stopper.metrics()
    assert metrics["best_step"] == 40 and metrics["best_valid_accuracy"] == 0.509  # the best, not the last
    assert metrics["still_rising"] is False
    stopper.restore_best(model)
    assert model.w.tolist() == [3.0, 3.0]  # the weights of the best evaluation came back


def test_no_plateau_stop_before_plateau_after_steps_so_a_late_riser_is_not_cut_in_its_flat_phase():
    flat_then_rising = [0.0] * 8 + [0.1, 0.4, 0.8, 0.8, 0.8, 0.8]
    early, _ = feed(train.EarlyStopping(stopping(patience=3, min_delta=0.01)), flat_then_rising)
    assert early.stop_reason == "plateau" and early.metrics()["best_valid_accuracy"] == 0.0  # cut at step 40
    late, _ = feed(train.EarlyStopping(stopping(patience=3, min_delta=0.01, plateau_after_steps=90)), flat_then_rising)
    assert late.stop_reason == "plateau" and late.curve[-1][0] == 140 and late.metrics()["best_valid_accuracy"] == 0.8
    assert stopping(plateau_after_steps=80).record_dict()["plateau_after_steps"] == 80
    assert "plateau_after_steps" not in stopping().record_dict()  # unset: cell keys as before


def test_target_stops_early_and_gives_steps_and_seconds_to_target():
    stopper, _ = feed(train.EarlyStopping(stopping(patience=5, target_accuracy=0.9)), [0.3, 0.6, 0.92, 0.99])
    metrics = stopper.metrics()
    assert metrics["stop_reason"] == "target" and metrics["steps_to_target"] == 30
    assert metrics["seconds_to_target"] == 2.0 and [p[0] for p in metrics["valid_curve"]] == [10, 20, 30]


def test_no_target_never_stops_on_target_and_zero_patience_never_plateaus():
    stopper, _ = feed(train.EarlyStopping(stopping(patience=0)), [0.5] * 30)
    assert stopper.stop_reason is None and stopper.metrics()["steps_to_target"] is None
    assert stopper.metrics()["still_rising"] is True  # nothing said it stopped learning


def test_a_rising_curve_is_still_rising():
    stopper, _ = feed(train.EarlyStopping(stopping(patience=2, min_delta=0.01)), [0.1, 0.2, 0.3, 0.4])
    assert stopper.stop_reason is None and stopper.metrics()["still_rising"] is True


def tiny(**extra):
    torch.manual_seed(0)
    model = build_model("mingru", vocab_size=16, d_model=8, n_layers=1, mlp_mult=0)
    task = get_task("selective-copy", vocab_size=16, num_data_tokens=2)
    config = TrainConfig(
        steps=12,
        lr=1e-2,
        weight_decay=0.0,
        warmup_steps=2,
        grad_clip=1.0,
        eval_batches=1,
        eval_batch_size=4,
        dtype="float32",
        eval_every=2,
        curve_batches=1,
        **extra,
    )
    return model, task, config


def test_train_records_every_early_stopping_field_and_scores_the_best_checkpoint():
    model, task, config = tiny(patience=0)
    metrics = train.train(model, task, 8, 4, 0, config, "cpu")
    assert metrics["stop_reason"] == "max_steps" and metrics["steps_trained"] == 12 == metrics["max_steps"]
    assert [point[0] for point in metrics["valid_curve"]] == [2, 4, 6, 8, 10, 12]
    seconds = [point[1] for point in metrics["valid_curve"]]
    assert seconds == sorted(seconds) and seconds[-1] <= metrics["train_s"] + 1e-3
    best = max(metrics["valid_curve"], key=lambda point: point[2])
    assert metrics["best_valid_accuracy"] == best[2]
    curve_config = dataclasses.replace(config, eval_batches=1)
    again = train.evaluate(model, task, 8, 0, curve_config, "cpu", split="valid")["accuracy"]
    assert again == metrics["best_valid_accuracy"]  # the model holds the best weights, not the last


def test_train_stops_on_a_plateau_and_the_time_guard_cuts():
    model, task, config = tiny(patience=1, min_delta=1.0)  # nothing can improve by more than 1
    metrics = train.train(model, task, 8, 4, 0, config, "cpu")
    assert metrics["stop_reason"] == "plateau" and metrics["steps_trained"] == 4 and not metrics["cut_by_time"]
    model, task, config = tiny(patience=0, time_limit_s=1e-9)
    metrics = train.train(model, task, 8, 4, 0, config, "cpu")
    assert metrics["stop_reason"] == "time_limit" and metrics["steps_trained"] == 1 and metrics["cut_by_time"]
    assert len(metrics["valid_curve"]) == 1  # scored at the stop


def test_the_step_budget_decides_the_schedule_not_the_stop():
    assert train.learning_rate(5, 1.0, 2, 10, "constant") == 1.0
    assert train.learning_rate(9, 1.0, 2, 10) < train.learning_rate(5, 1.0, 2, 10) < 1.0
    assert train.learning_rate(0, 1.0, 2, 10, "constant") == 0.5


@pytest.mark.parametrize("family", ["mingru", "transformer"])
def test_logits_at_scored_positions_equal_the_full_logits_there(family):
    torch.manual_seed(0)
    model = build_model(
        family, vocab_size=16, d_model=16, n_layers=1, mlp_mult=1, **({"n_heads": 2} if family == "transformer" else {})
    )
    batch = get_task("selective-copy", vocab_size=16, num_data_tokens=2).sample(torch.Generator().manual_seed(1), 3, 12)
    full = model(batch.inputs)
    assert torch.allclose(model(batch.inputs, positions=batch.mask), full[batch.mask], atol=1e-6)


@pytest.mark.parametrize("spec", ["mamba:reference", "mamba2:reference"])
def test_no_weight_decay_parameters_sit_in_a_decay_free_group(spec):
    torch.manual_seed(0)
    model = build_model(
        spec, vocab_size=16, d_model=16, n_layers=1, **({"headdim": 8} if spec.startswith("mamba2") else {})
    )
    optimizer = train.make_optimizer(model, 1e-3, 0.1)
    decayed = {id(p) for group in optimizer.param_groups if group["weight_decay"] > 0 for p in group["params"]}
    names = {id(p): name for name, p in model.named_parameters()}
    exempt = [name for name, p in model.named_parameters() if name.endswith(("A_log", "D"))]
    assert exempt and not any(id(p) in decayed for name, p in model.named_parameters() if name in exempt)
    assert any(names[i].endswith("in_proj.weight") for i in decayed)  # matrices still decay
