"""How the suite measures memory: the peak of one phase above its start.

Memory
------
``PhaseMemory(device)`` is a context manager around one phase (a training
step, a prefill, a run of decode steps). ``peak_bytes`` is the highest memory
in use during the phase *above the level at its start*: parameters, optimizer
state and anything allocated before the phase are not counted.

- CUDA (``method = "cuda-max-allocated"``): ``torch.cuda.reset_peak_memory_stats``
  at the start, then ``max_memory_allocated() - memory_allocated_at_start``.
  ``peak_reserved_bytes`` gives the caching allocator's reserved peak the same
  way (what the device actually had to hold).
- CPU (``method = "cpu-vmhwm-minus-start-rss"``): the process resident set
  includes ~220 MB of torch itself and whatever glibc keeps after frees, so at
  the phase start we run ``gc.collect()``, ``malloc_trim(0)`` and reset the
  kernel's high-water mark (write ``5`` to ``/proc/self/clear_refs``), read
  ``VmRSS``; at the end we read ``VmHWM``. The difference is the phase's peak.
  It is page-granular and includes allocator slack, so treat differences under
  a few hundred KiB as noise. Where ``/proc`` or ``malloc_trim`` is missing the
  method is ``"unavailable"`` and ``peak_bytes`` is ``None``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc

import torch

from suite.devices import is_cuda

CPU_METHOD = "cpu-vmhwm-minus-start-rss"
CUDA_METHOD = "cuda-max-allocated"
UNAVAILABLE = "unavailable"


def _read_status_bytes(*fields: str) -> dict:
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in fields:
                values[name] = int(rest.split()[0]) * 1024  # kB → bytes
    return values


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _libc()


@functools.cache
def cpu_memory_method() -> str:
    """Which CPU method works on this machine (checked once per process)."""
    try:
        _read_status_bytes("VmRSS", "VmHWM")
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return UNAVAILABLE
    return CPU_METHOD if _LIBC is not None and hasattr(_LIBC, "malloc_trim") else UNAVAILABLE


class PhaseMemory:
    """Peak memory of one phase above its start; see the module docstring."""

    def __init__(self, device):
        self.device = device
        self.peak_bytes: int | None = None
        self.peak_reserved_bytes: int | None = None
        self.method = CUDA_METHOD if is_cuda(device) else cpu_memory_method()

    def __enter__(self):
        gc.collect()
        if self.method == CUDA_METHOD:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            self._start_reserved = torch.cuda.memory_reserved(self.device)
        elif self.method == CPU_METHOD:
            _LIBC.malloc_trim(0)
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
            self._start = _read_status_bytes("VmRSS")["VmRSS"]
        return self

    def reset_peak(self) -> None:
        """Forget the peak so far but keep the starting level: used to measure
        what a phase holds afterwards (e.g. a decode state) without its set-up."""
        gc.collect()
        if self.method == CUDA_METHOD:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.method == CPU_METHOD:
            _LIBC.malloc_trim(0)
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")

    def __exit__(self, *exc):
        if self.method == CUDA_METHOD:
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self._start
            self.peak_reserved_bytes = torch.cuda.max_memory_reserved(self.device) - self._start_reserved
        elif self.method == CPU_METHOD:
            self.peak_bytes = max(0, _read_status_bytes("VmHWM")["VmHWM"] - self._start)
        return False
