"""The forkserver preload: imported in a fresh process, it leaves what every cell's child inherits."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import gc, json, os, sys
import suite.executors.child_setup as setup
import torch
print(json.dumps({
    "server_pid_is_self": setup.SERVER_PID == os.getpid(),
    "cublas": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    "frozen": gc.get_freeze_count(),
    "deterministic": torch.are_deterministic_algorithms_enabled(),
    "cell_runner_loaded": "suite.measure.cell" in sys.modules,
    "torch_is_setup_torch": setup.torch is torch,
}))
"""


def probe():
    environment = {
        k: v for k, v in os.environ.items() if k not in ("CUBLAS_WORKSPACE_CONFIG", "SUITE_FORKSERVER_PARENT")
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_preload_sets_up_what_children_inherit():
    state = probe()
    assert state["server_pid_is_self"] and state["torch_is_setup_torch"]
    assert state["cublas"] == ":4096:8"
    assert state["frozen"] > 0  # what was imported is out of the garbage collector's scans
    assert state["deterministic"] is True
    assert state["cell_runner_loaded"] is True
