"""The section listing every cell that did not finish ok, once per cell."""

from __future__ import annotations

from suite.report.format import (
    Cell,
    cells,
    format_length,
    format_number,
    text_of,
    value_cell,
)
from suite.report.template import section


def not_ok_section(inputs):
    records = inputs.records
    failed = inputs.analysis.not_ok
    rows = cells(
        [
            [
                row["kind"],
                row["model"],
                text_of(row["task"]),
                format_length(row["seq_len"]),
                format_length(row["batch_size"]),
                format_length(row["seed"]),
                text_of(row["backend"]),
                Cell(text_of(row["status"]), "status"),
                Cell(text_of(row["error"]), "error"),
                value_cell(row["wall_s"], format_number),
            ]
            for _, row in failed.iterrows()
        ]
    )
    every_ok = failed.empty and bool(len(records))
    return section(
        "not-ok",
        "Cells that did not finish ok",
        "table_section.html.j2",
        headers=["kind", "model", "task", "seq_len", "batch", "seed", "backend", "status", "error", "wall s"],
        rows=None if failed.empty else rows,
        missing="" if every_ok else "no records",
        note="Every cell finished ok." if every_ok else "",
    )
