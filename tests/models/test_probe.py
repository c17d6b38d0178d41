"""The backend probes tell "not installed" from "installed, but needs the GPU", without importing."""

import sys

from models import mamba, transformer
from models.probe import cuda_package_reason, installed


def test_installed_names_the_version_without_importing():
    sys.modules.pop("pytest_benchmark", None)  # an installed package this test run need not have imported
    version = installed("pytest_benchmark")
    assert version is not None and version[0].isdigit()
    assert "pytest_benchmark" not in sys.modules
    assert installed("no_such_package_here") is None


def test_cpu_reason_says_whether_the_package_is_installed(monkeypatch):
    missing = cuda_package_reason("cpu", "no_such_package_here")
    assert missing.startswith("needs a CUDA device") and "not installed" in missing and ".[cuda]" in missing
    present = cuda_package_reason("cpu", "pytest_benchmark")
    assert present.startswith("needs a CUDA device") and "is installed" in present


def test_mamba_ssm_and_flash_attn_probes_on_cpu(monkeypatch):
    for reason in (mamba.probe("mamba_ssm", "cpu"), transformer.probe("flash_attn", "cpu")):
        assert reason.startswith("needs a CUDA device")
    monkeypatch.setattr("models.probe.installed", lambda module: "2.3.2.post1")
    assert "mamba_ssm 2.3.2.post1 is installed" in mamba.probe("mamba_ssm", "cpu")
    assert mamba.probe("reference", "cpu") is None
