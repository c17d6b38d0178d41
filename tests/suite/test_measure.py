import pytest
import torch

from suite.measure import CPU_METHOD, PhaseMemory, time_repeats


def test_time_repeats_counts_calls():
    calls = []
    seconds = time_repeats(lambda: calls.append(1), "cpu", warmup=2, repeats=3)
    assert len(calls) == 5 and len(seconds) == 3 and all(s >= 0 for s in seconds)


@pytest.mark.parametrize("megabytes", [64, 256])
def test_cpu_phase_peak_matches_a_known_allocation(megabytes):
    memory = PhaseMemory("cpu")
    if memory.method != CPU_METHOD:
        pytest.skip(f"CPU memory method unavailable here ({memory.method})")
    size = megabytes * 2**20
    with memory:
        block = torch.ones(size // 4, dtype=torch.float32)  # touch every page
        del block
    assert abs(memory.peak_bytes - size) <= 0.1 * size, (memory.peak_bytes, size)


def test_reset_peak_keeps_the_start_level():
    memory = PhaseMemory("cpu")
    if memory.method != CPU_METHOD:
        pytest.skip("CPU memory method unavailable here")
    size = 128 * 2**20
    with memory:
        held = torch.ones(size // 4)
        transient = torch.ones(size // 4)
        del transient
        memory.reset_peak()
    assert abs(memory.peak_bytes - size) <= 0.15 * size  # what is still held counts, the freed peak does not
    del held
