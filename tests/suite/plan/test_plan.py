import pytest

from suite.plan.planning import build_plan
from suite.plan.presets import PRESETS, get_preset, resolve_dtype
from suite.naming import UnknownName
from suite.registry import builtin_family_names, builtin_task_names


def test_every_family_and_task_in_an_all_plan():
    cells = build_plan(get_preset("smoke"))
    accuracy = {(c.family, c.task) for c in cells if c.kind == "accuracy"}
    # the smoke grid keeps its three recall tasks (CI time, the committed baseline); new tasks are opt-in
    assert get_preset("smoke").tasks == ("mqar", "selective-copy", "needle")
    assert accuracy == {(f, t) for f in builtin_family_names() for t in get_preset("smoke").tasks}
    every = build_plan(get_preset("smoke"), tasks=["all"], kinds=("accuracy",))
    assert {c.task for c in every} == set(builtin_task_names())
    assert {c.family for c in cells if c.kind == "perf"} == set(builtin_family_names())


def test_cpu_default_adds_the_sequential_baselines_to_perf_cells_only():
    cells = build_plan(get_preset("cpu"))
    perf_models = {c.model for c in cells if c.kind == "perf"}
    assert {"gru:loop", "lstm:loop"} <= perf_models
    assert not {"gru:loop", "lstm:loop"} & {c.model for c in cells if c.kind == "accuracy"}


def test_cell_keys_are_stable_and_distinct():
    first = build_plan(get_preset("smoke"), seeds=(0, 1))
    second = build_plan(get_preset("smoke"), seeds=(0, 1))
    assert [c.key for c in first] == [c.key for c in second]
    assert len({c.key for c in first}) == len(first)


def test_key_changes_with_the_configuration():
    smoke = build_plan(get_preset("smoke"), models=["mingru"], tasks=["mqar"], kinds=("accuracy",))[0]
    tiny = build_plan(get_preset("tiny"), models=["mingru"], tasks=["mqar"], seq_lens=[64], kinds=("accuracy",))[0]
    assert (smoke.model, smoke.task, smoke.seq_len) == (tiny.model, tiny.task, tiny.seq_len)
    assert smoke.key != tiny.key


def test_task_overrides_of_steps_and_batch():
    preset = get_preset("cpu-full")
    cells = {c.task: c for c in build_plan(preset, models=["gru"], kinds=("accuracy",))}
    assert cells["mqar"].batch_size == preset.task_train["mqar"]["batch_size"]
    assert cells["mqar"].training.steps == preset.training.task_train["mqar"]["train_steps"]
    assert cells["mqar"].training.max_steps_key == "task_train.mqar.train_steps"
    assert cells["selective-copy"].training.steps == preset.training.train_steps


def test_dtype_follows_the_device():
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("auto", "cuda:0") == "bfloat16-autocast"
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("fp8", "cpu")
    cells = build_plan(get_preset("tiny"), models=["mingru"], device="cuda:0")
    assert all(c.dtype == "bfloat16-autocast" for c in cells)


def test_unknown_names_fail_before_anything_runs():
    with pytest.raises(UnknownName):
        build_plan(get_preset("tiny"), models=["mingru", "mambaa"])
    with pytest.raises(UnknownName):
        get_preset("standrad")


def test_presets_document_themselves():
    for preset in PRESETS.values():
        assert preset.description and preset.name
