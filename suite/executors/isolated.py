"""Each cell in its own child process, with a timeout and an optional memory cap.

Why a child per cell: a segfault, an out-of-memory kill or a hung kernel takes
down only that cell; each child has its own CUDA context and its own memory
accounting (the CPU peak of a phase is read from the child's own VmHWM).

How children are made: a ``forkserver`` that has imported torch and the cell
runner and done nothing else (``child_setup``). Each child is a fork of that clean server, so it
costs tens of milliseconds instead of the seconds a ``spawn`` spends importing
torch, and never inherits a parent that has run torch ops or touched CUDA (a
plain ``fork`` of such a parent can deadlock). The driver itself never touches
CUDA.

What becomes of each cell (the driver writes exactly one record per cell):

- the child sends its record through a pipe → that record;
- no record within ``timeout_s`` → the child is killed, status ``timeout``;
- the child dies without a record: killed by SIGKILL that the driver did not
  send → ``oom`` (the kernel's out-of-memory killer, most likely); another signal
  (e.g. SIGSEGV) or a non-zero exit code → ``error`` naming it.

In the child: SIGINT is ignored (the driver decides what Ctrl-C does),
``CUDA_VISIBLE_DEVICES`` is set when the settings pin a GPU (before anything
starts CUDA: the server never does), the plugins are imported (from their files,
or from the sources shipped with the cell to another machine),
``torch.set_num_threads`` is applied (deterministic algorithms were requested
once in the server), and ``RLIMIT_DATA`` is set when a memory cap is given, so an
allocation past it fails inside torch (``DefaultCPUAllocator: can't allocate
memory`` → ``oom``).

The other executors (``suite.executors.pool``, ``ray_executor``, ``slurm``) run
each cell through :func:`call_in_child` too, so a cell gets the same set-up,
timeout and failure statuses wherever it runs.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import resource
import signal
import sys
import time

from suite.devices import is_cuda
from suite.executors import RecordSink
from suite.plan.settings import ChildSettings, Dispatch, RunContext

PRELOAD = ["suite.executors.child_setup"]
_CONTEXT = None


DRIVER_PID_ENV = "SUITE_FORKSERVER_PARENT"  # the process the forkserver must not outlive (child_setup)


def forkserver_context():
    global _CONTEXT
    if _CONTEXT is None:
        os.environ[DRIVER_PID_ENV] = str(os.getpid())  # read by the forkserver, which starts from this process
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOAD)
        # start it now, from this thread: its death signal follows the thread that started it, which
        # must outlive every cell (a pool's slot threads end with the pool)
        multiprocessing.forkserver.ensure_running()
    return _CONTEXT


class RunInterrupted(Exception):
    """Ctrl-C: the running child was killed; the records written so far stand."""


def die_with_parent(expected_parent: int | None) -> None:
    """Linux: SIGKILL this process when its parent dies (``PR_SET_PDEATHSIG``), and exit at
    once if the parent is already gone (it died before the signal was armed).

    The forkserver arms it against the process that started it (the driver, a Ray worker, a
    Slurm job; ``child_setup``), and each cell's child against the forkserver, so when the
    driver dies by any signal its forkserver dies with it, then every cell's child, and the
    resource tracker (which exits when the last of them has closed its pipe)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)


