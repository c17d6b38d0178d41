"""``python -m suite`` runs the command line and exits with its status."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def suite(*args):
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_help_exits_0_and_names_the_commands():
    done = suite("--help")
    assert done.returncode == 0, done.stderr
    for command in ("run", "bench", "compare", "list"):
        assert command in done.stdout


def test_an_unknown_command_exits_2():
    done = suite("no-such-command")
    assert done.returncode == 2
    assert "no-such-command" in done.stderr
