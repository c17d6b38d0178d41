"""How the suite times things — the one module that does.

Timing
------
Every time the suite reports comes from :func:`time_once` (one call of a
function, synchronised), through :func:`time_repeats` (a phase of a perf cell,
decode runs included) or the speed benchmark's interleaved rounds, which stop
by the same rule (:meth:`Timing.wants_more`):

- CUDA: the device is synchronised, then CUDA events are recorded around the
  call and read after synchronising again, so a time covers the kernels the
  call launched and nothing queued before it, without host overhead between
  the event and the launch.
- elsewhere: ``time.perf_counter`` around the call.

:func:`time_repeats` runs ``warmup`` untimed calls (first-call allocations,
autotuning, lazy initialisation), then timed calls until it has at least
``min_repeats`` of them *and* they add up to at least ``min_time_s`` (as
timeit and pyperf do: a 1 ms step gets enough calls for a stable median, a
1 s step is not repeated for minutes), at most ``max_repeats``. Inputs are
made before the timed region. A :class:`Timing` keeps every time and gives
the median (robust to the swings of a shared machine), the inter-quartile
range (75th minus 25th percentile), the minimum and the count, and every
time itself in milliseconds (:attr:`Timing.raw_ms`): records keep them all
(``train_step_raw_ms`` ...), as pyperf and asv keep every value, so a spread
can be recomputed, two runs' times tested against each other or pooled
(``suite.analysis.speed_gate`` does).

Is a timing trustworthy? :class:`HostActivity` samples the host around the
timed work: the 1-minute load average before and after, and how many cores
*other* processes kept busy meanwhile (all CPU time in ``/proc/stat`` minus
this process's own, over the wall time). :func:`noise_reasons` calls a cell
noisy when any phase's IQR exceeds 10% of its median (or it has fewer than
3 repeats, so no spread to judge), when the load average
exceeded the cell's threads by more than half a thread, or when other
processes kept more cores busy than the cell left free (plus half a core);
records carry ``timing_noisy`` and the reasons, and the report and ``compare``
treat such cells apart. The number of CPU threads is pinned by the runner
(``torch.set_num_threads``) and recorded in every record as ``torch_threads``.

Numerics
--------
:func:`apply_numerics` is the one place that sets TF32 and deterministic
algorithms, called once per process by every path that runs a cell or a
benchmark (forkserver children, ``--isolation none``, ``bench``), so their
timings are taken under the same settings; :func:`numerics_fields` is what
records carry: ``tf32``, ``deterministic`` and ``fill_uninitialized_memory``.
Deterministic algorithms are on (with ``warn_only``), but uninitialised
memory is *not* filled with NaN: that fill adds a full write to every
``torch.empty`` (a scan's output buffer, for instance) and would be timed as
part of the model; the suite's code writes every buffer it allocates before
reading it.

Memory is measured in :mod:`suite.measure.memory`.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field

import torch
import torch.utils.deterministic

from suite.devices import is_cuda


def synchronize(device) -> None:
    if is_cuda(device):
        torch.cuda.synchronize(device)


def time_once(fn, device) -> float:
    """Seconds of one call of ``fn()``; see the module docstring (CUDA events on CUDA)."""
    if is_cuda(device):
        torch.cuda.synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass
class Timing:
    """The times of one measured phase, in seconds, with the statistics records carry."""

    seconds: list = field(default_factory=list)

    @property
    def repeats(self) -> int:
        return len(self.seconds)

    @property
    def raw_ms(self) -> list[float]:
        """Every time in milliseconds, in the order timed, to the nanosecond (records keep them)."""
        return [round(1000 * seconds, 6) for seconds in self.seconds]

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.seconds)

    @property
    def min_ms(self) -> float:
        return 1000 * min(self.seconds)

    @property
    def iqr_ms(self) -> float:
        if len(self.seconds) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.seconds, n=4, method="inclusive")
        return 1000 * (q3 - q1)

    @property
    def relative_iqr(self) -> float:
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else 0.0

    def step_fields(self) -> dict:
        """The record fields of a timed training step (perf and speed records alike): its median
        ``train_step_ms``, every repeat in ``train_step_raw_ms``, ``iqr_ms``, ``min_ms`` and ``timing_repeats``."""
        return {
            "train_step_ms": self.median_ms,
            "train_step_raw_ms": self.raw_ms,
            "iqr_ms": self.iqr_ms,
            "min_ms": self.min_ms,
            "timing_repeats": self.repeats,
        }

    def wants_more(self, min_repeats: int, min_time_s: float, max_repeats: int) -> bool:
        """Whether another timed call is due: fewer than ``min_repeats`` (at least 1) so far, or
        less than ``min_time_s`` in all while under ``max_repeats``."""
        return self.repeats < max(1, min_repeats) or (sum(self.seconds) < min_time_s and self.repeats < max_repeats)


def time_repeats(
    fn, device, warmup: int = 1, min_repeats: int = 5, min_time_s: float = 0.0, max_repeats: int = 1000
) -> Timing:
    """``warmup`` untimed calls of ``fn()``, then timed ones until there are at least ``min_repeats``
    and they sum to at least ``min_time_s`` (never more than ``max_repeats``)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    timing = Timing()
    while timing.wants_more(min_repeats, min_time_s, max_repeats):
        timing.seconds.append(time_once(fn, device))
    return timing


