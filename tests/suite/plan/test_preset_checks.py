"""Every preset value no run can use is named, with what it must be."""

import pytest

from suite.plan.preset_checks import PresetValueError, value_problems
from suite.plan.preset_groups import Preset

VALID = Preset(name="p", description="d")


class Changed:
    """A valid preset with some fields changed, bypassing the check ``Preset()`` makes."""

    def __init__(self, **changes):
        self.changes = changes

    def __getattr__(self, name):
        return self.changes[name] if name in self.changes else getattr(VALID, name)


def test_a_valid_preset_has_no_problems():
    assert value_problems(VALID) == []


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"lr": 0}, "lr must be a positive, finite number, got 0"),
        ({"grad_clip": float("inf")}, "grad_clip must be a positive, finite number, got inf"),
        ({"weight_decay": -0.1}, "weight_decay must be a finite number >= 0, got -0.1"),
        ({"d_model": 0}, "d_model must be an integer >= 1, got 0"),
        ({"batch_size": True}, "batch_size must be an integer >= 1, got True"),
        ({"train_steps": 2.0}, "train_steps must be an integer >= 1, got 2.0"),
        ({"warmup_steps": -1}, "warmup_steps must be an integer >= 0, got -1"),
        ({"seq_lens": (64, 0)}, "seq_lens must hold integers >= 1, got (64, 0)"),
        ({"perf_vocab_size": 1}, "perf_vocab_size must be an integer >= 2, got 1"),
        ({"family_lr": {"gru": -1}}, "family_lr.gru must be a positive, finite number, got -1"),
        ({"task_train": {"mqar": {"lr": 1}}}, "task_train.mqar takes train_steps and batch_size, got 'lr'"),
        ({"task_train": {"mqar": {"batch_size": 0}}}, "task_train.mqar.batch_size must be an integer >= 1, got 0"),
        ({"task_seq_lens": {"mqar": 0}}, "task_seq_lens.mqar must hold integers >= 1, got 0"),
        ({"target_accuracy": 1.5}, "target_accuracy must be in (0, 1] (or none), got 1.5"),
        ({"time_limit_s": 0}, "time_limit_s must be a positive number of seconds (or none), got 0"),
        ({"target_loss": 0.0}, "target_loss must be a positive loss in nats per token (or none), got 0.0"),
        ({"recall_ngram": 0}, "recall_ngram must be an integer >= 1, got 0"),
        ({"lr_schedule": "linear"}, "lr_schedule must be one of cosine, constant, got 'linear'"),
        ({"device": "tpu"}, "device must be one of cpu, cuda, got 'tpu'"),
    ],
)
def test_each_bad_value_is_one_problem_naming_the_field(changes, problem):
    assert value_problems(Changed(**changes)) == [problem]


def test_every_problem_is_listed_and_the_error_keeps_the_first():
    problems = value_problems(Changed(lr=-1, dtype="float16"))
    assert len(problems) == 2 and problems[0].startswith("lr ") and problems[1].startswith("dtype ")
    error = PresetValueError("preset p: " + problems[0], problems[0])
    assert error.problem == problems[0]
