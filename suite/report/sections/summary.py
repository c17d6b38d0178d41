"""The summary section: one row per model, from the analysis's summary table."""

from __future__ import annotations

from suite.analysis import cells as counting
from suite.report.format import (
    cells,
    format_accuracy,
    format_bytes,
    format_count,
    format_length,
    format_rate,
    text_of,
    value_cell,
)
from suite.report.template import section


def summary_section(inputs):
    summary = inputs.analysis.summary.copy()
    if not summary.empty:  # cells, not records: one per plan entry (suite.analysis.cells)
        per_model = counting.cells_per_model(inputs.records)
        summary["cells"] = summary["model"].map(per_model["cells"])
        summary["not_ok"] = summary["model"].map(per_model["not_ok"])
    columns = []
    for name in summary.columns:
        if name.startswith("best_accuracy["):
            columns.append((name, f"best accuracy: {name[14:-1]}", format_accuracy))
        elif name.startswith("train_tokens_per_s[seq_len="):
            columns.append((name, f"train tokens/s @ {name[27:-1]}", format_rate))
        elif name == "max_train_peak_mem_bytes":
            columns.append((name, "max train peak mem", format_bytes))
        elif name == "max_train_peak_mem_seq_len":
            columns.append((name, "at seq_len", format_length))
        elif name in ("params", "cells", "not_ok"):
            columns.append((name, name.replace("_", " "), format_count))
        else:
            columns.append((name, name, None))
    rows = (
        None
        if summary.empty
        else cells(
            [
                [value_cell(row[name], fmt) if fmt else text_of(row[name]) for name, _, fmt in columns]
                for _, row in summary.iterrows()
            ]
        )
    )
    return section(
        "summary",
        "Summary",
        "table_section.html.j2",
        headers=[title for _, title, _ in columns],
        rows=rows,
        missing="no records",
        note=""
        if summary.empty
        else "Cells: plan entries, counted as in the status table. Best "
        "accuracy: the highest seed-mean accuracy over the task's training lengths. A status text in "
        "place of a number means every such cell failed.",
    )
