"""How ``suite run`` spreads cells: ``--executor local|ray|slurm`` and their options.

Every executor has the same shape, ``run(cells, dispatch, sink[, its
options])`` (``suite.executors``), and every one runs each cell
in a fresh child process and hands its records to the driver, the single writer
of ``records.jsonl``. So durability, ``--resume``, failure statuses and the
manifest do not depend on the executor, and a run may be resumed with another
one: these options describe *how* cells run, not *which* cells (they are kept
per start in the manifest's ``executors`` list, not in its ``options``).

Torch threads are pinned in every executor and recorded in each record's
``torch_threads``: ``--threads`` if given; otherwise torch's default for one
local job, ``cores // jobs`` for several, and the cell's CPUs under Ray or Slurm.
Different thread counts change float sums: compare records at equal settings.

Timed cells never share this machine's cores with each other: under ``--executor local --jobs N`` on
a CPU the untimed cells (accuracy) run N at a time, then the timed ones (perf, max-len) one at a
time, alone, with ``--threads`` or torch's default, so their throughput and memory are a cell's
alone while training still uses every core.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.util
import math
import os
import shutil
from dataclasses import dataclass, fields

from suite.devices import is_cuda
from suite.errors import UsageError
from suite.executors import RecordSink, ray_executor, slurm
from suite.executors.ray_executor import RayOptions
from suite.executors.slurm import SlurmOptions
from suite.plan.settings import Dispatch, RunOptions


class ExecutorUsageError(UsageError):
    """Executor options that cannot work together; the message says the fix."""


def add_arguments(parser) -> None:
    group = parser.add_argument_group("executor (how cells are spread; a --resume may use another)")
    group.add_argument(
        "--executor",
        choices=("local", "ray", "slurm"),
        default="local",
        help="local: children of this process (default); ray: one Ray task per cell; "
        "slurm: one job array through submitit",
    )
    group.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="cells at once: local (default 1 on CPU, one per visible GPU on CUDA, each pinned "
        "to its GPU); slurm array parallelism (default: Slurm's; 1 with --slurm-cluster local)",
    )
    group.add_argument(
        "--ray-address",
        default=None,
        help="auto (a cluster started with `ray start`) or ray://host:port; default: a local "
        "Ray instance on 127.0.0.1 for this run",
    )
    group.add_argument("--ray-num-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    group.add_argument("--ray-temp-dir", default=None, help="session folder of the local Ray instance")
    group.add_argument("--cpus-per-cell", type=float, default=1.0, help="ray/slurm: CPUs per cell (default 1)")
    group.add_argument(
        "--gpus-per-cell", type=float, default=None, help="ray/slurm: GPUs per cell (default 1 on CUDA, 0 on CPU)"
    )
    group.add_argument(
        "--max-retries",
        type=int,
        default=1,
        help="ray: re-runs of a cell whose worker died or node was lost (default 1)",
    )
    group.add_argument("--slurm-partition", default=None, help="slurm: partition to submit to")
    group.add_argument(
        "--slurm-time", type=float, default=None, help="slurm: minutes per cell's job (default: cell timeout + 10)"
    )
    group.add_argument("--slurm-folder", default=None, help="slurm: job scripts and logs (default: <run>/slurm)")
    group.add_argument(
        "--slurm-cluster",
        choices=("slurm", "local"),
        default="slurm",
        help="local: the same jobs on this machine through submitit's LocalExecutor (testing)",
    )


@dataclass(frozen=True)
class ExecutorOptions:
    """The ``--executor`` group's flags (see :func:`add_arguments`); a ``--resume`` may change them."""

    executor: str = "local"
    jobs: int | None = None
    ray_address: str | None = None
    ray_num_cpus: int | None = None
    ray_temp_dir: str | None = None
    cpus_per_cell: float = 1.0
    gpus_per_cell: float | None = None
    max_retries: int = 1
    slurm_partition: str | None = None
    slurm_time: float | None = None
    slurm_folder: str | None = None
    slurm_cluster: str = "slurm"

    @classmethod
    def from_args(cls, args) -> ExecutorOptions:
        return cls(**{one.name: getattr(args, one.name) for one in fields(cls)})

    def validate(self, run: RunOptions) -> ExecutorOptions:
        """Raise a one-line :class:`ExecutorUsageError` for options that cannot work together."""
        name = self.executor
        checks = [
            (self.jobs is not None and self.jobs < 1, "--jobs must be at least 1"),
            (
                name != "ray" and bool(self.ray_address or self.ray_num_cpus or self.ray_temp_dir),
                "--ray-* options need --executor ray",
            ),
            (
                name != "slurm" and bool(self.slurm_partition or self.slurm_time or self.slurm_folder),
                "--slurm-* options need --executor slurm",
            ),
            (
                name == "ray" and self.jobs is not None,
                "--jobs does not apply to --executor ray: Ray runs as many cells as the cluster's CPUs/GPUs allow; "
                "size them with --cpus-per-cell/--gpus-per-cell",
            ),
            (
                name != "local" and run.isolation != "process",
                f"--executor {name} runs every cell in its own process: drop --isolation none",
            ),
            (
                name != "local" and run.find_max_len,
                "--find-max-len probes lengths on this machine one at a time: use --executor local",
            ),
            (
                self.cpus_per_cell <= 0 or (self.gpus_per_cell is not None and self.gpus_per_cell < 0),
                "--cpus-per-cell must be positive and --gpus-per-cell not negative",
            ),
            (self.max_retries < 0, "--max-retries must be 0 or more"),
            (
                name == "local" and (self.jobs or 1) > 1 and run.isolation != "process",
                "--jobs above 1 runs cells in child processes: drop --isolation none",
            ),
        ]
        for failed, message in checks:
            if failed:
                raise ExecutorUsageError(message)
        needs = {"ray": ("ray", ray_executor.INSTALL_HINT), "slurm": ("submitit", slurm.INSTALL_HINT)}
        if name in needs and importlib.util.find_spec(needs[name][0]) is None:
            raise ExecutorUsageError(needs[name][1])
        if name == "slurm" and self.slurm_cluster == "slurm" and shutil.which("sbatch") is None:
            raise ExecutorUsageError(slurm.NO_SBATCH)
        return self


