"""Device strings tell CUDA from the rest without torch."""

import pytest

from suite.devices import is_cuda


@pytest.mark.parametrize(
    "device, cuda", [("cuda", True), ("cuda:1", True), ("cpu", False), ("auto", False), ("mps", False)]
)
def test_is_cuda_reads_the_device_string(device, cuda):
    assert is_cuda(device) is cuda


def test_is_cuda_takes_a_torch_device():
    import torch

    assert is_cuda(torch.device("cuda", 0)) is True
    assert is_cuda(torch.device("cpu")) is False
