"""Which values each preset field accepts, checked on every preset: built-in, ``--set`` or ``--config``.

A value no run can use stops the run before it starts with one line naming the field, the value and
what it must be (:class:`PresetValueError`, exit 2). Fields are read by their flat names
(:mod:`suite.plan.preset_groups`).
"""

from __future__ import annotations

import math

from suite.errors import UsageError
from suite.plan.settings import MAX_SEED

LR_SCHEDULES = ("cosine", "constant")
DTYPES = ("auto", "float32", "bfloat16-autocast")
DEVICES = ("cpu", "cuda")


class PresetValueError(UsageError):
    """A preset field holds a value no run can use; ``problem`` says which and why, without the preset's name."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


# Which values each preset field accepts (checked on every preset, built-in, --set or --config).
POSITIVE_RATES = ("lr", "grad_clip", "cell_timeout_s")  # > 0 and finite
NON_NEGATIVE_NUMBERS = ("weight_decay", "min_delta", "perf_min_time_s")  # >= 0 and finite
COUNTS = (
    "d_model",
    "n_layers",
    "train_steps",
    "batch_size",
    "eval_batches",
    "eval_batch_size",
    "curve_batches",
    "perf_batch_size",
    "perf_repeats",
    "decode_tokens",
    "recall_ngram",
)  # integers >= 1
# integers >= 0
NON_NEGATIVE_COUNTS = ("mlp_mult", "warmup_steps", "eval_every", "patience", "plateau_after_steps", "perf_warmup")
LENGTH_LISTS = ("seq_lens", "eval_lens", "d_models", "n_layers_grid", "perf_seq_lens", "energy_seq_lens")
TASK_TRAIN_KEYS = ("train_steps", "batch_size")


def _is_count(value, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def value_problems(preset) -> list[str]:
    """Every field whose value no run can use, each as ``field must be ..., got value`` (empty: none)."""
    problems = [
        f"{name} must be a positive, finite number, got {getattr(preset, name)!r}"
        for name in POSITIVE_RATES
        if not (_is_number(getattr(preset, name)) and getattr(preset, name) > 0)
    ]
    problems += [
        f"{name} must be a finite number >= 0, got {getattr(preset, name)!r}"
        for name in NON_NEGATIVE_NUMBERS
        if not (_is_number(getattr(preset, name)) and getattr(preset, name) >= 0)
    ]
    problems += [
        f"{name} must be an integer >= 1, got {getattr(preset, name)!r}"
        for name in COUNTS
        if not _is_count(getattr(preset, name), 1)
    ]
    problems += [
        f"{name} must be an integer >= 0, got {getattr(preset, name)!r}"
        for name in NON_NEGATIVE_COUNTS
        if not _is_count(getattr(preset, name), 0)
    ]
    problems += [
        f"{name} must hold integers >= 1, got {getattr(preset, name)!r}"
        for name in LENGTH_LISTS
        if not all(_is_count(value, 1) for value in getattr(preset, name))
    ]
    if not all(_is_count(seed, 0) and seed <= MAX_SEED for seed in preset.seeds):
        problems.append(f"seeds must hold integers from 0 to 2**32-1, got {preset.seeds!r}")
    if not all(_is_number(m) and m > 0 for m in preset.eval_len_multiples):
        problems.append(f"eval_len_multiples must hold positive numbers, got {preset.eval_len_multiples!r}")
    if not (_is_count(preset.perf_vocab_size, 2)):
        problems.append(f"perf_vocab_size must be an integer >= 2, got {preset.perf_vocab_size!r}")
    for family, rate in preset.family_lr.items():
        if not (_is_number(rate) and rate > 0):
            problems.append(f"family_lr.{family} must be a positive, finite number, got {rate!r}")
    for task, table in preset.task_train.items():
        for key, value in table.items() if isinstance(table, dict) else [("", table)]:
            if key not in TASK_TRAIN_KEYS:
                problems.append(f"task_train.{task} takes {' and '.join(TASK_TRAIN_KEYS)}, got {key or table!r}")
            elif not _is_count(value, 1):
                problems.append(f"task_train.{task}.{key} must be an integer >= 1, got {value!r}")
    for task, lengths in preset.task_seq_lens.items():
        if not all(_is_count(value, 1) for value in (lengths if isinstance(lengths, (list, tuple)) else [lengths])):
            problems.append(f"task_seq_lens.{task} must hold integers >= 1, got {lengths!r}")
    if preset.time_limit_s is not None and not (_is_number(preset.time_limit_s) and preset.time_limit_s > 0):
        problems.append(f"time_limit_s must be a positive number of seconds (or none), got {preset.time_limit_s!r}")
    if preset.target_accuracy is not None and not (
        _is_number(preset.target_accuracy) and 0 < preset.target_accuracy <= 1
    ):
        problems.append(f"target_accuracy must be in (0, 1] (or none), got {preset.target_accuracy!r}")
    if not (_is_number(preset.dropout) and 0 <= preset.dropout < 1):
        problems.append(f"dropout must be a number in [0, 1), got {preset.dropout!r}")
    if preset.target_loss is not None and not (_is_number(preset.target_loss) and preset.target_loss > 0):
        problems.append(f"target_loss must be a positive loss in nats per token (or none), got {preset.target_loss!r}")
    for name, allowed in (("lr_schedule", LR_SCHEDULES), ("dtype", DTYPES), ("device", DEVICES)):
        if getattr(preset, name) not in allowed:
            problems.append(f"{name} must be one of {', '.join(allowed)}, got {getattr(preset, name)!r}")
    return problems


# Learning rates per family for the small CPU presets, from a two-point sweep
# {3e-3, 1e-2} on mqar and selective-copy (d_model 64, 2 layers, 250 steps,
# seed 0), keeping each family's better rate as Zoology and MAD-lab keep each
# model's best: 1e-2 lifted mamba (mqar 13.5% -> 24.9%, selective-copy
# 7.5% -> 15.6%), mingru and gru, and sank the transformer (mqar 99.8% -> 24.9%)
