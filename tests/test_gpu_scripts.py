"""scripts/gpu-check and scripts/gpu-paper-speed, proven on the CPU before a GPU runs them: their
--dry-run runs every step at tiny shapes, writes at most 8 files (a summary and a tarball) into the
folder named by $OUT, their step timeouts fit the GPU loan, and they never call a bare `python`
(the GPU machine has only python3)."""

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"gpu-check": 480, "gpu-paper-speed": 360}  # script -> most seconds its step timeouts may add to
STEPS = {
    "gpu-check": [
        "environment",
        "gpu-tests",
        "triton-float64",
        "offsets64",
        "perf-claims",
        "bench-loops",
        "bench-long",
        "speed-bars",
    ],
    "gpu-paper-speed": ["environment", "paper-speed", "report", "speedups"],
}


BARE_PYTHON = re.compile(r"""(?<![\w$/{"'-])python(?![\w.-])""")  # `python` as a word, not "python" or $PYTHON


def test_the_bare_python_pattern_finds_a_call_and_spares_quoted_words():
    assert BARE_PYTHON.search("timeout 5 python -m suite")
    assert not BARE_PYTHON.search('"$PYTHON" -m suite; print("python", 1); python3 x.py')


def step_timeouts(text: str) -> dict:
    return {name: int(limit) for name, limit in re.findall(r"^step(?:_keep_going)? ([\w-]+) (\d+) ", text, re.M)}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_is_valid_bash_fits_its_loan_and_calls_no_bare_python(script):
    path = ROOT / "scripts" / script
    for checked in (path, ROOT / "scripts" / "gpu-steps.sh"):
        assert subprocess.run(["bash", "-n", str(checked)], capture_output=True).returncode == 0
    text = path.read_text()
    timeouts = step_timeouts(text)
    assert list(timeouts) == STEPS[script]
    assert sum(timeouts.values()) <= SCRIPTS[script], timeouts
    code = "\n".join(
        line
        for line in (text + (ROOT / "scripts" / "gpu-steps.sh").read_text()).splitlines()
        if not line.lstrip().startswith("#")
    )
    assert not BARE_PYTHON.search(code.replace("${PYTHON:-python3}", "")), "a bare `python` call: use $PYTHON"


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_dry_run_writes_a_summary_and_a_tarball_under_OUT(script, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / script), "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    files = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())
    assert files == [f"{script}-summary.md", f"{script}.tar.gz"]
    summary = (out / f"{script}-summary.md").read_text()
    for name in STEPS[script]:
        assert re.search(rf"^\| {name} \| ok \| \d+ \| \d+ \|$", summary, re.M), (name, summary[:2000])
    with tarfile.open(out / f"{script}.tar.gz") as archive:
        names = archive.getnames()
    assert any(name.endswith(f"{STEPS[script][1]}.log") for name in names)


def test_a_failing_step_stops_the_check_and_still_writes_both_files(tmp_path):
    """A broken interpreter fails the first step: exit 1, the summary says FAILED, nothing after it ran."""
    out = tmp_path / "out"
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu-check"), "--dry-run", "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHON": str(fake)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    summary = (out / "gpu-check-summary.md").read_text()
    assert "| environment | FAILED (3) |" in summary and "gpu-tests" not in summary.split("## ")[0]
    assert (out / "gpu-check.tar.gz").is_file()
