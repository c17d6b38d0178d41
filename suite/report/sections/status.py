"""The status section: cells per kind, model and status (one per plan entry, by its latest record)."""

from __future__ import annotations

from suite.report.format import (
    Cell,
    text_of,
)
from suite.report.template import section


def status_section(inputs):
    counts = inputs.analysis.status_counts
    headers = list(counts.columns)

    def cell(header, value):
        if header in ("kind", "model"):
            return Cell(text_of(value))
        return Cell(str(value), "num status" if header not in ("ok", "total") and value else "num")

    rows = (
        None if counts.empty else [[cell(h, v) for h, v in zip(headers, row)] for row in counts.itertuples(index=False)]
    )
    return section(
        "status",
        "Cells by status",
        "table_section.html.j2",
        headers=headers,
        rows=rows,
        missing="the run has no records yet",
        note=""
        if counts.empty
        else "A cell is one plan entry: one training (scored at each of its "
        "evaluation lengths) or one perf measurement; counted by its latest record.",
    )