def _prepare_child(settings: ChildSettings) -> None:
    """Per child (the shared set-up is in ``child_setup``, done once in the forkserver)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = sys.modules.get("suite.executors.child_setup")
    die_with_parent(getattr(server, "SERVER_PID", None))
    if settings.cuda_visible_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = settings.cuda_visible_devices
    limit = settings.mem_limit_bytes
    if limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    import torch

    from suite.plugins import load_plugin_sources, load_plugins

    load_plugins(list(settings.plugins))
    load_plugin_sources(list(settings.plugin_sources))
    if settings.threads:
        torch.set_num_threads(settings.threads)


def _child_main(connection, function, args, settings: ChildSettings) -> None:
    try:
        _prepare_child(settings)
        result = function(*args)
    except BaseException as error:  # report, never hang the driver
        result = {"__child_error__": f"{type(error).__name__}: {str(error).strip()[:300]}"}
    connection.send(result)
    connection.close()


def _describe_exit(exitcode: int | None, killed_by_driver: bool) -> tuple[str, str]:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        if -exitcode == signal.SIGKILL and not killed_by_driver:
            return "oom", "the cell's process was killed by SIGKILL (most likely the kernel's out-of-memory killer)"
        return "error", f"the cell's process died from {name}"
    return "error", f"the cell's process exited with code {exitcode} without a record"


def call_in_child(function, args, settings: ChildSettings, timeout_s: float | None, started=None):
    """Run ``function(*args)`` in a fresh child. Returns ``(result, None)`` or
    ``(None, (status, error))`` when the child timed out or died. ``started(process)``,
    if given, is called with the child once it runs (a pool keeps it to kill on Ctrl-C)."""
    context = forkserver_context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(send, function, args, settings), daemon=True)
    process.start()
    send.close()
    if started:
        started(process)
    killed_by_driver = False
    try:
        if receive.poll(timeout_s):
            try:
                result = receive.recv()
            except EOFError:
                result = None
        else:
            process.kill()
            killed_by_driver = True
            process.join()
            return None, ("timeout", f"no result within {timeout_s:g} s; the cell's process was killed")
        process.join(timeout=30)
        if result is None:
            return None, _describe_exit(process.exitcode, killed_by_driver)
        if isinstance(result, dict) and "__child_error__" in result:
            return None, ("error", result["__child_error__"])
        return result, None
    except KeyboardInterrupt:
        process.kill()
        process.join()
        raise RunInterrupted() from None
    finally:
        receive.close()


def data_bytes() -> int | None:
    """This process's data segment (``VmData``: what ``RLIMIT_DATA`` caps), or None where unreadable."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def child_base_bytes() -> int | None:
    """The data segment of a fresh cell's child before its cell starts (torch loaded), the least
    any ``--mem-limit`` must allow; None where it cannot be read."""
    result, failure = call_in_child(data_bytes, (), ChildSettings(), 120)
    return None if failure else result


def run_cell_entry(cell, device: str, context: RunContext) -> list[dict]:
    """:func:`suite.executors.jobs.run_job` (a cell, or a ``bench speed`` unit), imported in the
    child (the caller never needs torch)."""
    from suite.executors.jobs import run_job

    return run_job(cell, device, context)


def child_device(device: str, settings: ChildSettings) -> str:
    """The device a child runs on: ``cuda:0`` when ``settings`` pin it to one GPU (it then sees
    only that GPU), else ``device``."""
    return "cuda:0" if settings.cuda_visible_devices is not None and is_cuda(device) else device


def run_one(cell, dispatch: Dispatch, started=None) -> list[dict]:
    """The records of ``cell`` run in its own child: the child's own, or the driver's
    :func:`suite.executors.jobs.failure_records` when the child timed out or died (naming the GPU
    the child was pinned to, if any). ``started`` as in :func:`call_in_child`."""
    from suite.executors.jobs import failure_records

    start = time.perf_counter()
    settings = dispatch.settings
    records, failure = call_in_child(
        run_cell_entry,
        (cell, child_device(dispatch.device, settings), dispatch.context),
        settings,
        dispatch.timeout_s,
        started,
    )
    if failure:
        records = failure_records(cell, dispatch.device, dispatch.context, *failure, wall_s=time.perf_counter() - start)
        for one in records:
            one["cuda_visible_devices"] = settings.cuda_visible_devices
    return records


def run(cells, dispatch: Dispatch, sink: RecordSink) -> None:
    """Run every cell in its own child, one after another; see the module docstring."""
    for cell in cells:
        sink.start(cell.label())
        sink.put(run_one(cell, dispatch))
