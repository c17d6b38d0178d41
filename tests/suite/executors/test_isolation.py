"""Every cell in its own process: each way a cell can fail becomes a record with the
right status while the other cells finish; a killed run resumes without losing or
duplicating a cell."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suite.commands.cli import main
from suite.progress import EXIT_CELLS_FAILED
from suite.records.store import read_records

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = str(Path(__file__).with_name("crashy_plugin.py"))


def run(out, *extra):
    return main(
        ["run", "--preset", "tiny", "--tasks", "mqar", "--no-report", "--plugin", PLUGIN, "--out", str(out), *extra]
    )


@pytest.fixture(scope="module")
def crashy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("crashy") / "run"
    specs = "crashy:raise,crashy:exit,crashy:segfault,crashy:hang,crashy:allocate,crashy:nan,crashy:fine,mingru"
    console = io.StringIO()
    with contextlib.redirect_stderr(console):
        code = run(out, "--models", specs, "--kinds", "accuracy", "--cell-timeout", "10", "--mem-limit", "1GiB")
    assert code == EXIT_CELLS_FAILED  # cells ended in error and timeout; every other cell still ran
    return {"console": console.getvalue(), **{record["model"]: record for record in read_records(out)}}


def test_the_console_names_every_failed_cell_with_its_error_line(crashy_run):
    console = crashy_run["console"]
    for spec in ("crashy:raise", "crashy:exit", "crashy:segfault", "crashy:hang", "crashy:allocate", "crashy:nan"):
        record = crashy_run[spec]
        assert f"{record['status']}: {spec} mqar T=32 seed=0: {record['error']}" in console
    assert "crashy:fine mqar" not in console.split("cells in")[-1]  # the account lists failures only


@pytest.mark.parametrize(
    "spec, status, message",
    [
        ("crashy:raise", "error", "this mixer always fails"),
        ("crashy:exit", "error", "exited with code 139"),
        ("crashy:segfault", "error", "SIGSEGV"),
        ("crashy:hang", "timeout", "no result within 10 s"),
        ("crashy:allocate", "oom", "allocate"),
        ("crashy:nan", "nan", "nan"),
    ],
)
def test_each_failure_is_a_record_with_its_status(crashy_run, spec, status, message):
    record = crashy_run[spec]
    assert record["status"] == status, record["error"]
    assert message in record["error"]
    assert "\n" not in record["error"]


def test_healthy_cells_around_the_failures_finish(crashy_run):
    assert crashy_run["crashy:fine"]["status"] == "ok"
    assert crashy_run["mingru"]["status"] == "ok" and crashy_run["mingru"]["accuracy"] is not None


def test_killed_run_resumes_with_every_cell_exactly_once(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "suite",
        "run",
        "--preset",
        "tiny",
        "--models",
        "mingru,gru,lstm",
        "--no-report",
        "--out",
        str(out),
    ]
    driver = subprocess.Popen(
        command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    records = out / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not records.exists() or records.read_text().count("\n") < 3):
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    written = records.read_text().count("\n")
    assert 3 <= written
    with records.open("a") as file:
        file.write('{"torn": ')  # what a write cut by the kill looks like
    with pytest.warns(UserWarning, match="torn"):
        assert main(["run", "--resume", "--out", str(out), "--no-report"]) == 0
    keys = [record["cell_key"] for record in read_records(out)]
    assert len(keys) == len(set(keys)) == 12  # 3 models x 3 tasks + 3 perf cells
    assert all(line.strip().endswith("}") for line in records.read_text().splitlines())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished"


def test_resume_refuses_contradicting_options(tmp_path, capsys):
    out = tmp_path / "run"
    assert run(out, "--models", "mingru", "--kinds", "perf") == 0
    assert main(["run", "--resume", "--out", str(out), "--models", "gru"]) == 2
    assert "was made with --models" in capsys.readouterr().err
    assert main(["run", "--resume", "--out", str(out), "--no-report"]) == 0  # nothing left: no duplicates
    assert len(read_records(out)) == 1


def test_same_seed_and_threads_give_identical_results(tmp_path):
    results = []
    for name in ("a", "b"):
        assert run(tmp_path / name, "--models", "mingru,transformer", "--kinds", "accuracy", "--threads", "1") == 0
        results.append([(r["model"], r["final_loss"], r["accuracy"]) for r in read_records(tmp_path / name)])
    assert results[0] == results[1]


def test_find_max_len_records_a_boundary_per_model_and_reports_it(tmp_path):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--preset",
            "smoke",
            "--models",
            "mingru,transformer",
            "--kinds",
            "perf",
            "--perf-seq-lens",
            "64",
            "--find-max-len",
            "--max-len-start",
            "1024",
            "--mem-limit",
            "600MiB",
            "--out",
            str(out),
            "--report",
            str(tmp_path / "report.html"),
        ]
    )
    assert code == 0
    boundaries = {r["model"]: r for r in read_records(out) if r["kind"] == "max_len"}
    assert set(boundaries) == {"mingru", "transformer"}
    for boundary in boundaries.values():
        assert boundary["status"] == "ok"
        assert boundary["max_seq_len"] >= 1024
        assert boundary["first_failing_len"] == 2 * boundary["max_seq_len"]
        assert boundary["first_failing_status"] == "oom", boundary["first_failing_error"]
    assert "Out-of-memory boundary" in (tmp_path / "report.html").read_text()


def test_max_len_probes_and_their_boundary_pass_through_the_record_sink(monkeypatch):
    """Every record of a max-len search, probes and boundary, is handed to the run's RecordSink (the
    single writer); probes move the progress bar (found, not planned), the boundary does not."""
    from suite.executors import RecordSink, max_len
    from suite.plan.presets import get_preset
    from suite.plan.settings import Dispatch, RunContext
    from suite.progress import Progress

    class Writer:
        path = "run/records.jsonl"

        def __init__(self):
            self.records = []

        def append(self, record):
            self.records.append(record)

    def probe(cell, dispatch):  # a probe's child: lengths up to 32 fit, 64 does not
        fits = cell.seq_len <= 32
        error = None if fits else "RuntimeError: DefaultCPUAllocator: can't allocate memory"
        return [{"cell_key": cell.key, "seq_len": cell.seq_len, "status": "ok" if fits else "oom", "error": error}]

    class Sink(RecordSink):  # notes each record handed to it: one written past it would be missing here
        handed: list = []

        def put(self, records, label=None):
            self.handed.extend(id(record) for record in records)
            super().put(records, label)

        def put_derived(self, record):
            self.handed.append(id(record))
            super().put_derived(record)

    monkeypatch.setattr(max_len, "run_one", probe)
    writer, progress = Writer(), Progress(0, stream=io.StringIO())
    sink = Sink(writer, progress)
    boundary = max_len.search("mingru", get_preset("tiny"), Dispatch("cpu", RunContext(run_id="r")), sink, {}, 16, 256)
    assert [r["seq_len"] for r in writer.records] == [16, 32, 64, 0] and writer.records[-1] is boundary
    assert sink.handed == [id(record) for record in writer.records]
    assert (boundary["max_seq_len"], boundary["first_failing_len"], boundary["first_failing_status"]) == (32, 64, "oom")
    assert progress.done == progress.total == 3


def test_ctrl_c_kills_the_cell_keeps_the_records_and_says_how_to_resume(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "suite",
        "run",
        "--preset",
        "tiny",
        "--models",
        "mingru,gru,lstm",
        "--no-report",
        "--out",
        str(out),
    ]
    driver = subprocess.Popen(
        command, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    records = out / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not records.exists() or records.read_text().count("\n") < 2):
        time.sleep(0.05)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == 130
    assert f"--resume --out {out}" in err
    lines = records.read_text().splitlines()
    assert lines and all(json.loads(line) for line in lines)  # nothing half-written
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    assert main(["run", "--resume", "--out", str(out), "--no-report"]) == 0
    keys = [record["cell_key"] for record in read_records(out)]
    assert len(keys) == len(set(keys)) == 12
