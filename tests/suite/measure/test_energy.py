"""Energy counters and the per-token arithmetic, with fake counters and a fake clock."""

import statistics
import sys
import types
from dataclasses import replace

import pytest
import torch

from suite.measure import energy
from suite.measure import perf
from suite.plan.cells import TimingConfig
from suite.registry import build_model


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeCounter:
    """A board drawing ``idle_w`` plus ``joules_per_call`` for each call of the work."""

    backend = "fake"

    def __init__(self, clock, idle_w, joules_per_call, seconds_per_call):
        self.clock, self.idle_w = clock, idle_w
        self.joules_per_call, self.seconds_per_call = joules_per_call, seconds_per_call
        self.work_joules = 0.0

    def read_joules(self):
        return self.idle_w * self.clock() + self.work_joules

    def work(self):
        self.clock.now += self.seconds_per_call
        self.work_joules += self.joules_per_call


def test_idle_power_is_subtracted_and_the_region_spans_the_minimum():
    clock = FakeClock()
    counter = FakeCounter(clock, idle_w=50.0, joules_per_call=0.3, seconds_per_call=0.01)
    fields = energy.measure_energy(
        "cpu", {"train_joules_per_token": (counter.work, 100)}, counter=counter, clock=clock, sleep=clock.sleep
    )
    assert fields["energy_backend"] == "fake" and fields["energy_reason"] is None
    assert fields["idle_watts"] == pytest.approx(50.0)
    assert fields["train_joules_per_token"] == pytest.approx(0.3 / 100)
    joules, calls, seconds = energy.active_joules_per_call(counter, counter.work, 2.0, 50.0, clock=clock)
    assert seconds >= 2.0 and calls == pytest.approx(200, abs=1) and joules == pytest.approx(0.3)


def test_regions_shorter_than_the_counter_resolution_are_refused():
    with pytest.raises(ValueError, match=">= 2"):
        energy.measure_energy("cpu", {}, min_s=0.1)


def test_rapl_sums_packages_and_unwraps_the_counter(tmp_path):
    for name, value in (("intel-rapl:0", 900), ("intel-rapl:1", 100), ("intel-rapl:0:0", 5)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "energy_uj").write_text(str(value))
        (tmp_path / name / "max_energy_range_uj").write_text("999")
    counter = energy.RaplCounter(str(tmp_path))
    assert counter.read_joules() == 0
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("100")  # wrapped: 900 -> 999 -> 0 -> 100
    (tmp_path / "intel-rapl:1" / "energy_uj").write_text("150")
    (tmp_path / "intel-rapl:0:0" / "energy_uj").write_text("500")  # a sub-domain: not added again
    assert counter.read_joules() == pytest.approx((200 + 50) / 1e6)


def test_no_powercap_is_a_null_with_the_reason(tmp_path):
    with pytest.raises(energy.CounterUnavailable, match="no .* on this machine"):
        energy.RaplCounter(str(tmp_path / "absent"))
    unreadable = tmp_path / "intel-rapl:0"
    unreadable.mkdir()
    (unreadable / "energy_uj").mkdir()  # reading a directory fails like an unreadable file
    with pytest.raises(energy.CounterUnavailable, match="cannot read"):
        energy.RaplCounter(str(tmp_path))


def test_this_machine_records_null_energy_with_a_reason_and_never_runs_the_work(monkeypatch):
    monkeypatch.setattr(energy, "POWERCAP", "/nonexistent/powercap")
    monkeypatch.setattr(energy, "open_counter", lambda device: energy.RaplCounter("/nonexistent/powercap"))
    fields = energy.measure_energy("cpu", {"train_joules_per_token": (lambda: pytest.fail("ran"), 1)})
    assert fields["train_joules_per_token"] is None and fields["energy_backend"] is None
    assert "/nonexistent/powercap" in fields["energy_reason"]


def test_nvml_reads_millijoules_of_the_visible_gpu(monkeypatch):
    calls = {}

    class NVMLError(Exception):
        pass

    fake = types.SimpleNamespace(
        NVMLError=NVMLError,
        nvmlInit=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda index: calls.setdefault("index", index),
        nvmlDeviceGetTotalEnergyConsumption=lambda handle: 123456,
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    counter = energy.open_counter("cuda:1")
    assert counter.backend == "nvml" and calls["index"] == 5
    assert counter.read_joules() == pytest.approx(123.456)

    def broken(handle):
        raise NVMLError("Not Supported")

    fake.nvmlDeviceGetTotalEnergyConsumption = broken
    with pytest.raises(energy.CounterUnavailable, match="Not Supported"):
        energy.open_counter("cuda:0")


def test_perf_cells_carry_the_energy_fields(monkeypatch):
    def unavailable(device):
        raise energy.CounterUnavailable("no counter in this test")

    monkeypatch.setattr(energy, "open_counter", unavailable)
    torch.manual_seed(0)
    model = build_model("mingru", vocab_size=16, d_model=8, n_layers=1)
    config = TimingConfig(dtype="float32", warmup=1, repeats=2, decode_tokens=2, lr=1e-3)
    plain = perf.measure(model, 8, 2, 0, config, "cpu")
    assert plain["energy_reason"].startswith("not measured") and plain["train_joules_per_token"] is None
    asked = perf.measure(model, 8, 2, 0, replace(config, energy=True, energy_seq_lens=(8,)), "cpu")
    assert asked["energy_reason"] == "no counter in this test" and asked["decode_joules_per_token"] is None
    elsewhere = perf.measure(model, 8, 2, 0, replace(config, energy=True, energy_seq_lens=(16,)), "cpu")
    assert elsewhere["energy_reason"].startswith("not measured")
    # every timed repeat is kept, in milliseconds, beside the median it gives (schema 7)
    assert len(plain["train_step_raw_ms"]) == plain["timing_repeats"] == 2
    assert plain["train_step_ms"] == pytest.approx(statistics.median(plain["train_step_raw_ms"]), abs=1e-5)
    for phase in ("prefill_raw_ms", "decode_raw_ms", "decode_batch1_raw_ms"):
        assert len(plain[phase]) >= 2 and all(ms > 0 for ms in plain[phase])
    assert plain["decode_ms_per_token"] == pytest.approx(statistics.median(plain["decode_raw_ms"]), abs=1e-5)
