"""How ``suite run`` spreads cells: ``--executor local|ray|slurm`` and their options.

Every executor has the same shape, ``run(cells, device, context, writer,
progress, settings, timeout_s, **its options)``, and every one runs each cell
in a fresh child process and hands its records to the driver, the single writer
of ``records.jsonl``. So durability, ``--resume``, failure statuses and the
manifest do not depend on the executor, and a run may be resumed with another
one: these options describe *how* cells run, not *which* cells (they are kept
per start in the manifest's ``executors`` list, not in its ``options``).

Torch threads are pinned in every executor and recorded in each record's
``torch_threads``: ``--threads`` if given; otherwise torch's default for one
local job, ``cores // jobs`` for several, and the cell's CPUs under Ray or Slurm.
Different thread counts change float sums: compare records at equal settings.
"""
from __future__ import annotations

import datetime
import importlib.util
import math
import os
import shutil

from suite.executors import ray_executor, slurm


class ExecutorUsageError(ValueError):
    """Executor options that cannot work together; the message says the fix."""


def add_arguments(parser) -> None:
    group = parser.add_argument_group("executor (how cells are spread; a --resume may use another)")
    group.add_argument("--executor", choices=("local", "ray", "slurm"), default="local",
                       help="local: children of this process (default); ray: one Ray task per cell; "
                            "slurm: one job array through submitit")
    group.add_argument("--jobs", type=int, default=None,
                       help="cells at once: local (default 1 on CPU, one per visible GPU on CUDA, each pinned "
                            "to its GPU); slurm array parallelism (default: Slurm's; 1 with --slurm-cluster local)")
    group.add_argument("--ray-address", default=None,
                       help="auto (a cluster started with `ray start`) or ray://host:port; default: a local "
                            "Ray instance on 127.0.0.1 for this run")
    group.add_argument("--ray-num-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    group.add_argument("--ray-temp-dir", default=None, help="session folder of the local Ray instance")
    group.add_argument("--cpus-per-cell", type=float, default=1.0, help="ray/slurm: CPUs per cell (default 1)")
    group.add_argument("--gpus-per-cell", type=float, default=None,
                       help="ray/slurm: GPUs per cell (default 1 on CUDA, 0 on CPU)")
    group.add_argument("--max-retries", type=int, default=1,
                       help="ray: re-runs of a cell whose worker died or node was lost (default 1)")
    group.add_argument("--slurm-partition", default=None, help="slurm: partition to submit to")
    group.add_argument("--slurm-time", type=float, default=None,
                       help="slurm: minutes per cell's job (default: cell timeout + 10)")
    group.add_argument("--slurm-folder", default=None, help="slurm: job scripts and logs (default: <run>/slurm)")
    group.add_argument("--slurm-cluster", choices=("slurm", "local"), default="slurm",
                       help="local: the same jobs on this machine through submitit's LocalExecutor (testing)")


def visible_gpu_ids() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (never starts CUDA)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [item.strip() for item in listed.split(",") if item.strip()]
    import torch

    return [str(index) for index in range(torch.cuda.device_count())]


def plan_executor(args, options: dict, device: str, cells) -> dict:
    """Check the executor options against the run; return what :func:`run` needs and the
    manifest notes: ``{"name", "label", "threads", "kwargs", "manifest"}``."""
    name, cuda = args.executor, device.startswith("cuda")
    if args.jobs is not None and args.jobs < 1:
        raise ExecutorUsageError("--jobs must be at least 1")
    if name != "ray" and (args.ray_address or args.ray_num_cpus or args.ray_temp_dir):
        raise ExecutorUsageError("--ray-* options need --executor ray")
    if name != "slurm" and (args.slurm_partition or args.slurm_time or args.slurm_folder):
        raise ExecutorUsageError("--slurm-* options need --executor slurm")
    if name == "ray" and args.jobs is not None:
        raise ExecutorUsageError("--jobs does not apply to --executor ray: Ray runs as many cells as the "
                                 "cluster's CPUs/GPUs allow; size them with --cpus-per-cell/--gpus-per-cell")
    if name != "local" and options["isolation"] != "process":
        raise ExecutorUsageError(f"--executor {name} runs every cell in its own process: drop --isolation none")
    if name != "local" and options["find_max_len"]:
        raise ExecutorUsageError("--find-max-len probes lengths on this machine one at a time: use --executor local")
    if args.cpus_per_cell <= 0 or (args.gpus_per_cell is not None and args.gpus_per_cell < 0):
        raise ExecutorUsageError("--cpus-per-cell must be positive and --gpus-per-cell not negative")
    if args.max_retries < 0:
        raise ExecutorUsageError("--max-retries must be 0 or more")
    needs = {"ray": ("ray", ray_executor.INSTALL_HINT), "slurm": ("submitit", slurm.INSTALL_HINT)}
    if name in needs and importlib.util.find_spec(needs[name][0]) is None:
        raise ExecutorUsageError(needs[name][1])
    if name == "slurm" and args.slurm_cluster == "slurm" and shutil.which("sbatch") is None:
        raise ExecutorUsageError(slurm.NO_SBATCH)
    gpus_per_cell = args.gpus_per_cell if args.gpus_per_cell is not None else (1.0 if cuda else 0.0)
    threads = options["threads"]
    has_perf = any(cell.kind == "perf" for cell in cells)
    cores = os.cpu_count() or 1
    kwargs: dict = {}
    if name == "local":
        gpu_ids = visible_gpu_ids() if cuda and device in ("cuda", "cuda:0") else []
        jobs = args.jobs or (max(1, len(gpu_ids)) if cuda else 1)
        if jobs > 1 and options["isolation"] != "process":
            raise ExecutorUsageError("--jobs above 1 runs cells in child processes: drop --isolation none")
        if jobs > 1 and cuda and not gpu_ids:
            raise ExecutorUsageError(f"--jobs {jobs} pins each job to a GPU of --device cuda; with --device "
                                     f"{device} use --jobs 1")
        if jobs > 1 and not cuda:
            threads = threads or max(1, cores // jobs)
        at_once = jobs
        kwargs = {"jobs": jobs, "gpu_ids": gpu_ids if jobs > 1 else None}
        label = "local" if jobs == 1 else f"local --jobs {jobs}"
    elif name == "ray":
        threads = threads or max(1, math.floor(args.cpus_per_cell))
        local_cpus = args.ray_num_cpus or cores
        at_once = None if args.ray_address else max(1, math.floor(local_cpus / args.cpus_per_cell))
        kwargs = {"address": args.ray_address, "num_cpus": args.ray_num_cpus, "temp_dir": args.ray_temp_dir,
                  "cpus_per_cell": args.cpus_per_cell, "gpus_per_cell": gpus_per_cell,
                  "max_retries": args.max_retries}
        label = "ray"
    else:
        threads = threads or max(1, math.floor(args.cpus_per_cell))
        jobs = args.jobs or (1 if args.slurm_cluster == "local" else None)
        at_once = jobs if args.slurm_cluster == "local" else 1  # Slurm gives each task its own cores
        kwargs = {"folder": args.slurm_folder, "cluster": args.slurm_cluster,
                  "partition": args.slurm_partition, "time_min": args.slurm_time,
                  "cpus_per_cell": args.cpus_per_cell, "gpus_per_cell": gpus_per_cell, "jobs": jobs}
        label = "slurm" if args.slurm_cluster == "slurm" else "slurm (submitit local)"
    shared = not cuda and has_perf and (at_once is None or at_once > 1)
    notes = {"executor": name, "label": label, "torch_threads": threads,
             "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
             "cells_at_once": at_once, "timed_cells_shared_cores": shared,
             **{key: value for key, value in kwargs.items() if key not in ("gpu_ids", "temp_dir", "folder")}}
    return {"name": name, "label": label, "threads": threads, "kwargs": kwargs, "manifest": notes}


SHARED_CORES_WARNING = ("timed cells ran side by side on the same CPU cores ({label}, up to {at_once} at once): "
                        "their throughput and latency are not those of a cell alone; rerun perf cells with one "
                        "job for timings")


def shared_cores_warnings(manifest: dict) -> list[str]:
    """The report's warning lines for executor starts whose perf cells shared cores."""
    return [SHARED_CORES_WARNING.format(label=entry.get("label"), at_once=entry.get("cells_at_once") or "many")
            for entry in manifest.get("executors") or [] if entry.get("timed_cells_shared_cores")]


def run(plan: dict, cells, device: str, context: dict, writer, progress, settings: dict, timeout_s):
    """Run ``cells`` with the executor ``plan`` (from :func:`plan_executor`) describes."""
    name, kwargs = plan["name"], plan["kwargs"]
    if name == "ray":
        return ray_executor.run(cells, device, context, writer, progress, settings, timeout_s, **kwargs)
    if name == "slurm":
        return slurm.run(cells, device, context, writer, progress, settings, timeout_s, **kwargs)
    from suite.executors import isolated, pool

    if kwargs["jobs"] > 1:
        return pool.run(cells, device, context, writer, progress, settings, timeout_s, **kwargs)
    return isolated.run(cells, device, context, writer, progress, settings, timeout_s)
