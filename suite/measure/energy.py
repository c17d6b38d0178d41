"""Energy per token, read from the hardware's own cumulative energy counter.

Never estimated: when no counter can be read, the energy fields are ``None``
and ``energy_reason`` says why. Nothing is derived from TDP or a power model.

Counters
--------
- **NVIDIA GPU** (``nvml``): ``nvmlDeviceGetTotalEnergyConsumption`` through
  ``pynvml`` (the ``nvidia-ml-py`` package, ``pip install .[energy]``): the
  board's energy since the driver loaded, in millijoules (Volta and newer). The
  board is read, so another process on the same GPU would be counted too.
- **CPU** (``rapl``): Linux powercap, ``/sys/class/powercap/intel-rapl:N/energy_uj``
  for every top-level package domain ``N`` (sub-domains are parts of their
  package and are not added), in microjoules, wrapping at
  ``max_energy_range_uj``. It counts the whole package: other processes on the
  machine are included, so a loaded machine reads high.

Method (:func:`measure_energy`)
-------------------------------
1. **Idle power**: read the counter, sleep ``idle_s`` seconds (>= 1 s), read
   again: ``idle_watts = joules / seconds``. On GPU the device is synchronised
   first, so nothing of ours is running.
2. **Active region**: read the counter, call the work repeatedly until at least
   ``min_s`` seconds (>= 2 s) have passed — a millisecond step is far below the
   counters' update interval (NVML updates in tens of milliseconds), so one
   reading spans many calls — synchronise, read again.
3. ``joules_per_call = (active_joules - idle_watts * active_seconds) / calls``:
   the energy the work added on top of the idle board or package. Divided by
   tokens per call in :mod:`suite.measure.perf` for ``*_joules_per_token``.

A counter that goes backwards without a known wrap range, or a region
shorter than its minimum, gives ``None`` with the reason rather than a number.
"""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path

from suite.devices import is_cuda

POWERCAP = "/sys/class/powercap"
MIN_ACTIVE_S = 2.0
MIN_IDLE_S = 1.0


class CounterUnavailable(RuntimeError):
    """No energy counter can be read here; the message says why."""


class NvmlCounter:
    """The board energy counter of one NVIDIA GPU, in joules."""

    backend = "nvml"

    def __init__(self, device: str):
        try:
            import pynvml
        except ImportError as error:
            raise CounterUnavailable("pynvml is not installed (pip install '.[energy]' for nvidia-ml-py)") from error
        try:
            pynvml.nvmlInit()
            index = int(str(device).partition(":")[2] or 0)
            visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
            ids = [item.strip() for item in visible.split(",") if item.strip()]
            if ids and index < len(ids) and ids[index].isdigit():
                index = int(ids[index])  # NVML numbers every GPU; torch numbers the visible ones
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except pynvml.NVMLError as error:
            raise CounterUnavailable(f"NVML cannot read the GPU's energy counter: {error}") from error
        self._pynvml = pynvml

    def read_joules(self) -> float:
        return self._pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) / 1000.0


class RaplCounter:
    """The sum of the CPU packages' RAPL energy counters, in joules, unwrapped."""

    backend = "rapl"

    def __init__(self, root: str = POWERCAP):
        if not Path(root).is_dir():
            raise CounterUnavailable(f"no {root} on this machine (the OS exposes no RAPL energy counters)")
        domains = sorted(
            path for path in glob.glob(os.path.join(root, "intel-rapl:*")) if os.path.basename(path).count(":") == 1
        )  # packages, not their sub-domains
        if not domains:
            raise CounterUnavailable(f"{root} has no intel-rapl package domain")
        self._domains = []
        for domain in domains:
            energy = os.path.join(domain, "energy_uj")
            try:
                with open(energy) as handle:
                    last = int(handle.read())
            except PermissionError as error:
                raise CounterUnavailable(
                    f"{energy} is not readable by this user (root only since Linux 5.10); "
                    "run as root or grant read access"
                ) from error
            except (OSError, ValueError) as error:
                raise CounterUnavailable(f"cannot read {energy}: {error}") from error
            try:
                with open(os.path.join(domain, "max_energy_range_uj")) as handle:
                    wrap = int(handle.read())
            except (OSError, ValueError):
                wrap = None
            self._domains.append({"path": energy, "last": last, "wrap": wrap, "total": 0})

    def read_joules(self) -> float:
        for domain in self._domains:
            with open(domain["path"]) as handle:
                value = int(handle.read())
            step = value - domain["last"]
            if step < 0:
                if not domain["wrap"]:
                    raise CounterUnavailable(f"{domain['path']} went backwards and its wrap range is unknown")
                step += domain["wrap"] + 1
            domain["total"] += step
            domain["last"] = value
        return sum(domain["total"] for domain in self._domains) / 1e6


def open_counter(device: str):
    """The energy counter for ``device`` (``cuda*``: NVML; ``cpu``: RAPL), or raise
    :class:`CounterUnavailable` with the reason."""
    if is_cuda(device):
        return NvmlCounter(device)
    return RaplCounter()


def idle_watts(counter, seconds: float, sync=lambda: None, clock=time.perf_counter, sleep=time.sleep) -> float:
    """Mean power over ``seconds`` of doing nothing (step 1 of the module docstring)."""
    sync()
    start_j, start_s = counter.read_joules(), clock()
    sleep(seconds)
    return (counter.read_joules() - start_j) / (clock() - start_s)


def active_joules_per_call(
    counter, work, min_s: float, idle_w: float, sync=lambda: None, clock=time.perf_counter
) -> tuple[float, int, float]:
    """``(joules per call above idle, calls, seconds)`` of repeating ``work`` for >= ``min_s``."""
    sync()
    start_j, start_s = counter.read_joules(), clock()
    calls = 0
    while True:
        work()
        calls += 1
        if clock() - start_s >= min_s:
            sync()
            break
    seconds = clock() - start_s
    joules = counter.read_joules() - start_j
    return (joules - idle_w * seconds) / calls, calls, seconds


def blank_fields(reason: str | None) -> dict:
    return {
        "energy_backend": None,
        "energy_reason": reason,
        "idle_watts": None,
        "train_joules_per_token": None,
        "decode_joules_per_token": None,
    }


def measure_energy(
    device: str,
    regions: dict,
    min_s: float = MIN_ACTIVE_S,
    idle_s: float = MIN_IDLE_S,
    sync=lambda: None,
    counter=None,
    clock=time.perf_counter,
    sleep=time.sleep,
) -> dict:
    """Energy fields of a perf record. ``regions`` maps a field name
    (``train_joules_per_token``) to ``(work, tokens_per_call)``; see the module
    docstring for the method. Without a counter every value is ``None`` and
    ``energy_reason`` says why."""
    if min_s < MIN_ACTIVE_S or idle_s < MIN_IDLE_S:
        raise ValueError(f"energy regions need >= {MIN_ACTIVE_S} s of work and >= {MIN_IDLE_S} s of idle")
    try:
        counter = counter or open_counter(device)
    except CounterUnavailable as error:
        return blank_fields(str(error))
    fields = blank_fields(None)
    fields["energy_backend"] = counter.backend
    try:
        fields["idle_watts"] = idle_watts(counter, idle_s, sync, clock, sleep)
        for name, (work, tokens_per_call) in regions.items():
            joules, _, _ = active_joules_per_call(counter, work, min_s, fields["idle_watts"], sync, clock)
            fields[name] = joules / tokens_per_call
    except CounterUnavailable as error:
        return {**blank_fields(str(error)), "energy_backend": counter.backend}
    return fields
