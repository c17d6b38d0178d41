"""`run`, `report` and `bench` as a new user meets them: where the report goes, outputs refused
before the first cell, --resume that keeps what started the run, Ctrl-C while the report is
written, and bench shapes that cannot fit refused in one line."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from suite.commands import bench_summary
from suite.commands.cli import build_parser, main
from suite.plan.presets import PRESETS
from suite.records.schema import validate
from suite.records.store import read_manifest, read_records

ROOT = Path(__file__).resolve().parents[3]
TINY = ["run", "--preset", "tiny", "--models", "mingru", "--tasks", "mqar", "--kinds", "accuracy"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One finished one-cell run, its report where no --report puts it: in --out."""
    out = tmp_path_factory.mktemp("cli") / "run"
    argv = [*TINY, "--out", str(out)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["suite", *argv])  # what the manifest records as the command
        assert main(argv) == 0
    return out


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_the_report_goes_in_out_and_the_console_says_where(tiny_run, tmp_path, capsys):
    assert (tiny_run / "report.html").is_file()
    out = tmp_path / "again"
    assert main([*TINY, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"report {out / 'report.html'}" in captured.err  # said when the run starts ...
    assert f"report: {out / 'report.html'}" in captured.out  # ... and when it is written
    assert not list(out.glob(".*.tmp-*"))


@pytest.mark.parametrize("report", ["/proc/suite-report.html", "{tmp}/a-file/report.html", "{tmp}"])
def test_an_unwritable_report_is_refused_before_the_first_cell(report, tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "run"
    assert main([*TINY, "--out", str(out), "--report", report.format(tmp=tmp_path)]) == 2
    assert "--report" in one_error_line(capsys) and not out.exists()


def test_an_out_that_cannot_take_its_report_is_refused_naming_out(capsys):
    assert main([*TINY, "--out", "/proc/suite-run"]) == 2
    assert one_error_line(capsys).startswith("error: --out /proc/suite-run cannot be written")


def test_a_report_never_overwrites_the_runs_own_files_or_other_files(tmp_path, capsys):
    out, notes = tmp_path / "run", tmp_path / "notes.txt"
    notes.write_text("mine")
    assert main([*TINY, "--out", str(out), "--report", str(out / "records.jsonl")]) == 2
    assert "the run's own records.jsonl" in one_error_line(capsys) and not out.exists()
    assert main([*TINY, "--out", str(out), "--report", str(notes)]) == 2
    assert "not an HTML report" in one_error_line(capsys) and notes.read_text() == "mine"


def test_the_report_command_refuses_an_unwritable_out(tiny_run, capsys):
    assert main(["report", str(tiny_run), "--out", "/proc/x.html"]) == 2
    assert "--out /proc/x.html cannot be written" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("setting", "said"),
    [("task_params.mqar.vocab_size=-1", "vocab_size=-1 gives"), ("task_params.mqar.bogus=3", "'bogus'")],
)
def test_task_parameters_the_task_refuses_are_one_line_and_nothing_written(setting, said, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--set", setting, "--out", str(out)]) == 2
    error = one_error_line(capsys)
    assert error.startswith("error: task_params.mqar ") and said in error and "--set task_params.mqar." in error
    assert not out.exists()


def test_resume_of_a_folder_that_never_held_a_run_is_refused(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*TINY, "--resume", "--out", str(empty)]) == 2
    assert "never held a run" in one_error_line(capsys) and list(empty.iterdir()) == []
    (empty / "notes.txt").write_text("")
    assert main([*TINY, "--resume", "--out", str(empty)]) == 2
    assert "never held a run" in one_error_line(capsys)
    assert [path.name for path in empty.iterdir()] == ["notes.txt"]


def test_resume_keeps_the_command_that_started_the_run(tiny_run, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    started = read_manifest(run)["command"]
    assert started[3:] == [*TINY, "--out", str(tiny_run)]
    monkeypatch.setattr(sys, "argv", ["suite", "run", "--resume", "--out", str(run)])
    for _ in range(2):
        assert main(sys.argv[1:]) == 0
    manifest = read_manifest(run)
    assert manifest["command"] == started
    assert [entry["command"][3:] for entry in manifest["resumes"]] == [["run", "--resume", "--out", str(run)]] * 2
    assert all(entry["at"] for entry in manifest["resumes"])
    assert " ".join(TINY) in (run / "report.html").read_text()  # the report's Provenance: the first command


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--set", "train_steps=3"], "made with no --set, this command says --set train_steps=3"),
        (["--seeds", "1,2"], "made with --seeds 0, this command says --seeds 1,2"),
        (["--config", "x.toml"], "made with no --config, this command says --config x.toml"),
        (["--find-max-len"], "made with no --find-max-len, this command says --find-max-len"),
    ],
)
def test_a_resume_refusal_names_the_flags(flags, said, tiny_run, capsys):
    assert main(["run", "--resume", "--out", str(tiny_run), "--no-report", *flags]) == 2
    error = one_error_line(capsys)
    assert said in error and "overrides" not in error


INTERRUPTED_REPORT = """
import os, signal, sys, time
import suite.report

def half_written(run_dir, path):
    with open(path, "w") as file:
        file.write("<html>half")
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)

suite.report.write_report = half_written
from suite.commands.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_while_the_report_is_written_keeps_the_records_and_leaves_no_half_report(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_REPORT, *TINY, "--out", str(out)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 130, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"interrupted: records complete in {out}; write the report with python -m suite report {out} "
        f"--out {out / 'report.html'}"
    )
    assert "Traceback" not in done.stderr
    assert sorted(path.name for path in out.iterdir()) == [".lock", "manifest.json", "records.jsonl"]
    assert read_manifest(out)["status"] == "finished" and len(read_records(out)) == 1
    assert main(["report", str(out), "--out", str(out / "report.html")]) == 0  # what the line says works


def test_an_interrupted_report_leaves_the_one_before_it_whole(tiny_run, tmp_path, monkeypatch, capsys):
    import suite.report

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = (run / "report.html").read_text()

    def interrupted(run_dir, path):
        Path(path).write_text("<html>half")
        raise KeyboardInterrupt

    monkeypatch.setattr(suite.report, "write_report", interrupted)
    assert main(["run", "--resume", "--out", str(run)]) == 130
    assert "records complete" in capsys.readouterr().err
    assert (run / "report.html").read_text() == before and not list(run.glob(".*.tmp-*"))


def test_run_help_lists_every_preset():
    run = build_parser()._subparsers._group_actions[0].choices["run"]
    preset = next(action for action in run._actions if action.dest == "preset")
    assert all(name in preset.help for name in PRESETS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--d-model", "100000000"], "--d-model 100000000: one D x D weight alone takes"),
        (["--batch-size", "100000", "--seq-lens", "100000000"], "one activation alone takes"),
        (["--seed", "-1"], "--seed must be an integer from 0"),
        (["--threads", "0"], "--threads must be from 1 to"),
        (["--models", ","], "--models is empty"),
        (["--scopes", ","], "--scopes is empty"),
        (["--warmup", "-1"], "--warmup must be from 0 to 1000"),
        (["--repeats", "100000"], "--repeats from 1 to 1000"),
        (["--dtype", "fp8"], "unknown --dtype 'fp8'"),
        (["--report", "/proc/x.html"], "--report /proc/x.html cannot be written"),
    ],
)
def test_bench_refuses_bad_shapes_and_flags_in_one_line(argv, message, tmp_path, capsys):
    assert main(["bench", "speed", "--device", "cpu", "--out", str(tmp_path / "x"), *argv]) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "x").exists()


def test_bench_subjects_that_cannot_be_built_are_records(monkeypatch):
    from suite.measure import speed
    from suite.measure.speed_units import plan_units, run_unit
    from suite.plan.cells import SpeedTiming
    from suite.plan.settings import RunContext

    def no_memory(*args):
        raise MemoryError("cannot allocate")

    monkeypatch.setattr(speed, "projections_subject", no_memory)
    monkeypatch.setattr(speed, "scan_subjects", no_memory)
    timing = SpeedTiming(dtype="float32", warmup=0, repeats=1, min_time_s=0.0)
    context = RunContext(run_id="r", preset="bench-speed", git_commit=None, hostname="h", device_name="cpu")
    units = plan_units(["mingru:log"], ["mixer", "scan"], [8], 1, 8, 0, timing)
    records = [record for unit in units for record in run_unit(unit, "cpu", context)]
    assert all(validate(record) == [] for record in records)
    statuses = {(record["scope"], record["model"]): record["status"] for record in records}
    assert statuses[("mixer", "mingru:projections")] == "oom" and statuses[("mixer", "mingru:log")] == "ok"
    assert statuses[("scan", "minlstm:triton")] == "oom" and len(records) == 2 + 10  # 8 scans and 2 copies


def speed_record(model, backend, train_step_ms, noisy, scope="mixer"):
    return {
        "model": model,
        "family": model.partition(":")[0],
        "backend": backend,
        "scope": scope,
        "seq_len": 64,
        "status": "ok",
        "train_step_ms": train_step_ms,
        "timing_noisy": noisy,
    }


@pytest.mark.parametrize("noisy", [False, True])
def test_bench_console_marks_noisy_figures_as_the_report_does(noisy, capsys):
    records = [
        speed_record("mingru:log", "log", 1.0, noisy),
        speed_record("gru", "aten", 4.0, False),
        speed_record("mingru:projections", "projections", 0.5, False),
    ]
    bench_summary.print_summary(records, bench_summary.speedups_of(records))
    out = capsys.readouterr().out
    assert ("~4.00x" in out) == noisy and ("4.00x" in out)
    assert ("~2.00x" in out) == noisy  # the step over its projections
    assert ("flagged noisy" in out) == noisy


def _buffered_env():
    """The environment without PYTHONUNBUFFERED: a pipe then buffers stdout, as on a plain shell."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}


def test_a_reader_that_goes_away_ends_the_command_quietly():
    """``python -m suite compare A B | head -2``: no BrokenPipeError traceback, exit 141 (128 + SIGPIPE)."""
    import fcntl

    example = str(Path(__file__).resolve().parents[3] / "reports" / "examples" / "cpu-default")
    read, write = os.pipe()
    fcntl.fcntl(write, 1031, 4096)  # F_SETPIPE_SZ: a small pipe, so the compare table cannot fit in it
    child = subprocess.Popen(
        [sys.executable, "-m", "suite", "compare", example, example],
        stdout=write,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[3],
        env=_buffered_env(),
    )
    os.close(write)
    with os.fdopen(read, "rb") as stream:
        assert stream.read(200)
    _, err = child.communicate(timeout=120)
    assert b"Traceback" not in err and child.returncode == 141


def test_a_reader_gone_before_a_short_output_is_flushed_ends_quietly():
    """Output shorter than the pipe buffer is written only at the final flush: a reader already gone
    must still give exit 141 and no 'Exception ignored ... BrokenPipeError' at interpreter shutdown."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command prints anything
    child = subprocess.Popen(
        [sys.executable, "-m", "suite", "list"],
        stdout=write,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[3],
        env=_buffered_env(),
    )
    os.close(write)
    _, err = child.communicate(timeout=120)
    assert b"BrokenPipeError" not in err and child.returncode == 141, err
