"""Where does each model run out of memory? ``run --find-max-len``.

Per model (and the preset's perf batch size), lengths ``start, 2·start, 4·start,
…`` up to ``limit`` are probed one after another, each probe a perf cell (one
warm-up, one timed repeat, two decode tokens) in its own child process under the
run's memory cap. The search stops at the first probe that does not finish ok.
One ``max_len`` record per model then says: the largest length that fitted
(``max_seq_len``), the first that did not (``first_failing_len``) with its status
and error — ``oom`` when an allocation failed or the kernel killed the child,
``timeout`` when it ran out of time (not the same thing: the memory may have
fitted). Probes are ordinary records, so ``--resume`` reuses those already run.
"""

from __future__ import annotations

import time

from suite.measure.cell import record_header
from suite.executors import RecordSink
from suite.executors.isolated import run_one
from suite.plan.planning import boundary_cell, probe_cell
from suite.plan.settings import Dispatch


def lengths(start: int, limit: int) -> list[int]:
    out, length = [], start
    while length <= limit:
        out.append(length)
        length *= 2
    return out


def search(
    spec: str, preset, dispatch: Dispatch, sink: RecordSink, done: dict, start: int, limit: int, seed: int = 0
) -> dict:
    """Probe ``spec`` by doubling; hand probe records and the boundary record to ``sink``; return the latter.
    ``done`` maps cell keys already recorded (on resume) to their records."""
    device, mem_limit_bytes = dispatch.device, dispatch.settings.mem_limit_bytes
    boundary = boundary_cell(preset, spec, seed, start, limit, mem_limit_bytes, device)
    if boundary.key in done:
        return done[boundary.key]
    began = time.perf_counter()
    last_ok, failing, backend = None, None, None
    for length in lengths(start, limit):
        cell = probe_cell(preset, spec, length, seed, device)
        record = done.get(cell.key)
        if record is None:
            sink.probe_found()
            sink.start(f"{spec} max-len probe T={length}")
            [record] = run_one(cell, dispatch)
            sink.put([record])
        backend = backend or record.get("backend")
        if record["status"] != "ok":
            failing = record
            break
        last_ok = length
    result = record_header(boundary, device, dispatch.context)
    result.update(
        backend=backend, max_seq_len=last_ok, mem_limit_bytes=mem_limit_bytes, wall_s=time.perf_counter() - began
    )
    if failing is not None:
        result.update(
            first_failing_len=failing["seq_len"],
            first_failing_status=failing["status"],
            first_failing_error=failing["error"],
        )
    result["status"] = "ok" if last_ok is not None and backend else (failing or {}).get("status", "error")
    result["error"] = None if result["status"] == "ok" else f"no length from {start} fitted: {failing['error']}"
    sink.put_derived(result)
    return result
