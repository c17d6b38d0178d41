"""Nothing lost when runs race or the driver dies: one writer per run directory, a manifest
before the first cell, children that die with their driver, and bad values refused in one line."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suite.commands.cli import main
from suite.records.lock import RunDirBusy, RunLock
from suite.records.store import read_manifest, read_records

ROOT = Path(__file__).resolve().parents[3]
TINY = ["run", "--preset", "tiny", "--models", "mingru", "--no-report"]


def test_a_second_driver_is_refused_at_once_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    with RunLock(out):
        assert main([*TINY, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"is in use by pid {os.getpid()} on host {socket.gethostname()}" in err
        assert len(err.strip().splitlines()) == 1
        assert main([*TINY, "--resume", "--out", str(out)]) == 2  # a --resume beside a live run, too
    assert sorted(path.name for path in out.iterdir()) == [".lock"]  # nothing was written meanwhile
    assert main([*TINY, "--out", str(out)]) == 0  # the lock is free again


def test_two_runs_started_together_into_one_out_give_one_run(tmp_path):
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
    first, second = (subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(2))
    codes = sorted(process.wait(timeout=300) for process in (first, second))
    assert codes == [0, 2], (first.stderr.read(), second.stderr.read())
    records = read_records(out)
    assert len(records) == 12 and len({r["cell_key"] for r in records}) == 12
    assert len({r["run_id"] for r in records}) == 1 and read_manifest(out)["run_id"] == records[0]["run_id"]


def test_a_lock_left_by_a_dead_driver_is_taken_over(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / ".lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    assert main([*TINY, "--out", str(out)]) == 0
    assert (out / ".lock").read_text() == ""  # a finished run names no holder


def test_without_flock_the_holder_file_decides(tmp_path, monkeypatch):
    import fcntl

    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    out = tmp_path / "run"
    out.mkdir()
    lock = out / ".lock"
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "started": "earlier"}))
    with pytest.raises(RunDirBusy, match="holder-file lock"):
        RunLock(out).acquire()  # a live process on this host
    lock.write_text(json.dumps({"pid": 1, "host": "another-node"}))
    with pytest.raises(RunDirBusy, match="delete .*\\.lock"):
        RunLock(out).acquire()  # another host: cannot be seen from here
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    with RunLock(out) as taken:
        assert taken.mode == "holder-file" and json.loads(lock.read_text())["pid"] == os.getpid()


def test_the_manifest_is_written_before_anything_else_and_a_run_killed_then_resumes(tmp_path, monkeypatch):
    """The environment is read in a child: a driver killed during it already left a manifest."""
    import suite.commands.run as run_command

    out = tmp_path / "run"

    def killed(*args):
        assert read_manifest(out)["status"] == "starting"
        raise SystemExit(137)

    monkeypatch.setattr(run_command, "read_environment", killed)
    with pytest.raises(SystemExit):
        main([*TINY, "--out", str(out)])
    monkeypatch.undo()
    assert main([*TINY, "--resume", "--out", str(out)]) == 0
    assert len(read_records(out)) == 4 and read_manifest(out)["status"] == "finished"


def test_a_folder_holding_only_a_lock_resumes_as_a_fresh_run(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text("")
    assert main([*TINY, "--resume", "--out", str(out)]) == 0
    assert "holds no manifest yet" in capsys.readouterr().err and len(read_records(out)) == 4


@pytest.mark.parametrize("jobs", [[], ["--jobs", "2", "--seeds", "0,1"]], ids=["one job", "two jobs"])
def test_a_killed_driver_takes_its_forkserver_and_cells_with_it_within_2_s(tmp_path, jobs):
    """SIGKILL of the driver mid-cell: the forkserver dies with it (PR_SET_PDEATHSIG), each cell's
    child with the forkserver, the resource tracker when the last of them is gone."""
    command = [
        sys.executable,
        "-m",
        "suite",
        "run",
        "--preset",
        "smoke",
        "--models",
        "gru:loop",
        "--tasks",
        "mqar",
        "--seq-lens",
        "2048",
        "--kinds",
        "accuracy",
        "--cell-timeout",
        "120",
        "--no-report",
        "--out",
        str(tmp_path / "run"),
        *jobs,
    ]
    driver = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE, text=True)
    for line in driver.stderr:
        if "ETA" in line:  # the cell has been handed to its child
            break
    time.sleep(2)
    group = os.getpgid(driver.pid)
    assert len(members(group)) >= 3  # driver, forkserver, the cell's child (and the resource tracker)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    killed = time.monotonic()
    while members(group) and time.monotonic() - killed < 2:
        time.sleep(0.02)
    left = members(group)
    assert not left, f"still alive {time.monotonic() - killed:.1f} s after the driver was killed: {left}"


def members(group: int) -> list[str]:
    """The live processes of a process group (zombies, dead but not yet reaped by init, are not)."""
    found = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(group)], capture_output=True, text=True)
    return [line.split()[0] for line in found.stdout.splitlines() if line.split() and line.split()[1][0] != "Z"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--cell-timeout", "0"], "--cell-timeout must be a positive, finite"),
        (["--cell-timeout", "-5"], "--cell-timeout must be a positive, finite"),
        (["--cell-timeout", "nan"], "--cell-timeout must be a positive, finite"),
        (["--threads", "0"], "--threads must be from 1 to"),
        (["--threads", "100000"], "--threads must be from 1 to"),
        (["--threads", "-2"], "--threads must be from 1 to"),
        (["--lrs", "inf"], "--lrs must be positive, finite"),
        (["--seeds", "99999999999999999999999"], "--seeds must be integers from 0 to 2**32-1"),
        (["--seeds", "-1"], "--seeds must be integers from 0 to 2**32-1"),
        (["--mem-limit", "1KiB"], "--mem-limit 1024 bytes is below the"),
        (["--models", "mingru:"], "--models 'mingru:' has an empty family or backend"),
    ],
)
def test_bad_values_are_refused_in_one_line_naming_the_flag(flags, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--preset", "tiny", "--no-report", "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_an_unwritable_report_is_refused_before_the_first_cell(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = tmp_path / "run"
    assert main(["run", "--preset", "tiny", "--out", str(out), "--report", str(blocker / "report.html")]) == 2
    assert "--report" in capsys.readouterr().err and not out.exists()
