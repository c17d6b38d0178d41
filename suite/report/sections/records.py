"""The section with the sortable table of every record (the latest per identity)."""

from __future__ import annotations

from markupsafe import Markup

from suite.analysis import cells as counting
from suite.analysis import tables as analysis
from suite.report.template import section


RECORD_COLUMNS = {
    "kind": "kind",
    "model": "model",
    "backend": "backend",
    "task": "task",
    "seq_len": "seq len",
    "eval_len": "eval len",
    "batch_size": "batch",
    "seed": "seed",
    "status": "status",
    "accuracy": "accuracy",
    "train_tokens_per_s": "train tok/s",
    "prefill_tokens_per_s": "prefill tok/s",
    "decode_ms_per_token": "decode ms/tok",
    "decode_method": "decode method",
    "train_peak_mem_bytes": "train peak bytes",
    "params": "params",
    "wall_s": "wall s",
    "error": "error",
}  # record field -> header


def records_section(inputs):
    records = analysis.latest_records(inputs.records)
    columns = [c for c in RECORD_COLUMNS if c in records.columns]
    frame = records[columns].rename(columns=RECORD_COLUMNS).reset_index(drop=True)
    text = frame.select_dtypes(exclude="number").columns  # an empty text field shows empty, not "None"
    frame[text] = frame[text].astype(object).where(frame[text].notna(), "")
    table = frame.to_html(
        index=False,
        escape=True,
        na_rep="",
        classes="sortable records",
        table_id="records",
        border=0,
        float_format=lambda v: f"{v:.4g}",
    )
    cells = len(counting.latest_cells(inputs.records))
    return section(
        "records", "All records", "records.html.j2", table=Markup(table), count=len(frame), cells=cells
    )  # pandas escaped the cells
