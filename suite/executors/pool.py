"""``--executor local --jobs N``: N cells at a time on this machine, each in its own
forkserver child (:mod:`suite.executors.isolated`), the driver the only writer.

- One driver thread per job slot waits on its child; the main thread writes each
  record as its cell finishes (so ``records.jsonl`` is in finishing order, not
  plan order; ``--resume`` and every reader go by ``cell_key``).
- On CUDA each slot is pinned to one GPU: the child sets ``CUDA_VISIBLE_DEVICES``
  to that GPU before CUDA starts and runs on ``cuda:0``; slots go round-robin over
  the GPUs the driver may use, so more jobs than GPUs share GPUs.
- On CPU the jobs share the cores: unless ``--threads`` says otherwise each child
  gets ``cores // jobs`` torch threads, and the run notes that timed cells shared
  cores (the report shows it), since perf numbers taken side by side are not
  those of a cell alone.
- Ctrl-C kills every running child and cancels the cells not yet started; the
  records already written stand.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading

from suite.executors import RecordSink, isolated
from suite.plan.settings import Dispatch


def run(cells, dispatch: Dispatch, sink: RecordSink, jobs: int = 1, gpu_ids: list[str] | None = None) -> None:
    """Run ``cells`` ``jobs`` at a time (see the module docstring)."""
    isolated.forkserver_context()  # made once here, not raced by the slot threads
    slots: queue.Queue = queue.Queue()
    for slot in range(jobs):
        slots.put(gpu_ids[slot % len(gpu_ids)] if gpu_ids else None)
    lock = threading.Lock()
    running: set = set()
    stopping = threading.Event()

    def started(process):
        with lock:
            running.add(process)
        if stopping.is_set():
            process.kill()

    def one(cell):
        gpu = slots.get()
        try:
            if stopping.is_set():
                return None
            with lock:
                sink.start(cell.label() + (f" [GPU {gpu}]" if gpu is not None else ""))
            return isolated.run_one(cell, dispatch.pinned(gpu), started=started)
        finally:
            slots.put(gpu)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="cell-slot")
    futures = {pool.submit(one, cell): cell for cell in cells}
    try:
        for future in concurrent.futures.as_completed(futures):
            records = future.result()
            with lock:
                sink.put(records)
    except KeyboardInterrupt:
        stopping.set()
        for future in futures:
            future.cancel()
        with lock:
            for process in running:
                process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        raise isolated.RunInterrupted() from None
    pool.shutdown(wait=True)
