"""Core code never imports the optional GPU packages at import time."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CODE = """
import sys
import suite, suite.commands.cli, suite.measure.cell, suite.plan.planning, suite.registry
from suite.registry import builtin_family_names, get_family, builtin_task_names, get_task, record_versions
for name in builtin_family_names():
    family = get_family(name)
    for backend in family.backends:
        family.probe(backend, "cpu")   # probing for the CPU must not import them either
    assert record_versions(name, None)["family_version"] >= 1  # every record reads it
for name in builtin_task_names():
    get_task(name)
    assert record_versions(None, name)["task_version"] >= 1
loaded = sorted(m for m in ("mamba_ssm", "flash_attn", "triton", "causal_conv1d", "fla") if m in sys.modules)
print(",".join(loaded))
"""


def test_no_gpu_package_is_imported():
    result = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported at import/probe time: {result.stdout.strip()}"
