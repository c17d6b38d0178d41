"""What a run ran on: the device resolved, versions, CPU model and git state read."""

import re

import pytest
import torch

from suite.errors import UsageError
from suite.measure.environment import (
    TRACKED_PACKAGES,
    collect,
    cpu_name,
    device_name,
    git_state,
    package_versions,
    resolve_device,
)


def test_resolve_device_takes_cpu_and_auto_and_refuses_unknown_names():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UsageError, match="unknown --device 'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_resolve_device_refuses_cuda_without_a_gpu():
    with pytest.raises(UsageError, match="torch sees no CUDA device"):
        resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resolve_device_numbers_a_bare_cuda():
    assert resolve_device("cuda") == "cuda:0" and resolve_device("cuda:0") == "cuda:0"


def test_the_cpu_name_is_the_device_name_of_a_cpu_run():
    assert cpu_name() and device_name("cpu") == cpu_name()


def test_package_versions_name_every_tracked_package():
    versions = package_versions()
    assert tuple(versions) == TRACKED_PACKAGES
    assert versions["torch"] and torch.__version__.startswith(versions["torch"].split("+")[0])


def test_git_state_is_this_checkout_commit():
    commit, dirty = git_state()
    assert commit is None or (re.fullmatch(r"[0-9a-f]{40}", commit) and isinstance(dirty, bool))


def test_collect_describes_a_cpu_run():
    environment = collect("cpu")
    assert environment["device"] == "cpu" and environment["cudnn_version"] is None
    assert environment["device_name"] == environment["cpu_name"] == cpu_name()
    assert environment["torch_version"] == torch.__version__
    assert environment["torch_threads"] == torch.get_num_threads()
    assert environment["python"].count(".") == 2 and environment["hostname"]
    assert environment["packages"] == package_versions()
