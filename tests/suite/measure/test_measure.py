import pytest
import torch

from suite.measure.memory import CPU_METHOD, PhaseMemory
from suite.measure.timing import HostActivity, Timing, apply_numerics, noise_reasons, numerics_fields, time_repeats


def test_time_repeats_counts_calls():
    calls = []
    timing = time_repeats(lambda: calls.append(1), "cpu", warmup=2, min_repeats=3)
    assert len(calls) == 5 and timing.repeats == 3 and all(s >= 0 for s in timing.seconds)


def test_time_repeats_is_adaptive():
    """At least min_repeats, and more until the times add up to min_time_s (capped)."""
    import time

    slow = time_repeats(lambda: time.sleep(0.03), "cpu", warmup=0, min_repeats=2, min_time_s=0.05)
    assert 2 <= slow.repeats <= 3 and sum(slow.seconds) >= 0.05
    fast = time_repeats(lambda: None, "cpu", warmup=0, min_repeats=3, min_time_s=10.0, max_repeats=25)
    assert fast.repeats == 25


def quiet_host(load=0.5, others=0.0):
    activity = HostActivity()
    activity.load_avg_before = activity.load_avg_after = load
    activity.other_busy_cores = others
    return activity


def test_noise_rules():
    steady = Timing([0.010, 0.0101, 0.0099, 0.0100, 0.0102])
    spread = Timing([0.010, 0.014, 0.007, 0.012, 0.009])
    assert noise_reasons({"train step": steady}, threads=2, activity=quiet_host(), cores=2) == []
    assert "train step IQR" in noise_reasons({"train step": spread}, 2, quiet_host(), cores=2)[0]
    assert "spread unknown" in noise_reasons({"prefill": Timing([0.01, 0.01])}, 2, quiet_host(), cores=2)[0]
    assert "load average 3.10" in noise_reasons({"x": steady}, 2, quiet_host(load=3.1), cores=2)[0]
    assert noise_reasons({"x": steady}, 2, quiet_host(load=2.4), cores=2) == []  # within half a thread
    assert "other processes kept 1.20 cores" in noise_reasons({"x": steady}, 2, quiet_host(others=1.2), cores=2)[0]
    assert noise_reasons({"x": steady}, 2, quiet_host(others=1.2), cores=8) == []  # spare cores took it


def test_host_activity_sees_another_busy_process():
    import subprocess
    import sys
    import time

    with HostActivity() as idle:
        time.sleep(0.3)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        with HostActivity() as loaded:
            time.sleep(0.5)
    finally:
        busy.kill()
        busy.wait()
    if loaded.other_busy_cores is None:
        pytest.skip("/proc/stat unreadable here")
    assert loaded.other_busy_cores > 0.6 and loaded.other_busy_cores > idle.other_busy_cores + 0.4


def test_numerics_are_set_and_reported():
    try:
        apply_numerics(tf32=True)
        assert numerics_fields() == {"tf32": True, "deterministic": True, "fill_uninitialized_memory": False}
    finally:
        apply_numerics(tf32=False)
    assert numerics_fields()["tf32"] is False


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
