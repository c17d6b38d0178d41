"""A benchmark's result depends only on what defines it: an accuracy cell trained on an idle
machine and again with two CPU-burning processes competing for the cores gives the same steps,
stop reason and accuracy, bit for bit (same seed, same threads). Only its seconds differ, and the
record says how loaded the host was."""

import multiprocessing
import os

import pytest
import torch

from suite.measure.cell import run_cell
from suite.plan.overrides import apply_overrides
from suite.plan.planning import build_plan
from suite.plan.presets import PRESETS, get_preset
from suite.registry import builtin_task_names

SAME = (
    "status",
    "steps_trained",
    "stop_reason",
    "best_step",
    "best_valid_accuracy",
    "accuracy",
    "n_scored",
    "final_loss",
    "cut_by_time",
)


def burn(stop) -> None:
    while not stop.is_set():
        pass


def small_cell():
    preset = apply_overrides(
        get_preset("smoke"), ["train_steps=40", "eval_every=5", "patience=2", "min_delta=0.05", "target_accuracy=0.99"]
    )
    [cell] = build_plan(preset, models=["mingru"], tasks=["mqar"], kinds=("accuracy",))
    return cell


@pytest.fixture
def every_core():
    """Torch on every core (as a cell's child gets by default), so that the burners leave it none spare."""
    before = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    yield
    torch.set_num_threads(before)


def test_an_accuracy_cell_gives_the_same_result_on_an_idle_and_on_a_loaded_machine(every_core):
    cell = small_cell()
    [idle] = run_cell(cell, "cpu")
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    burners = [context.Process(target=burn, args=(stop,), daemon=True) for _ in range(2)]
    for burner in burners:
        burner.start()
    try:
        [loaded] = run_cell(cell, "cpu")
    finally:
        stop.set()
        for burner in burners:
            burner.join(10)
    assert idle["status"] == "ok", idle["error"]
    assert {name: idle[name] for name in SAME} == {name: loaded[name] for name in SAME}
    assert [point[::2] for point in idle["valid_curve"]] == [point[::2] for point in loaded["valid_curve"]]
    assert idle["stop_reason"] in ("plateau", "max_steps", "target")
    # the load is recorded: it explains the seconds, not the result
    assert loaded["other_busy_cores"] is not None and loaded["other_busy_cores"] > 0.5
    assert loaded["train_time_noisy"] and "cores busy" in loaded["train_time_noisy_reason"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_no_built_in_preset_stops_training_on_the_wall_clock(name):
    preset = PRESETS[name]
    assert preset.time_limit_s is None
    # Real-data tasks need their data set to be planned; their cells take the same stopping group.
    tasks = [task for task in (preset.tasks or builtin_task_names()) if task in builtin_task_names()]
    cells = (
        build_plan(preset, models=["mingru"], tasks=tasks, kinds=("accuracy",), device=preset.device)
        if "accuracy" in (preset.kinds or ("accuracy",)) and tasks
        else []
    )
    assert all("time_limit_s" not in cell.train_config for cell in cells)


def test_the_time_guard_cuts_and_says_so():
    preset = apply_overrides(get_preset("smoke"), ["train_steps=40", "time_limit_s=1e-6"])
    [cell] = build_plan(preset, models=["mingru"], tasks=["mqar"], kinds=("accuracy",))
    [record] = run_cell(cell, "cpu")
    assert record["status"] == "ok" and record["stop_reason"] == "time_limit" and record["cut_by_time"]
    assert record["steps_trained"] == 1 and record["time_limit_s"] == 1e-6
