"""``--executor local --jobs N`` gives the records of one job, its timed cells run after the
others and alone; executor options that cannot work are one line and exit 2 before anything is
written; without Ray or submitit the executor says what to install; shared cores are noted and
reported."""

import json

import pytest

from suite.commands.cli import main
from suite.executors import options as executor_options
from suite.plan.settings import RunOptions
from suite.records.store import read_records

SAME_FIELDS = ("status", "accuracy", "seq_accuracy", "final_loss", "params", "backend", "torch_threads")


def tiny(out, *extra):
    return main(
        ["run", "--preset", "tiny", "--models", "mingru,gru,transformer", "--threads", "1", "--out", str(out), *extra]
    )


def test_two_local_jobs_give_the_records_of_one_and_time_perf_cells_alone(tmp_path):
    assert tiny(tmp_path / "one", "--no-report") == 0
    assert tiny(tmp_path / "two", "--jobs", "2", "--report", str(tmp_path / "two.html")) == 0
    one = {r["cell_key"]: r for r in read_records(tmp_path / "one")}
    written = read_records(tmp_path / "two")
    two = {r["cell_key"]: r for r in written}
    assert set(one) == set(two) and len(one) == 12
    for key, record in one.items():
        assert all(two[key].get(field) == record.get(field) for field in SAME_FIELDS), record["model"]
    assert {r["executor"] for r in two.values()} == {"local --jobs 2"}
    kinds = [record["kind"] for record in written]
    assert kinds.index("perf") > max(i for i, kind in enumerate(kinds) if kind == "accuracy")  # timed cells last
    notes = json.loads((tmp_path / "two" / "manifest.json").read_text())["executors"][-1]
    assert notes["timed_cells_alone"] is True and notes["timed_cells_shared_cores"] is False
    assert "timed cells ran side by side on the same CPU cores" not in (tmp_path / "two.html").read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--executor", "ray", "--jobs", "2"], "--jobs does not apply to --executor ray"),
        (["--ray-address", "auto"], "--ray-* options need --executor ray"),
        (["--slurm-partition", "gpu"], "--slurm-* options need --executor slurm"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--executor", "ray", "--isolation", "none"], "drop --isolation none"),
        (["--jobs", "2", "--isolation", "none"], "drop --isolation none"),
        (["--executor", "slurm"], "no `sbatch` on this machine"),
        (["--executor", "ray", "--cpus-per-cell", "0"], "--cpus-per-cell must be positive"),
    ],
)
def test_bad_executor_options_are_one_line_and_write_nothing(tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert tiny(out, "--no-report", *extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "executor, package, hint",
    [("ray", "ray", "pip install -e '.[ray]'"), ("slurm", "submitit", "pip install -e '.[slurm]'")],
)
def test_missing_package_says_what_to_install(tmp_path, capsys, monkeypatch, executor, package, hint):
    real = executor_options.importlib.util.find_spec
    monkeypatch.setattr(
        executor_options.importlib.util, "find_spec", lambda name, *args: None if name == package else real(name, *args)
    )
    assert tiny(tmp_path / "run", "--no-report", "--executor", executor, "--slurm-cluster", "local") == 2
    err = capsys.readouterr().err.strip()
    assert hint in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_a_plugin_travels_as_text_and_loads_where_its_file_does_not_exist(tmp_path):
    from suite.plugins import load_plugin_sources, plugin_sources
    from suite.registry import model_family_names

    plugin = tmp_path / "shipped_plugin.py"
    plugin.write_text(
        "from suite import register_model\n"
        "from tests.suite.executors.crashy_plugin import Crashy\n"
        "register_model('shipped', lambda d_model, backend, layer_index: Crashy(d_model, backend),"
        " backends=('fine',))\n"
    )
    sources = plugin_sources([plugin])
    plugin.unlink()
    assert "shipped" not in model_family_names()
    load_plugin_sources(sources)
    assert "shipped" in model_family_names()


def test_a_pinned_child_sees_only_its_gpu():
    import os

    from suite.executors import isolated

    from suite.plan.settings import ChildSettings

    result, failure = isolated.call_in_child(
        os.getenv, ("CUDA_VISIBLE_DEVICES",), ChildSettings(cuda_visible_devices="3"), 60
    )
    assert failure is None and result == "3"


def test_local_jobs_pin_one_gpu_each_round_robin(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    assert executor_options.visible_gpu_ids() == ["4", "6"]
    args = executor_options_args("--jobs", "3")
    plan = executor_options.plan_executor(executor_options.ExecutorOptions.from_args(args), RunOptions(), "cuda:0", [])
    assert plan.options == {"jobs": 3, "gpu_ids": ["4", "6"]} and plan.label == "local --jobs 3"


def executor_options_args(*argv):
    import argparse

    parser = argparse.ArgumentParser()
    executor_options.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_ctrl_c_with_two_jobs_kills_the_running_children_and_keeps_the_records(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "suite",
        "run",
        "--preset",
        "tiny",
        "--tasks",
        "mqar",
        "--kinds",
        "accuracy",
        "--plugin",
        str(Path(__file__).with_name("crashy_plugin.py")),
        "--models",
        "mingru,crashy:hang",
        "--cell-timeout",
        "300",
        "--jobs",
        "2",
        "--threads",
        "1",
        "--no-report",
        "--out",
        str(out),
    ]
    driver = subprocess.Popen(
        command, cwd=root, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    records = out / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not records.exists() or records.read_text().count("\n") < 1):
        time.sleep(0.05)
    time.sleep(1)  # the other slot holds the hanging cell
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=60)  # the hanging children are killed, not waited for
    assert driver.returncode == 130, err[-2000:]
    assert f"--resume --out {out}" in err
    assert [r["model"] for r in read_records(out)] == ["mingru"]
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
