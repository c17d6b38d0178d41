"""The typed settings a run is made of, each with one ``validate()``.

- :class:`RunOptions`: what defines a run's cells (the ``run`` flags that are
  stored in the manifest and must agree on ``--resume``). A new option is a
  field here and a flag in ``suite.commands.cli``.
- :class:`RunContext`: the run-level fields every record carries.
- :class:`ChildSettings`: how a cell's child process is set up.
- :class:`Dispatch`: what every executor needs besides the cells.

Executors' own options and plan are in ``suite.executors.options``. Everything
here pickles, so it travels to forkserver children, Ray tasks and Slurm jobs.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field

from suite.errors import UsageError

KINDS = ("accuracy", "perf")
MAX_SEED = 2**32 - 1  # torch.manual_seed takes any int; numpy-style generators take 32 bits


@dataclass
class RunOptions:
    """The options that define a run (``manifest["options"]``); ``None``: the preset decides."""

    models: list = field(default_factory=lambda: ["all"])
    tasks: list | None = None
    seq_lens: list | None = None
    train_len: list | None = None
    eval_lens: list | None = None
    lrs: list | None = None
    match: str = "width"
    perf_seq_lens: list | None = None
    perf_repeats: int | None = None
    tf32: str | None = None
    kinds: list = field(default_factory=lambda: list(KINDS))
    preset: str | None = None
    overrides: list = field(default_factory=list)  # --set key=value, applied to the preset in order
    config: str | None = None  # --config FILE.toml: the preset, from a file
    device: str = "auto"
    seeds: list = field(default_factory=lambda: [0])
    threads: int | None = None
    plugin: list = field(default_factory=list)
    isolation: str = "process"
    cell_timeout: float | None = None
    mem_limit: int | None = None
    find_max_len: bool = False
    max_len_start: int = 256
    max_len_limit: int = 2**20

    @classmethod
    def names(cls) -> list[str]:
        return [one.name for one in dataclasses.fields(cls)]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> RunOptions:
        """Raise a one-line :class:`UsageError` for options that cannot make a run."""
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise UsageError(f"unknown --kinds {', '.join(unknown)}: use accuracy, perf or both")
        if self.train_len and (self.seq_lens or len(self.train_len) > 1):
            raise UsageError("--train-len takes one length and replaces --seq-lens: give one of them")
        if self.perf_repeats is not None and self.perf_repeats < 1:
            raise UsageError(f"--perf-repeats must be at least 1, got {self.perf_repeats}")
        check_threads(self.threads)
        if self.cell_timeout is not None and not (self.cell_timeout > 0 and math.isfinite(self.cell_timeout)):
            raise UsageError(f"--cell-timeout must be a positive, finite number of seconds, got {self.cell_timeout}")
        if any(not (rate > 0 and math.isfinite(rate)) for rate in self.lrs or []):
            raise UsageError(f"--lrs must be positive, finite learning rates, got {self.lrs}")
        if any(not 0 <= seed <= MAX_SEED for seed in self.seeds):
            raise UsageError(f"--seeds must be integers from 0 to 2**32-1 ({MAX_SEED}), got {self.seeds}")
        for spec in self.models:
            family, colon, backend = spec.partition(":")
            if not family or (colon and not backend):
                raise UsageError(
                    f"--models {spec!r} has an empty family or backend: write family or "
                    "family:backend (e.g. mingru or mingru:log)"
                )
        if self.config is not None and self.preset is not None:
            raise UsageError(
                "--config defines the preset: give --config or --preset, not both "
                '(a config file may start from a preset with base = "name")'
            )
        if self.mem_limit is not None and self.mem_limit <= 0:
            raise UsageError(f"--mem-limit must be positive, got {self.mem_limit}")
        if self.isolation not in ("process", "none"):
            raise UsageError(f"unknown --isolation {self.isolation!r}: use process or none")
        if self.find_max_len and self.isolation != "process":
            raise UsageError("--find-max-len runs every probe in its own process: drop --isolation none")
        if self.max_len_start <= 0 or self.max_len_limit < self.max_len_start:
            raise UsageError("--max-len-start must be positive and no larger than --max-len-limit")
        return self

    @property
    def lengths(self) -> list | None:
        """The train lengths of accuracy cells: ``--train-len`` or ``--seq-lens``."""
        return self.train_len or self.seq_lens


def check_threads(threads: int | None, flag: str = "--threads") -> None:
    """Torch threads per cell: 1 to four times the cores (more only oversubscribes, and a huge
    count makes torch's thread pool fail)."""
    most = 4 * (os.cpu_count() or 1)
    if threads is not None and not 1 <= threads <= most:
        raise UsageError(f"{flag} must be from 1 to {most} (4 x this machine's cores), got {threads}")


def check_mem_limit(limit: int | None, base_bytes: int | None) -> None:
    """A memory cap below what a cell's process holds before it starts cannot run any cell."""
    if limit is not None and base_bytes and limit < base_bytes:
        raise UsageError(
            f"--mem-limit {limit} bytes is below the {base_bytes / 2**20:.0f} MiB a cell's process "
            f"holds before its cell starts (torch loaded): give at least "
            f"{-(-base_bytes // 2**20) + 64}MiB"
        )


@dataclass(frozen=True)
class RunContext:
    """Run-level fields of every record (``suite.measure.cell.record_header``). ``device_name``
    and ``torch_threads`` fill records the driver writes itself (it never touches CUDA)."""

    run_id: str | None = None
    preset: str | None = None
    git_commit: str | None = None
    hostname: str | None = None
    device_name: str | None = None
    torch_threads: int | None = None
    executor: str | None = None

    def validate(self) -> RunContext:
        if self.torch_threads is not None and self.torch_threads < 1:
            raise UsageError(f"torch threads must be at least 1, got {self.torch_threads}")
        return self

    def at_host(self, hostname: str | None) -> RunContext:
        return dataclasses.replace(self, hostname=hostname or self.hostname)


@dataclass(frozen=True)
class ChildSettings:
    """How each cell's child is set up (``suite.executors.isolated``)."""

    plugins: tuple = ()  # plugin files, imported in the child
    plugin_sources: tuple = ()  # plugin files as text, for a child on another machine
    threads: int | None = None  # torch.set_num_threads in the child
    mem_limit_bytes: int | None = None  # RLIMIT_DATA of the child
    cuda_visible_devices: str | None = None  # the GPU the child is pinned to

    def validate(self) -> ChildSettings:
        # at least 1; the bound by this machine's cores is --threads' (RunOptions): under Ray or
        # Slurm a cell's threads are its --cpus-per-cell on a worker node, not this machine's
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"torch threads per cell must be at least 1, got {self.threads}")
        if self.mem_limit_bytes is not None and self.mem_limit_bytes <= 0:
            raise UsageError(f"--mem-limit must be positive, got {self.mem_limit_bytes}")
        return self

    def pinned(self, gpu: str | None) -> ChildSettings:
        return self if gpu is None else dataclasses.replace(self, cuda_visible_devices=gpu)

    def shipped(self) -> ChildSettings:
        """For a child on another machine: plugin files as their text."""
        from suite.plugins import plugin_sources

        return dataclasses.replace(self, plugins=(), plugin_sources=tuple(plugin_sources(list(self.plugins))))


@dataclass(frozen=True)
class Dispatch:
    """What every executor needs besides the cells: where, for which run, how, how long."""

    device: str
    context: RunContext = field(default_factory=RunContext)
    settings: ChildSettings = field(default_factory=ChildSettings)
    timeout_s: float | None = None

    def validate(self) -> Dispatch:
        self.context.validate()
        self.settings.validate()
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise UsageError(f"the cell timeout must be positive, got {self.timeout_s}")
        return self

    def pinned(self, gpu: str | None) -> Dispatch:
        return self if gpu is None else dataclasses.replace(self, settings=self.settings.pinned(gpu))
