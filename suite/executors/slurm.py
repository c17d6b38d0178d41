"""``--executor slurm``: the grid as one Slurm job array through ``submitit``,
one array task per cell, the driver the only writer.

- Each array task runs its cell in a fresh forkserver child of the job's process
  (:mod:`suite.executors.remote`): the same set-up, timeout and failure statuses
  as the local executor, plugin files shipped as text, the node's hostname and
  the GPU Slurm gave it (``CUDA_VISIBLE_DEVICES``) in the record.
- Slurm options: ``--slurm-partition``, ``--slurm-time`` (minutes per cell's
  job; default the cell timeout plus 10), ``--gpus-per-cell``, ``--cpus-per-cell``,
  ``--jobs`` (how many array tasks run at once; default: as many as Slurm allows).
  Job scripts, pickles and logs go to ``--slurm-folder`` (default ``<run>/slurm``).
- The driver polls the jobs and writes each record as its job ends. A job that
  ends without a result (cancelled, pre-empted, past its time, node failure)
  becomes an ``error`` record naming the job and what submitit reported. Ctrl-C
  cancels every job not yet finished. A job still queued when the driver is
  killed is not collected: ``--resume`` runs its cell again.
- ``--slurm-cluster local`` runs the same jobs on this machine with submitit's
  ``LocalExecutor`` (how this executor is tested: there is no Slurm where the
  suite is developed). That executor starts every job it is given at once, so
  the driver keeps at most ``--jobs`` (default 1) in flight itself.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass

from suite.executors import RecordSink
from suite.plan.settings import Dispatch

from suite.executors.ray_executor import ExecutorError, first_line

INSTALL_HINT = "--executor slurm needs submitit, which is not installed: pip install -e '.[slurm]'"
NO_SBATCH = (
    "--executor slurm: no `sbatch` on this machine: run the driver on a Slurm login node "
    "(or try the jobs here with --slurm-cluster local)"
)
POLL_S = 0.2


def import_submitit():
    try:
        import submitit
    except ImportError:
        raise ExecutorError(INSTALL_HINT) from None
    return submitit


@dataclass(frozen=True)
class SlurmOptions:
    """``--slurm-folder``, ``--slurm-cluster``, ``--slurm-partition``, ``--slurm-time``,
    ``--cpus-per-cell``, ``--gpus-per-cell``, ``--jobs`` (see the module docstring)."""

    folder: str | None = None
    cluster: str = "slurm"
    partition: str | None = None
    time_min: float | None = None
    cpus_per_cell: float = 1.0
    gpus_per_cell: float = 0.0
    jobs: int | None = None


def make_executor(folder, options: SlurmOptions, time_min: float):
    submitit = import_submitit()
    if options.cluster == "slurm" and shutil.which("sbatch") is None:
        raise ExecutorError(NO_SBATCH)
    executor = submitit.AutoExecutor(folder=str(folder), cluster=options.cluster)
    parameters = {
        "timeout_min": max(1, int(round(time_min))),
        "gpus_per_node": int(options.gpus_per_cell),
        "cpus_per_task": max(1, int(round(options.cpus_per_cell))),
        "tasks_per_node": 1,
        "nodes": 1,
        "name": "suite-cell",
    }
    if options.cluster == "slurm":
        if options.partition:
            parameters["slurm_partition"] = options.partition
        if options.jobs:
            parameters["slurm_array_parallelism"] = options.jobs
    executor.update_parameters(**parameters)
    return executor


def run(cells, dispatch: Dispatch, sink: RecordSink, options: SlurmOptions = SlurmOptions()) -> None:
    """Run every cell as a submitit job (see the module docstring)."""
    from suite.executors import isolated, remote

    dispatch = dataclasses.replace(dispatch, settings=dispatch.settings.shipped())
    time_min = options.time_min or ((dispatch.timeout_s or 600) / 60 + 10)
    executor = make_executor(options.folder or sink.run_dir / "slurm", options, time_min)
    in_flight_limit = len(cells) if options.cluster == "slurm" else (options.jobs or 1)
    waiting = list(cells)
    running: dict = {}  # job -> (cell, submitted at)

    def submit(batch):
        submitted = executor.map_array(remote.run_on_worker, batch, [dispatch] * len(batch))
        for job, cell in zip(submitted, batch):
            running[job] = (cell, time.perf_counter())

    try:
        while waiting or running:
            free = in_flight_limit - len(running)
            if waiting and free > 0:
                submit(waiting[:free])
                del waiting[:free]
            finished = [job for job in running if job.done()]
            if not finished:
                time.sleep(POLL_S)
            for job in finished:
                cell, submitted_at = running.pop(job)
                found = collect(job, cell, dispatch, submitted_at)
                sink.put(found, label=f"{cell.label()} on {found[0].get('hostname')} (job {job.job_id})")
    except KeyboardInterrupt:
        for job in running:
            job.cancel(check=False)
        raise isolated.RunInterrupted() from None


def collect(job, cell, dispatch: Dispatch, submitted_at: float) -> list[dict]:
    """The records of a finished job: its cell's, or an ``error`` record naming what submitit reported."""
    from suite.executors import remote

    try:
        return remote.records_of(cell, job.result(), dispatch)
    except Exception as error:  # submitit's UncompletedJobError / FailedJobError, or a lost pickle
        return remote.lost_records(
            cell,
            dispatch,
            f"job {job.job_id} ended without a result: {type(error).__name__}: {first_line(error, 2)}",
            time.perf_counter() - submitted_at,
        )
