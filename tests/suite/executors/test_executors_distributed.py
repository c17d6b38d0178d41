"""The Ray and Slurm (submitit) executors run the same cells as the local one and
give the same records in every field that is not a timing; Ray stays on
127.0.0.1; a cell that kills its worker is a record; a killed Ray driver resumes.

Each smoke grid runs once per module (``--threads 1`` everywhere, so float sums
agree). Every Ray instance gets its own session folder, removed after the test.
"""

import importlib.util
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from suite.commands.cli import main
from suite.progress import EXIT_CELLS_FAILED
from suite.records.store import read_records

# found, not imported: the executor imports Ray itself, after keeping a local node on loopback
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None, reason="the Ray executor's tests need Ray: pip install -e '.[ray]'"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("submitit") is None,
        reason="the Slurm executor's tests need submitit: pip install -e '.[slurm]'",
    ),
]

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = str(Path(__file__).with_name("crashy_plugin.py"))
SLURM_MODELS = "mingru,gru,transformer"
SAME_FIELDS = ("status", "accuracy", "seq_accuracy", "final_loss", "params", "backend", "torch_threads", "error")


@pytest.fixture
def ray_temp_dir():
    """A short session folder (Ray's socket paths must fit in 107 bytes); removed with
    any Ray process still running from it."""
    path = tempfile.mkdtemp(prefix="suite-ray-", dir="/tmp")
    yield path
    stop_processes_mentioning(path)
    shutil.rmtree(path, ignore_errors=True)


def stop_processes_mentioning(text: str) -> None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def smoke(out, *extra) -> int:
    return main(["run", "--preset", "smoke", "--threads", "1", "--no-report", "--out", str(out), *extra])


def by_cell(run_dir) -> dict:
    return {(r["cell_key"], r.get("eval_len")): r for r in read_records(run_dir)}


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("executors")
    ray_dir = tempfile.mkdtemp(prefix="suite-ray-", dir="/tmp")
    walls = {}
    try:
        for name, extra in [
            ("local", ()),
            ("ray", ("--executor", "ray", "--ray-num-cpus", "2", "--ray-temp-dir", ray_dir)),
            # each submitit job starts Python and torch afresh (~4 s on 2 cores): three families
            ("slurm", ("--executor", "slurm", "--slurm-cluster", "local", "--jobs", "2", "--models", SLURM_MODELS)),
        ]:
            start = time.perf_counter()
            assert smoke(base / name, *extra) == 0, name
            walls[name] = time.perf_counter() - start
    finally:
        stop_processes_mentioning(ray_dir)
        shutil.rmtree(ray_dir, ignore_errors=True)
    print(f"smoke grid wall time (s): {walls}")
    return {name: by_cell(base / name) for name in walls}


@pytest.mark.parametrize("executor", ["ray", "slurm"])
def test_records_equal_the_local_executors_in_every_non_timing_field(smoke_runs, executor):
    local, other = smoke_runs["local"], smoke_runs[executor]
    assert len(local) >= 30
    if executor == "slurm":
        local = {key: record for key, record in local.items() if record["model"] in SLURM_MODELS.split(",")}
    assert set(other) == set(local)
    assert all(record["status"] == "ok" for record in local.values())
    for key, record in local.items():
        for field in SAME_FIELDS:
            assert other[key].get(field) == record.get(field), (record["model"], record["kind"], field)


@pytest.mark.parametrize("executor, label", [("ray", "ray"), ("slurm", "slurm (submitit local)")])
def test_records_name_the_host_and_executor_they_ran_on(smoke_runs, executor, label):
    records = list(smoke_runs[executor].values())
    assert {record["executor"] for record in records} == {label}
    assert all(record["hostname"] and record["device_name"] for record in records)
    assert {record["torch_threads"] for record in records} == {1}


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def test_local_ray_instance_listens_on_loopback_only(ray_temp_dir):
    from tests.suite.executors.listening import listening_sockets_of_descendants
    from suite.executors import ray_executor

    with ray_executor.connect(None, num_cpus=2, temp_dir=ray_temp_dir) as session:
        assert ray_executor.node_addresses(session) == ["127.0.0.1"]
        sockets = listening_sockets_of_descendants(os.getpid())
    assert sockets, "Ray's processes should be found listening somewhere"
    outside = [entry for entry in sockets if not is_loopback(entry[0])]
    assert not outside, f"Ray ports listening beyond loopback: {outside}"


