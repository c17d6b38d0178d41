"""One cell on a worker that is not the driver (a Ray task, a Slurm job), and
its outcome back into records on the driver.

The worker runs the cell exactly as the local executor does: in a fresh
forkserver child of the worker process (:func:`suite.executors.isolated.call_in_child`),
so the child set-up (deterministic algorithms, cuBLAS workspace, pinned torch
threads, memory cap), the per-cell timeout and the failure statuses are the same
everywhere. The worker adds what only it knows: its hostname and the GPU the
scheduler gave it (``CUDA_VISIBLE_DEVICES``, applied in the child). Plugin files
travel with the cell as text (``ChildSettings.plugin_sources``).

The worker process itself never imports torch: the cell's child does, so a Ray
worker stays light and is reused for many cells, each in a fresh child.
"""

from __future__ import annotations

import os
import socket
import time

from suite.devices import is_cuda
from suite.plan.settings import Dispatch


def run_on_worker(cell, dispatch: Dispatch) -> dict:
    """Worker side: ``{"result", "failure", "hostname", "cuda_visible_devices", "wall_s"}``."""
    from suite.executors import isolated

    gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
    settings = dispatch.settings
    if is_cuda(dispatch.device) and gpus is not None:
        settings = settings.pinned(gpus)  # the GPU the scheduler gave this cell
    start = time.perf_counter()
    result, failure = isolated.call_in_child(
        isolated.run_cell_entry,
        (cell, isolated.child_device(dispatch.device, settings), dispatch.context),
        settings,
        dispatch.timeout_s,
    )
    return {
        "result": result,
        "failure": failure,
        "hostname": socket.gethostname(),
        "cuda_visible_devices": gpus,
        "wall_s": time.perf_counter() - start,
    }


def records_of(cell, outcome: dict, dispatch: Dispatch) -> list[dict]:
    """Driver side: the cell's records from a worker's outcome (its failure becomes
    :func:`suite.executors.jobs.failure_records`, naming the host it ran on)."""
    from suite.executors.jobs import failure_records

    if outcome.get("failure"):
        status, error = outcome["failure"]
        where = dispatch.context.at_host(outcome.get("hostname"))
        records = failure_records(cell, dispatch.device, where, status, error, outcome.get("wall_s") or 0.0)
        for one in records:
            one["cuda_visible_devices"] = outcome.get("cuda_visible_devices")
        return records
    return outcome["result"]


def lost_records(cell, dispatch: Dispatch, error: str, wall_s: float) -> list[dict]:
    """Driver side: the records of a cell whose worker died or whose node was lost."""
    from suite.executors.jobs import failure_records

    return failure_records(cell, dispatch.device, dispatch.context, "error", error, wall_s)
