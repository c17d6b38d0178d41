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
SCRIPTS = {"gpu-check": 590, "gpu-paper-speed": 360}  # script -> most seconds its step timeouts may add to
STEPS = {
    "gpu-check": [
        "carried-wheels",
        "environment",
        "backends",
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
    steps = r"^(?:step|step_keep_going|install_carried_wheels) ([\w-]+) (\d+) "
    return {name: int(limit) for name, limit in re.findall(steps, text, re.M)}


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
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "CUDA_WHEELS": str(tmp_path / "no-wheels")}
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
        if name == "carried-wheels":  # none carried here: the step says it was skipped, and why
            assert re.search(
                r"^\| carried-wheels \| skipped: no wheels in \S+no-wheels \(scripts/build-cuda", summary, re.M
            )
            continue
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
        env={**os.environ, "PYTHON": str(fake), "CUDA_WHEELS": str(tmp_path / "no-wheels")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    summary = (out / "gpu-check-summary.md").read_text()
    assert "| environment | FAILED (3) |" in summary and "gpu-tests" not in summary.split("## ")[0]
    assert (out / "gpu-check.tar.gz").is_file()


def fake_wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel (one module and its dist-info), built by hand."""
    import base64
    import hashlib
    import zipfile

    folder.mkdir(parents=True)
    path = folder / "carried_probe-0.1-py3-none-any.whl"
    files = {
        "carried_probe.py": "VALUE = 42\n",
        "carried_probe-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: carried-probe\nVersion: 0.1\n",
        "carried_probe-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(text)}")
        record.append("carried_probe-0.1.dist-info/RECORD,,")
        wheel.writestr("carried_probe-0.1.dist-info/RECORD", "\n".join(record) + "\n")
    return path


@pytest.mark.parametrize("dry", [False, True])
def test_carried_wheels_install_offline_and_come_first_on_the_path(tmp_path, dry):
    """The step installs DIR's wheels with --no-index into a folder outside the tarball; a real run
    puts it on PYTHONPATH for the later steps, a dry run only unpacks them (as for Python 3.12)."""
    wheels = fake_wheel(tmp_path / "wheels").parent
    out = tmp_path / "out"
    script = f"""
        source scripts/gpu-steps.sh
        gpu_steps_init check {"--dry-run" if dry else ""} --out {out}
        install_carried_wheels carried-wheels 120 {wheels}
        step import 9 "$PYTHON" -c "import os, carried_probe as c;print('value', c.VALUE, os.environ['CARRIED_WHEELS'])"
        finish 0
    """
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = (out / "check-summary.md").read_text()
    assert re.search(r"^\| carried-wheels \| ok \| \d+ \| 120 \|$", summary, re.M), summary
    if dry:  # unpacked, not put on the path: the import step fails, and says why
        assert (
            done.returncode == 1
            and "| import | FAILED (1) |" in summary
            and "No module named 'carried_probe'" in summary
        )
    else:
        assert done.returncode == 0, summary
        assert "value 42 carried_probe-0.1-py3-none-any.whl" in summary
    with tarfile.open(out / "check.tar.gz") as archive:
        assert not any("carried_probe.py" in name for name in archive.getnames())