@dataclass(frozen=True)
class ExecutorPlan:
    """What :func:`run` needs, and the notes kept per start in the manifest's ``executors`` list."""

    name: str
    label: str
    threads: int | None
    options: object = None  # jobs/gpu_ids for local, RayOptions, SlurmOptions
    at_once: int | None = None  # cells at once (None: as many as a cluster allows)
    shares_cores: bool = False  # timed cells ran side by side on the same CPU cores
    timed_alone: bool = False  # local --jobs N on a CPU: timed cells after the others, one at a time
    timed_threads: int | None = None  # ... with these torch threads (None: torch's default)

    def validate(self) -> ExecutorPlan:
        if self.threads is not None and self.threads < 1:
            raise ExecutorUsageError(f"torch threads per cell must be at least 1, got {self.threads}")
        return self

    def manifest(self) -> dict:
        shown = (
            {}
            if self.options is None
            else {
                key: value
                for key, value in (
                    self.options.__dict__ if not isinstance(self.options, dict) else self.options
                ).items()
                if key not in ("gpu_ids", "temp_dir", "folder")
            }
        )
        return {
            "executor": self.name,
            "label": self.label,
            "torch_threads": self.threads,
            "started": datetime.datetime.now(datetime.UTC).isoformat(),
            "cells_at_once": self.at_once,
            "timed_cells_shared_cores": self.shares_cores,
            "timed_cells_alone": self.timed_alone,
            **shown,
        }


def visible_gpu_ids() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (never starts CUDA)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [item.strip() for item in listed.split(",") if item.strip()]
    import torch

    return [str(index) for index in range(torch.cuda.device_count())]


def is_timed(cell) -> bool:
    """A cell whose numbers are times or memory (perf, max-len): never run beside another on a CPU."""
    return cell.kind != "accuracy"


