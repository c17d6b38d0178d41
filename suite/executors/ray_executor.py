"""``--executor ray``: every cell one Ray task, the driver the only writer.

- **Where**: ``--ray-address auto`` (a cluster started with ``ray start``) or
  ``ray://host:port``; with no address a local Ray instance is started for the
  run, bound to 127.0.0.1 only: on Linux Ray advertises the host's interface
  address unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set before ``import
  ray``, so it is set here first, the dashboard is off, and the node's address
  is checked after start (a node on another address stops the run).
- **Isolation**: the task does not run the cell itself; it runs it in a fresh
  forkserver child of the Ray worker (:mod:`suite.executors.remote`), the same
  set-up, timeout and failure statuses as the local executor. So Ray may reuse its
  worker processes (it does for CPU tasks) without cells sharing a process.
- **Resources**: each task requests ``--cpus-per-cell`` CPUs and
  ``--gpus-per-cell`` GPUs (Ray sets ``CUDA_VISIBLE_DEVICES``; the child runs on
  that GPU as ``cuda:0``). Torch threads are pinned (``--threads``, else the
  cell's CPUs) and recorded: thread counts change float sums, so records compare
  only at equal ``torch_threads``.
- **Failures**: a cell that fails in its child is a record like anywhere else. A
  worker that dies or a node that is lost makes Ray retry the task up to
  ``--max-retries`` times; after that the cell is an ``error`` record naming what
  was lost. No cell is dropped.
- **Ctrl-C** ends every outstanding task by disconnecting from Ray: a job's
  tasks share its driver's fate, so their workers exit and each running cell's
  child with them. The run is marked interrupted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from dataclasses import dataclass

from suite.errors import UsageError
from suite.executors import RecordSink
from suite.plan.settings import Dispatch

LOOPBACK = "127.0.0.1"
INSTALL_HINT = "--executor ray needs Ray, which is not installed: pip install -e '.[ray]'"


class ExecutorError(UsageError):
    """The executor cannot run as asked; the message says what to change."""


def import_ray(local: bool):
    if local:
        # read by Ray when it is imported (and by the processes it starts): keep a local node on loopback
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError:
        raise ExecutorError(INSTALL_HINT) from None
    return ray


def node_addresses(ray) -> list[str]:
    return [node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")]


@contextlib.contextmanager
def connect(address: str | None, num_cpus: int | None = None, temp_dir: str | None = None):
    """Ray, connected to ``address`` or to a new local instance on 127.0.0.1; shut down on exit."""
    ray = import_ray(local=address is None)
    if ray.is_initialized():
        raise ExecutorError("Ray is already initialised in this process: run the suite in a process of its own")
    if address is None:
        if _binds_outside_loopback(ray):
            raise ExecutorError(
                "Ray was imported before the suite could keep it on 127.0.0.1: "
                "set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before importing ray"
            )
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            _node_ip_address=LOOPBACK,
            log_to_driver=False,
            _temp_dir=None if temp_dir is None else os.path.abspath(temp_dir),
        )
        addresses = node_addresses(ray)
        if any(found != LOOPBACK for found in addresses):
            ray.shutdown()
            raise ExecutorError(f"the local Ray node advertises {addresses}, not {LOOPBACK}: refusing to run on it")
    else:
        ray.init(address=address, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _binds_outside_loopback(ray) -> bool:
    from ray._private import ray_constants

    return bool(ray_constants.ENABLE_RAY_CLUSTER)


def check_resources(ray, cpus_per_cell: float, gpus_per_cell: float) -> None:
    """Refuse requests no node could ever meet (the tasks would wait forever)."""
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    if not any(r.get("CPU", 0) >= cpus_per_cell and r.get("GPU", 0) >= gpus_per_cell for r in nodes):
        most = max(((r.get("CPU", 0), r.get("GPU", 0)) for r in nodes), default=(0, 0))
        raise ExecutorError(
            f"no Ray node has {cpus_per_cell:g} CPU(s) and {gpus_per_cell:g} GPU(s) for a cell "
            f"(the largest has {most[0]:g} CPUs, {most[1]:g} GPUs): lower --cpus-per-cell/"
            "--gpus-per-cell or add nodes"
        )


@dataclass(frozen=True)
class RayOptions:
    """``--ray-address``, ``--ray-num-cpus``, ``--ray-temp-dir``, ``--cpus-per-cell``,
    ``--gpus-per-cell``, ``--max-retries`` (see the module docstring)."""

    address: str | None = None
    num_cpus: int | None = None
    temp_dir: str | None = None
    cpus_per_cell: float = 1.0
    gpus_per_cell: float = 0.0
    max_retries: int = 1


def run(cells, dispatch: Dispatch, sink: RecordSink, options: RayOptions = RayOptions()) -> None:
    """Run every cell as a Ray task (see the module docstring)."""
    from suite.executors import isolated, remote

    dispatch = dataclasses.replace(dispatch, settings=dispatch.settings.shipped())
    with connect(options.address, options.num_cpus, options.temp_dir) as ray:
        check_resources(ray, options.cpus_per_cell, options.gpus_per_cell)
        task = ray.remote(remote.run_on_worker).options(
            num_cpus=options.cpus_per_cell,
            num_gpus=options.gpus_per_cell,
            max_retries=options.max_retries,
            retry_exceptions=False,
            name="suite-cell",
        )
        started = time.perf_counter()
        pending = {task.remote(cell, dispatch): cell for cell in cells}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in ready:
                    cell = pending.pop(ref)
                    try:
                        found = remote.records_of(cell, ray.get(ref), dispatch)
                    except ray.exceptions.RayError as error:
                        found = remote.lost_records(
                            cell,
                            dispatch,
                            f"the Ray task was lost after {options.max_retries + 1} attempt(s): "
                            f"{type(error).__name__}: {first_line(error)}",
                            time.perf_counter() - started,
                        )
                    sink.put(found, label=f"{cell.label()} on {found[0].get('hostname')}")
        except KeyboardInterrupt:
            # No ray.cancel here: cancelling a task whose reply is already on its way aborts the
            # driver inside Ray (2.60: "Tried to complete task that was not pending"). Leaving the
            # context shuts Ray down, which ends the outstanding tasks with their owner; each
            # cell's child dies with its worker's forkserver.
            raise isolated.RunInterrupted() from None


def first_line(error: BaseException, count: int = 1) -> str:
    """The first ``count`` non-blank lines of an error's message, joined into one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:count])[:400]
