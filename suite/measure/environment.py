"""What a run ran on: versions, device, CPU model, git commit. Recorded in the manifest and
(the fields that matter per cell) in every record: ``device_name`` is the CPU model on a CPU
run and the GPU's name on a GPU run; the manifest adds ``cpu_name`` either way. ``compare``
does not gate speed between runs whose device, hardware or torch version differ
(``suite.analysis.speed_gate``)."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import socket
import subprocess
import sys
from suite.devices import is_cuda
from suite.errors import UsageError
from suite.paths import REPO_ROOT

TRACKED_PACKAGES = (
    "torch",
    "triton",
    "mamba-ssm",
    "flash-attn",
    "causal-conv1d",
    "fla-core",
    "numpy",
    "pandas",
    "seaborn",
    "matplotlib",
    "mambapy",
)


def resolve_device(requested: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one is an error."""
    import torch

    if requested == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if is_cuda(requested):
        if not torch.cuda.is_available():
            raise UsageError("--device cuda asked for, but torch sees no CUDA device: use --device cpu or auto")
        return requested if ":" in requested else "cuda:0"
    if requested != "cpu":
        raise UsageError(f"unknown --device {requested!r}: use auto, cpu or cuda[:N]")
    return "cpu"


@functools.cache
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    import torch

    if is_cuda(device):
        return torch.cuda.get_device_name(device)
    return cpu_name()


@functools.cache
def git_state() -> tuple:
    """(commit, dirty) of the suite's own checkout, or (None, None) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
        return commit, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def package_versions() -> dict:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def collect(device: str) -> dict:
    import torch

    commit, dirty = git_state()
    cuda = is_cuda(device)
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version() if cuda else None,
        "device": device,
        "device_name": device_name(device),
        "cpu_name": cpu_name(),  # the host's CPU model, on a GPU run too (compare: speed across machines)
        "torch_threads": torch.get_num_threads(),
        "git_commit": commit,
        "git_dirty": dirty,
        "hostname": socket.gethostname(),
        "packages": package_versions(),
    }