def test_a_cell_that_kills_its_ray_worker_is_recorded_not_lost(tmp_path, ray_temp_dir):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--preset",
            "tiny",
            "--tasks",
            "mqar",
            "--kinds",
            "accuracy",
            "--plugin",
            PLUGIN,
            "--models",
            "crashy:kill-worker,crashy:segfault,mingru",
            "--threads",
            "1",
            "--no-report",
            "--executor",
            "ray",
            "--ray-num-cpus",
            "2",
            "--ray-temp-dir",
            ray_temp_dir,
            "--max-retries",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == EXIT_CELLS_FAILED  # recorded as errors: the run says some cells failed
    records = {record["model"]: record for record in read_records(out)}
    assert set(records) == {"crashy:kill-worker", "crashy:segfault", "mingru"}
    killer = records["crashy:kill-worker"]
    assert killer["status"] == "error"
    assert "after 2 attempt(s)" in killer["error"] and "WorkerCrashedError" in killer["error"]
    assert records["crashy:segfault"]["status"] == "error" and "SIGSEGV" in records["crashy:segfault"]["error"]
    assert records["mingru"]["status"] == "ok"


def test_a_cell_that_kills_its_slurm_job_is_recorded_not_lost(tmp_path):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--preset",
            "tiny",
            "--tasks",
            "mqar",
            "--kinds",
            "accuracy",
            "--plugin",
            PLUGIN,
            "--models",
            "crashy:kill-worker,mingru",
            "--threads",
            "1",
            "--no-report",
            "--executor",
            "slurm",
            "--slurm-cluster",
            "local",
            "--jobs",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == EXIT_CELLS_FAILED  # recorded as an error: the run says a cell failed
    records = {record["model"]: record for record in read_records(out)}
    assert records["crashy:kill-worker"]["status"] == "error"
    assert "ended without a result" in records["crashy:kill-worker"]["error"]
    assert "has not produced any output" in records["crashy:kill-worker"]["error"]
    assert records["mingru"]["status"] == "ok"


def test_killed_ray_driver_resumes_with_every_cell_exactly_once(tmp_path, ray_temp_dir):
    out = tmp_path / "run"
    first_session = os.path.join(ray_temp_dir, "first")
    command = [
        sys.executable,
        "-m",
        "suite",
        "run",
        "--preset",
        "tiny",
        "--models",
        "mingru,gru,lstm",
        "--threads",
        "1",
        "--no-report",
        "--executor",
        "ray",
        "--ray-num-cpus",
        "2",
        "--ray-temp-dir",
        first_session,
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
    stop_processes_mentioning(first_session)
    written = records.read_text().count("\n")
    assert 3 <= written < 12
    assert (
        main(
            [
                "run",
                "--resume",
                "--out",
                str(out),
                "--no-report",
                "--executor",
                "ray",
                "--ray-num-cpus",
                "2",
                "--ray-temp-dir",
                os.path.join(ray_temp_dir, "second"),
            ]
        )
        == 0
    )
    keys = [record["cell_key"] for record in read_records(out)]
    assert len(keys) == len(set(keys)) == 12  # 3 models x 3 tasks + 3 perf cells
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert [entry["executor"] for entry in manifest["executors"]] == ["ray", "ray"]


def test_ctrl_c_cancels_the_ray_tasks_keeps_the_records_and_stops_ray(tmp_path, ray_temp_dir):
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
        "--threads",
        "1",
        "--no-report",
        "--executor",
        "ray",
        "--ray-num-cpus",
        "2",
        "--ray-temp-dir",
        ray_temp_dir,
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
    assert driver.returncode == 130, err[-2000:]
    assert f"--resume --out {out}" in err
    assert all(json.loads(line) for line in records.read_text().splitlines())
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    time.sleep(2)  # Ray's own processes exit after the driver disconnects
    left = [
        entry.name
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and "raylet" in _cmdline(entry) and ray_temp_dir in _cmdline(entry)
    ]
    assert not left, f"Ray processes still running after Ctrl-C: {left}"


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
