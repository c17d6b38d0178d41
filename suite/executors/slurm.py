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

import shutil
import time
from pathlib import Path

from suite.executors.ray_executor import ExecutorError, first_line

INSTALL_HINT = "--executor slurm needs submitit, which is not installed: pip install -e '.[slurm]'"
NO_SBATCH = ("--executor slurm: no `sbatch` on this machine: run the driver on a Slurm login node "
             "(or try the jobs here with --slurm-cluster local)")
POLL_S = 0.2


def import_submitit():
    try:
        import submitit
    except ImportError:
        raise ExecutorError(INSTALL_HINT) from None
    return submitit


def make_executor(folder, cluster: str, partition: str | None, time_min: float, cpus_per_cell: float,
                  gpus_per_cell: float, jobs: int | None):
    submitit = import_submitit()
    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise ExecutorError(NO_SBATCH)
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    parameters = {"timeout_min": max(1, int(round(time_min))), "gpus_per_node": int(gpus_per_cell),
                  "cpus_per_task": max(1, int(round(cpus_per_cell))), "tasks_per_node": 1, "nodes": 1,
                  "name": "suite-cell"}
    if cluster == "slurm":
        if partition:
            parameters["slurm_partition"] = partition
        if jobs:
            parameters["slurm_array_parallelism"] = jobs
    executor.update_parameters(**parameters)
    return executor


def run(cells, device: str, context: dict, writer, progress=None, settings: dict | None = None,
        timeout_s: float | None = None, folder=None, cluster: str = "slurm", partition: str | None = None,
        time_min: float | None = None, cpus_per_cell: float = 1, gpus_per_cell: float = 0,
        jobs: int | None = None) -> list[dict]:
    """Run every cell as a submitit job; append one record per cell (see the module docstring)."""
    from suite.executors import isolated, remote

    settings = remote.shipped_settings(settings)
    time_min = time_min or ((timeout_s or 600) / 60 + 10)
    folder = folder or Path(writer.path).parent / "slurm"
    executor = make_executor(folder, cluster, partition, time_min, cpus_per_cell, gpus_per_cell, jobs)
    in_flight_limit = len(cells) if cluster == "slurm" else (jobs or 1)
    waiting = list(cells)
    running: dict = {}  # job -> (cell, submitted at)
    records = []

    def submit(batch):
        submitted = executor.map_array(remote.run_on_worker, batch, [device] * len(batch), [context] * len(batch),
                                       [settings] * len(batch), [timeout_s] * len(batch))
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
                continue
            for job in finished:
                cell, submitted_at = running.pop(job)
                try:
                    found = remote.records_of(cell, job.result(), device, context)
                except Exception as error:  # submitit's UncompletedJobError / FailedJobError, or a lost pickle
                    found = remote.lost_records(cell, device, context, f"job {job.job_id} ended without a result: "
                                                f"{type(error).__name__}: {first_line(error, 2)}",
                                                time.perf_counter() - submitted_at)
                for record in found:
                    writer.append(record)
                    records.append(record)
                if progress:
                    progress.start(f"{cell.label()} on {found[0].get('hostname')} (job {job.job_id})")
                    progress.finish(found[0]["status"])
    except KeyboardInterrupt:
        for job in running:
            job.cancel(check=False)
        raise isolated.RunInterrupted() from None
    return records