NOISY_RELATIVE_IQR = 0.10  # a phase whose IQR exceeds this fraction of its median is noisy
MIN_REPEATS_FOR_SPREAD = 3  # fewer repeats than this: no spread to judge, so not trusted either
LOAD_MARGIN = 0.5  # threads' worth of load (or busy cores) tolerated above what the cell leaves free


def _cpu_jiffies() -> tuple[float, float] | None:
    """(busy seconds of all CPUs, seconds of this process) from /proc, or None where unreadable."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = (sum(fields[:8]) - idle) / ticks  # user..steal, guests are inside user
    own = os.times()
    return busy, own.user + own.system


class HostActivity:
    """How busy the host was around a measurement (see the module docstring)."""

    def __init__(self):
        self.load_avg_before: float | None = None
        self.load_avg_after: float | None = None
        self.other_busy_cores: float | None = None

    def __enter__(self):
        self.load_avg_before = _load_average()
        self._start = time.perf_counter(), _cpu_jiffies()
        return self

    def __exit__(self, *exc):
        self.load_avg_after = _load_average()
        (wall_start, cpu_start), cpu_end = self._start, _cpu_jiffies()
        wall = time.perf_counter() - wall_start
        if cpu_start and cpu_end and wall > 0:
            others = (cpu_end[0] - cpu_start[0]) - (cpu_end[1] - cpu_start[1])
            self.other_busy_cores = round(max(0.0, others / wall), 3)
        return False

    def fields(self) -> dict:
        return {
            "load_avg_before": self.load_avg_before,
            "load_avg_after": self.load_avg_after,
            "other_busy_cores": self.other_busy_cores,
        }


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 3)
    except OSError:
        return None


def noise_reasons(timings: dict, threads: int, activity: HostActivity, cores: int | None = None) -> list[str]:
    """Why the timings of one cell are not to be trusted (empty: they are); ``timings`` maps a
    phase name to its :class:`Timing`. See the module docstring for the rules."""
    reasons = [
        f"{name}: {timing.repeats} repeat(s), spread unknown"
        for name, timing in timings.items()
        if timing.repeats < MIN_REPEATS_FOR_SPREAD
    ]
    reasons += [
        f"{name} IQR {timing.relative_iqr:.0%} of its median"
        for name, timing in timings.items()
        if timing.repeats >= MIN_REPEATS_FOR_SPREAD and timing.relative_iqr > NOISY_RELATIVE_IQR
    ]
    loads = [value for value in (activity.load_avg_before, activity.load_avg_after) if value is not None]
    if loads and max(loads) > threads + LOAD_MARGIN:
        reasons.append(f"load average {max(loads):.2f} above the cell's {threads} thread(s)")
    spare = max(0, (cores or os.cpu_count() or 1) - threads)
    if activity.other_busy_cores is not None and activity.other_busy_cores > spare + LOAD_MARGIN:
        reasons.append(
            f"other processes kept {activity.other_busy_cores:.2f} cores busy ({spare} left free by the cell)"
        )
    return reasons


def noise_fields(timings: dict, threads: int, activity: HostActivity) -> dict:
    reasons = noise_reasons(timings, threads, activity)
    return {**activity.fields(), "timing_noisy": bool(reasons), "timing_noisy_reason": "; ".join(reasons) or None}


def apply_numerics(tf32: bool = False, deterministic: bool = True) -> None:
    """Set TF32 for every fp32 matmul and convolution (cuBLAS and cuDNN alike) and
    deterministic algorithms, the same way wherever cells or benchmarks run."""
    precision = "tf32" if tf32 else "ieee"
    if hasattr(torch.backends, "fp32_precision"):  # torch >= 2.9: never mix with the legacy flags
        cudnn = torch.backends.cudnn
        for backend in (torch.backends.cuda.matmul, cudnn, getattr(cudnn, "conv", None), getattr(cudnn, "rnn", None)):
            if backend is not None and hasattr(backend, "fp32_precision"):
                backend.fp32_precision = precision
    else:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    if torch.are_deterministic_algorithms_enabled() != deterministic:
        torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False


def numerics_fields() -> dict:
    """What :func:`apply_numerics` left in force, as records carry it."""
    if hasattr(torch.backends, "fp32_precision"):
        tf32 = torch.backends.cuda.matmul.fp32_precision == "tf32"
    else:
        tf32 = bool(torch.backends.cuda.matmul.allow_tf32)
    return {
        "tf32": tf32,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "fill_uninitialized_memory": bool(torch.utils.deterministic.fill_uninitialized_memory),
    }
