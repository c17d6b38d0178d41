"""The flags of ``python -m suite bench speed`` and the options they make, checked once.

The options that define a bench (what is timed, at which shapes, how) are a :class:`BenchOptions`,
stored in the manifest's ``options``; their flags default to None so that ``--resume`` takes unset
ones from the manifest and refuses contradicting ones (:func:`suite.records.manifest.merge_options`).
:meth:`BenchOptions.validate` refuses bad input in one line before anything is written;
:func:`check_fits` refuses shapes that cannot fit the device.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from suite.commands.arguments import csv_list, csv_positive_ints
from suite.errors import UsageError

DEFAULT_MODELS = (
    "mingru:triton",
    "mingru:fla",
    "mingru:linear",
    "mingru:log",
    "minlstm:triton",
    "minlstm:fla",
    "minlstm:linear",
    "minlstm:log",
    "gru",
    "gru:loop",
    "lstm",
    "lstm:loop",
    "mamba",
    "mamba2",
    "transformer",
)
SCOPES = ("mixer", "model", "scan")
MAX_ROUNDS = 1000  # --repeats and --warmup: the most timed rounds time_interleaved takes for --min-time-s


@dataclass
class BenchOptions:
    """What defines a bench (``manifest["options"]``; ``dtype`` as resolved for the device)."""

    device: str = "auto"
    seq_lens: list = field(default_factory=lambda: [128, 512, 2048, 4096])
    batch_size: int = 8
    d_model: int = 256
    models: list = field(default_factory=lambda: list(DEFAULT_MODELS))
    scopes: list = field(default_factory=lambda: list(SCOPES))
    repeats: int = 7
    min_time_s: float = 0.2
    tf32: str = "off"
    warmup: int = 2
    dtype: str = "auto"
    threads: int | None = None
    seed: int = 0

    @classmethod
    def names(cls) -> list[str]:
        return [one.name for one in dataclasses.fields(cls)]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> BenchOptions:
        """Raise a one-line :class:`UsageError` for options that cannot make a bench."""
        from suite.plan.presets import DTYPES
        from suite.plan.settings import MAX_SEED, check_threads
        from suite.registry import parse_spec

        if not self.models:
            raise UsageError("--models is empty: name at least one model spec, e.g. --models mingru,gru")
        for spec in self.models:
            parse_spec(spec)  # unknown family or backend: one line with "did you mean"
        unknown = sorted(set(self.scopes) - set(SCOPES))
        if unknown:
            raise UsageError(f"unknown --scopes {', '.join(unknown)}: use {', '.join(SCOPES)}")
        if not self.scopes:
            raise UsageError(f"--scopes is empty: use one or more of {', '.join(SCOPES)}")
        for name in ("batch_size", "d_model", "repeats"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.warmup <= MAX_ROUNDS or self.repeats > MAX_ROUNDS:
            raise UsageError(
                f"--warmup must be from 0 to {MAX_ROUNDS} and --repeats from 1 to {MAX_ROUNDS}, got "
                f"{self.warmup} and {self.repeats}"
            )
        if self.dtype not in DTYPES:
            raise UsageError(f"unknown --dtype {self.dtype!r}: use one of {', '.join(DTYPES)}")
        if not 0 <= self.min_time_s < float("inf"):
            raise UsageError(f"--min-time-s must be a finite number of seconds, 0 or more, got {self.min_time_s}")
        if not 0 <= self.seed <= MAX_SEED:
            raise UsageError(f"--seed must be an integer from 0 to 2**32-1 ({MAX_SEED}), got {self.seed}")
        check_threads(self.threads)
        return self


def add_arguments(parser) -> None:
    parser.add_argument("what", choices=["speed"], help="what to benchmark (speed: training-step time per length)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default: cuda if available)")
    parser.add_argument(
        "--seq-lens", type=csv_positive_ints, default=None, help="comma-separated lengths (default 128,512,2048,4096)"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="sequences per step (default 8)")
    parser.add_argument("--d-model", type=int, default=None, help="model width D (default 256)")
    parser.add_argument(
        "--models",
        type=csv_list,
        default=None,
        help="comma-separated model specs (default: every min-RNN backend and every baseline)",
    )
    parser.add_argument("--scopes", type=csv_list, default=None, help="mixer, model, scan (default: all)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 7)")
    parser.add_argument(
        "--min-time-s",
        type=float,
        default=None,
        help="keep timing a subject until its timed steps add up to this (default 0.2)",
    )
    parser.add_argument(
        "--tf32", choices=("on", "off"), default=None, help="TF32 for fp32 matmuls and cuDNN on CUDA (default off)"
    )
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps per subject before timing (default 2)")
    parser.add_argument(
        "--dtype", default=None, help="auto (float32 on CPU, bfloat16 autocast on CUDA), float32 or bfloat16-autocast"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=None, help="seed of weights and inputs (default 0)")
    add_output_arguments(parser)


def add_output_arguments(parser) -> None:
    """Where the bench goes (not part of what defines it)."""
    parser.add_argument("--out", default=None, help="run directory to create (default results/bench-speed-<time>)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="finish the bench in --out: only units (a length and scope) without a record of every subject",
    )
    parser.add_argument(
        "--report",
        default=None,
        help="HTML report path (default: report.html in --out; without --out, reports/<run_id>.html)",
    )
    parser.add_argument("--no-report", action="store_true", help="write records only")


def memory_of(device: str) -> tuple[int, str]:
    """The bytes one subject could at most use, and where: the device's memory on CUDA; on a CPU, the
    machine's memory, or the cgroup's limit where that is lower."""
    from suite.devices import is_cuda

    if is_cuda(device):
        import torch

        properties = torch.cuda.get_device_properties(torch.device(device))
        return properties.total_memory, f"{device} ({properties.name})"
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        total = min(total, int(limit)) if limit.isdigit() else total
    except OSError:
        pass
    return total, "this machine"


def _gib(size: int) -> str:
    size /= 2**30
    return f"{size:,.0f} GiB" if size >= 100 else f"{size:.3g} GiB"


def check_fits(options: BenchOptions, device: str) -> None:
    """Refuse shapes that cannot fit before anything runs. Two floors, each far below what a subject
    needs: every mixer- and model-scope subject holds at least one D x D float32 weight, and every
    subject at least one [B, T, D] float32 tensor (its input, or a scan's output). A shape above
    both floors that still does not fit is recorded ``oom`` at run time. A GPU's memory is read in a
    child process, so the driver never starts CUDA (the units' children each start their own)."""
    from suite.devices import is_cuda

    if is_cuda(device):
        from suite.executors.isolated import call_in_child
        from suite.plan.settings import ChildSettings

        memory, failure = call_in_child(memory_of, (device,), ChildSettings(), 300)
        if failure:
            raise UsageError(f"could not read the memory of {device} in a child process: {failure[1]}")
        total, where = memory
    else:
        total, where = memory_of(device)
    weight = 4 * options.d_model**2
    if set(options.scopes) & {"mixer", "model"} and weight > total:
        raise UsageError(
            f"--d-model {options.d_model}: one D x D weight alone takes {_gib(weight)}, more than the "
            f"{_gib(total)} of {where}: choose a smaller --d-model"
        )
    longest = max(options.seq_lens)
    activation = 4 * options.batch_size * longest * options.d_model
    if activation > total:
        raise UsageError(
            f"--batch-size {options.batch_size} x --seq-lens {longest} x --d-model {options.d_model}: one "
            f"activation alone takes {_gib(activation)}, more than the {_gib(total)} of {where}: choose "
            "smaller ones"
        )
