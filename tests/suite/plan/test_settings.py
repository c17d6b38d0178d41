"""The typed settings of a run: one validate() each, one-line usage errors, and a run option
that is a field of RunOptions and a flag of ``run``, nothing else."""

import argparse
import pickle

import pytest

from suite.commands import run
from suite.commands.arguments import OneLineParser
from suite.errors import UsageError
from suite.executors.options import ExecutorOptions, ExecutorUsageError, plan_executor
from suite.plan.settings import ChildSettings, Dispatch, RunContext, RunOptions


def run_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m suite run")
    run.add_arguments(parser)
    return parser


def test_every_run_option_is_a_flag_and_every_run_defining_flag_an_option():
    dests = {action.dest for action in run_parser()._actions}
    executor_flags = {name for name in ExecutorOptions.__dataclass_fields__}
    not_stored = {"help", "out", "resume", "report", "no_report"}  # where and how, not which cells
    assert set(RunOptions.names()) <= dests
    assert dests - set(RunOptions.names()) - executor_flags == not_stored


def test_unset_flags_take_the_defaults_of_the_fields():
    from suite.commands.run_state import run_options

    options = run_options(run_parser().parse_args([]), None)
    assert options == RunOptions()
    assert run_options(run_parser().parse_args(["--seeds", "0,1", "--threads", "2"]), None).seeds == [0, 1]


@pytest.mark.parametrize(
    "options, message",
    [
        (RunOptions(kinds=["accuracy", "speed"]), "unknown --kinds speed"),
        (RunOptions(train_len=[64], seq_lens=[32]), "--train-len takes one length"),
        (RunOptions(perf_repeats=0), "--perf-repeats must be at least 1"),
        (RunOptions(threads=0), "--threads must be from 1 to"),
        (RunOptions(cell_timeout=-1.0), "--cell-timeout must be a positive"),
        (RunOptions(find_max_len=True, isolation="none"), "drop --isolation none"),
        (RunOptions(max_len_start=512, max_len_limit=256), "--max-len-start must be positive"),
    ],
)
def test_run_options_refuse_what_cannot_make_a_run_in_one_line(options, message):
    with pytest.raises(UsageError) as error:
        options.validate()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_child_settings_context_and_dispatch_validate():
    with pytest.raises(UsageError, match="--mem-limit must be positive"):
        ChildSettings(mem_limit_bytes=0).validate()
    with pytest.raises(UsageError, match="torch threads must be at least 1"):
        Dispatch("cpu", RunContext(torch_threads=0)).validate()
    with pytest.raises(UsageError, match="timeout must be positive"):
        Dispatch("cpu", timeout_s=0).validate()
    dispatch = Dispatch("cuda", RunContext(run_id="r"), ChildSettings(threads=2), 60.0).validate()
    pinned = dispatch.pinned("3")
    assert pinned.settings.cuda_visible_devices == "3" and dispatch.settings.cuda_visible_devices is None
    assert dispatch.pinned(None) is dispatch
    assert pickle.loads(pickle.dumps(pinned)) == pinned  # it travels to children, Ray tasks and Slurm jobs


def test_a_resume_takes_the_options_of_an_older_manifest(tmp_path):
    """Unset flags come from the manifest; a field added since the run began takes its default;
    a flag that contradicts the manifest is refused in one line."""
    import json

    from suite.commands.run_state import run_options
    from suite.records.manifest import ResumeError

    stored = {**RunOptions(seeds=[3], preset="tiny").as_dict(), "no_longer_an_option": 1}
    stored.pop("tf32")
    (tmp_path / "manifest.json").write_text(json.dumps({"run_id": "old", "options": stored}))
    resumed = run_options(run_parser().parse_args(["--resume", "--out", str(tmp_path)]), tmp_path)
    assert resumed == RunOptions(seeds=[3], preset="tiny")
    with pytest.raises(ResumeError, match="was made with --seeds"):
        run_options(run_parser().parse_args(["--resume", "--seeds", "4"]), tmp_path)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--ray-num-cpus", "2"], "--ray-* options need --executor ray"),
        (["--slurm-partition", "gpu"], "--slurm-* options need --executor slurm"),
        (["--cpus-per-cell", "0"], "--cpus-per-cell must be positive"),
        (["--jobs", "2", "--isolation", "none"], "drop --isolation none"),
    ],
)
def test_executor_options_validate_against_the_run(argv, message):
    args = run_parser().parse_args(argv)
    from suite.commands.run_state import run_options

    with pytest.raises(ExecutorUsageError) as error:
        plan_executor(ExecutorOptions.from_args(args), run_options(args, None), "cpu", [])
    assert message in str(error.value)
    assert isinstance(error.value, UsageError)


class PerfCell:
    kind = "perf"


def test_a_four_job_cpu_plan_splits_threads_and_times_perf_cells_alone(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    args = run_parser().parse_args(["--jobs", "4"])
    plan = plan_executor(ExecutorOptions.from_args(args), RunOptions(), "cpu", [PerfCell()])
    assert (plan.label, plan.threads, plan.at_once, plan.shares_cores) == ("local --jobs 4", 2, 4, False)
    assert plan.timed_alone and plan.timed_threads is None  # alone: torch's default threads
    notes = plan.manifest()
    assert notes["timed_cells_alone"] and notes["cells_at_once"] == 4 and "gpu_ids" not in notes


def test_a_local_cluster_with_perf_cells_side_by_side_shares_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    args = run_parser().parse_args(["--executor", "slurm", "--slurm-cluster", "local", "--jobs", "4"])
    plan = plan_executor(ExecutorOptions.from_args(args), RunOptions(), "cpu", [PerfCell()])
    assert plan.shares_cores and not plan.timed_alone
    assert plan.manifest()["timed_cells_shared_cores"]


def test_a_remote_cell_may_have_more_threads_than_this_machine_has_cores(monkeypatch):
    """--cpus-per-cell sizes cells on worker nodes: the local-core bound is --threads' alone."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    args = run_parser().parse_args(["--executor", "slurm", "--slurm-cluster", "local", "--cpus-per-cell", "32"])
    plan = plan_executor(ExecutorOptions.from_args(args), RunOptions(), "cpu", [])
    assert plan.threads == 32 and ChildSettings(threads=plan.threads).validate().threads == 32
    with pytest.raises(UsageError, match="--threads must be from 1 to 8"):
        RunOptions(threads=32).validate()
