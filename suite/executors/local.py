"""The local executor: cells one after another in this process.

Thin on purpose: every failure inside a cell is already a record (see
``suite.cell``). Process isolation and per-cell timeouts belong here when a
cell's crash must not take the driver with it.
"""
from __future__ import annotations

import gc

from suite.cell import run_cell
from suite.progress import Progress


def run(cells, device: str, context: dict, writer, progress: Progress | None = None) -> list[dict]:
    # Everything imported so far lives for the whole run: freeze it out of the
    # garbage collector so the full collections suite.measure makes per phase
    # scan only what cells create (0.2 s → milliseconds with torch and pandas loaded).
    gc.collect()
    gc.freeze()
    records = []
    for cell in cells:
        if progress:
            progress.start(cell.label())
        record = run_cell(cell, device, context)
        writer.append(record)
        records.append(record)
        if progress:
            progress.finish(record["status"])
    return records
