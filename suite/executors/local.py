"""The in-process executor (``--isolation none``): cells one after another in
this process, for debugging. Every exception inside a cell is already a record
(see ``suite.measure.cell``), but a crash, a hang or the kernel's out-of-memory kill takes
the whole run with it: the default is ``suite.executors.isolated``.
"""
from __future__ import annotations

import gc

from suite.measure.cell import cell_records, run_cell
from suite.progress import Progress


def run(cells, device: str, context: dict, writer, progress: Progress | None = None) -> list[dict]:
    # Everything imported so far lives for the whole run: freeze it out of the
    # garbage collector so the full collections suite.measure.timing makes per phase
    # scan only what cells create (0.2 s → milliseconds with torch and pandas loaded).
    gc.collect()
    gc.freeze()
    records = []
    for cell in cells:
        if progress:
            progress.start(cell.label())
        record = run_cell(cell, device, context)
        for one in cell_records(record):
            writer.append(one)
            records.append(one)
        if progress:
            progress.finish(cell_records(record)[0]["status"])
    return records