def _local_plan(options: ExecutorOptions, run: RunOptions, device: str, threads, cores: int):
    cuda = is_cuda(device)
    gpu_ids = visible_gpu_ids() if cuda and device in ("cuda", "cuda:0") else []
    jobs = options.jobs or (max(1, len(gpu_ids)) if cuda else 1)
    if jobs > 1 and cuda and not gpu_ids:
        raise ExecutorUsageError(
            f"--jobs {jobs} pins each job to a GPU of --device cuda; with --device {device} use --jobs 1"
        )
    if jobs > 1 and not cuda:
        threads = threads or max(1, cores // jobs)
    label = "local" if jobs == 1 else f"local --jobs {jobs}"
    return label, threads, {"jobs": jobs, "gpu_ids": gpu_ids if jobs > 1 else None}, jobs


def plan_executor(options: ExecutorOptions, run: RunOptions, device: str, cells) -> ExecutorPlan:
    """Check the executor options against the run and plan how its cells are spread."""
    options.validate(run)
    name, cuda, cores = options.executor, is_cuda(device), os.cpu_count() or 1
    gpus_per_cell = options.gpus_per_cell if options.gpus_per_cell is not None else (1.0 if cuda else 0.0)
    threads = run.threads
    if name == "local":
        label, threads, spread, at_once = _local_plan(options, run, device, threads, cores)
    elif name == "ray":
        threads = threads or max(1, math.floor(options.cpus_per_cell))
        local_cpus = options.ray_num_cpus or cores
        at_once = None if options.ray_address else max(1, math.floor(local_cpus / options.cpus_per_cell))
        spread = RayOptions(
            options.ray_address,
            options.ray_num_cpus,
            options.ray_temp_dir,
            options.cpus_per_cell,
            gpus_per_cell,
            options.max_retries,
        )
        label = "ray"
    else:
        threads = threads or max(1, math.floor(options.cpus_per_cell))
        jobs = options.jobs or (1 if options.slurm_cluster == "local" else None)
        at_once = jobs if options.slurm_cluster == "local" else 1  # Slurm gives each task its own cores
        spread = SlurmOptions(
            options.slurm_folder,
            options.slurm_cluster,
            options.slurm_partition,
            options.slurm_time,
            options.cpus_per_cell,
            gpus_per_cell,
            jobs,
        )
        label = "slurm" if options.slurm_cluster == "slurm" else "slurm (submitit local)"
    has_perf = any(cell.kind == "perf" for cell in cells)
    timed_alone = name == "local" and not cuda and (at_once or 1) > 1
    shares = not cuda and has_perf and (at_once is None or at_once > 1) and not timed_alone
    return ExecutorPlan(name, label, threads, spread, at_once, shares, timed_alone, run.threads).validate()


def run(plan: ExecutorPlan, cells, dispatch: Dispatch, sink: RecordSink) -> None:
    """Run ``cells`` the way ``plan`` (from :func:`plan_executor`) says."""
    if plan.name == "ray":
        return ray_executor.run(cells, dispatch, sink, plan.options)
    if plan.name == "slurm":
        return slurm.run(cells, dispatch, sink, plan.options)
    from suite.executors import isolated, pool

    if plan.options["jobs"] > 1 and plan.timed_alone:
        pool.run([cell for cell in cells if not is_timed(cell)], dispatch, sink, **plan.options)
        return isolated.run([cell for cell in cells if is_timed(cell)], alone(dispatch, plan.timed_threads), sink)
    if plan.options["jobs"] > 1:
        return pool.run(cells, dispatch, sink, **plan.options)
    return isolated.run(cells, dispatch, sink)


def alone(dispatch: Dispatch, threads: int | None) -> Dispatch:
    """``dispatch`` for a cell run alone on this machine: ``threads`` torch threads (None: torch's default)."""
    settings = dataclasses.replace(dispatch.settings, threads=threads)
    context = dataclasses.replace(dispatch.context, torch_threads=threads)
    return dataclasses.replace(dispatch, settings=settings, context=context)
