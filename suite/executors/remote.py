"""One cell on a worker that is not the driver (a Ray task, a Slurm job), and
its outcome back into records on the driver.

The worker runs the cell exactly as the local executor does: in a fresh
forkserver child of the worker process (:func:`suite.executors.isolated.call_in_child`),
so the child set-up (deterministic algorithms, cuBLAS workspace, pinned torch
threads, memory cap), the per-cell timeout and the failure statuses are the same
everywhere. The worker adds what only it knows: its hostname and the GPU the
scheduler gave it (``CUDA_VISIBLE_DEVICES``, applied in the child). Plugin files
travel with the cell as text (``settings["plugin_sources"]``).

The worker process itself never imports torch: the cell's child does, so a Ray
worker stays light and is reused for many cells, each in a fresh child.
"""
from __future__ import annotations

import os
import socket
import time


def shipped_settings(settings: dict | None) -> dict:
    """The child settings to send with a cell to another machine: plugin files as their text."""
    from suite.plugins import plugin_sources

    settings = settings or {}
    return {**settings, "plugins": [], "plugin_sources": plugin_sources(settings.get("plugins"))}


def run_on_worker(cell, device: str, context: dict, settings: dict, timeout_s: float | None) -> dict:
    """Worker side: ``{"result", "failure", "hostname", "cuda_visible_devices", "wall_s"}``."""
    from suite.executors import isolated

    gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
    if device.startswith("cuda") and gpus is not None:
        settings = {**settings, "cuda_visible_devices": gpus}  # the GPU the scheduler gave this cell
    start = time.perf_counter()
    result, failure = isolated.call_in_child(isolated.run_cell_entry, (cell, isolated.child_device(device, settings),
                                                                       context), settings, timeout_s)
    return {"result": result, "failure": failure, "hostname": socket.gethostname(),
            "cuda_visible_devices": gpus, "wall_s": time.perf_counter() - start}


def records_of(cell, outcome: dict, device: str, context: dict) -> list[dict]:
    """Driver side: the cell's records from a worker's outcome (its failure becomes
    :func:`suite.measure.cell.failure_record`, naming the host it ran on)."""
    from suite.measure.cell import cell_records, failure_record

    if outcome.get("failure"):
        status, error = outcome["failure"]
        where = {**context, "hostname": outcome.get("hostname") or context.get("hostname")}
        record = failure_record(cell, device, where, status, error, outcome.get("wall_s") or 0.0)
        for one in cell_records(record):
            one["cuda_visible_devices"] = outcome.get("cuda_visible_devices")
        return cell_records(record)
    return cell_records(outcome["result"])


def lost_records(cell, device: str, context: dict, error: str, wall_s: float) -> list[dict]:
    """Driver side: the records of a cell whose worker died or whose node was lost."""
    from suite.measure.cell import cell_records, failure_record

    return cell_records(failure_record(cell, device, context, "error", error, wall_s))
