"""How the report counts *cells*: a cell is one plan entry (one ``cell_key``: one training or one
perf measurement), as on the console (:mod:`suite.progress`). An accuracy cell scored at several
evaluation lengths writes one *record* per length, all with its ``cell_key``, so records outnumber
cells; the report's header, status table and summary count cells, each by its latest record (the
last one with its key in ``records.jsonl``: a cell rerun on resume counts once, with its newest
status). A record without a ``cell_key`` is a cell of its own.
"""

from __future__ import annotations

import pandas as pd

from suite.analysis.tables import group_status
from suite.records.schema import STATUSES


def latest_cells(records: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: the last record of each ``cell_key`` (records without one all kept)."""
    if records.empty or "cell_key" not in records:
        return records
    keys = records["cell_key"]
    superseded = keys.duplicated(keep="last") & keys.notna()
    return records[~superseded]


def cell_count_text(records: pd.DataFrame) -> str:
    """The header's count: ``48 (ok)`` or ``12 (ok 11/12, oom 1)``."""
    cells = latest_cells(records)
    return f"{len(cells)} ({group_status(cells['status'])})" if len(cells) else "0"


def status_counts(records: pd.DataFrame) -> pd.DataFrame:
    """Cells per (kind, model) and status: a column for every status of
    :data:`suite.records.schema.STATUSES` (plus any unknown one) and a ``total``."""
    cells = latest_cells(records)
    statuses = (
        list(STATUSES) + sorted(set(cells["status"].dropna().astype(str)) - set(STATUSES))
        if len(cells)
        else list(STATUSES)
    )
    if cells.empty:
        return pd.DataFrame(columns=["kind", "model"] + statuses + ["total"])
    counts = (
        cells.assign(status=cells["status"].fillna("missing").astype(str))
        .groupby(["kind", "model", "status"], dropna=False)
        .size()
        .unstack("status", fill_value=0)
    )
    counts = counts.reindex(columns=statuses + [c for c in counts.columns if c not in statuses], fill_value=0)
    counts["total"] = counts.sum(axis=1)
    return counts.reset_index()


def cells_per_model(records: pd.DataFrame) -> pd.DataFrame:
    """Per model: ``cells`` and ``not_ok`` (cells whose latest record is not ok)."""
    cells = latest_cells(records)
    if cells.empty:
        return pd.DataFrame(columns=["cells", "not_ok"])
    not_ok = cells["status"] != "ok"
    return pd.DataFrame(
        {"cells": cells.groupby("model").size(), "not_ok": not_ok.groupby(cells["model"]).sum().astype(int)}
    )


NOT_OK_COLUMNS = ["kind", "model", "task", "seq_len", "batch_size", "seed", "backend", "status", "error", "wall_s"]


def not_ok_cells(records: pd.DataFrame) -> pd.DataFrame:
    """Every cell whose latest record is not ok, once (not once per evaluation length), with what
    is needed to find and fix it."""
    cells = latest_cells(records)
    failed = cells[cells["status"] != "ok"]
    return (
        failed[NOT_OK_COLUMNS]
        .sort_values(["kind", "model", "task", "seq_len"], na_position="last")
        .reset_index(drop=True)
    )
