"""The report's per-model summary and the models that ran on a slow stand-in backend.

Reads records only (no torch), through the tables of :mod:`suite.analysis.tables`.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.analysis.tables import (
    accuracy_table,
    group_status,
    is_fallback_backend,
    join_distinct,
    latest_records,
    perf_table,
)


def summary_table(
    records: pd.DataFrame, accuracy: pd.DataFrame | None = None, perf: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per model: ``backend`` (every backend that ran), ``params``,
    ``cells`` and ``not_ok`` counts, ``best_accuracy[TASK]`` (the highest
    seed-mean accuracy over that task's seq_lens), ``train_tokens_per_s[seq_len=L]``
    per perf length, and ``max_train_peak_mem_bytes`` with the seq_len it was
    measured at.

    A metric cell holds the number, or the status text (e.g. ``"oom"``) where
    the model had such cells but none succeeded, or NaN where it had none. ``accuracy`` and ``perf``:
    the run's :func:`~suite.analysis.tables.accuracy_table` and :func:`~suite.analysis.tables.perf_table`
    where the caller has them (the analysis builds each once), else built here.
    """
    cells = latest_records(records)
    accuracy = accuracy_table(records) if accuracy is None else accuracy
    perf = perf_table(records) if perf is None else perf
    tasks = sorted(accuracy["task"].dropna().unique())
    perf_lengths = sorted(perf["seq_len"].dropna().unique())
    rows = []
    for model in sorted(cells["model"].dropna().unique()):
        mine = cells[cells["model"] == model]
        backends = join_distinct(mine.loc[mine["status"] == "ok", "backend"]) or join_distinct(mine["backend"])
        row = dict(
            model=model,
            backend=backends,
            params=mine["params"].dropna().max(),
            cells=len(mine),
            not_ok=int((mine["status"] != "ok").sum()),
        )
        for task in tasks:
            of_task = accuracy[(accuracy["model"] == model) & (accuracy["task"] == task)]
            raw = mine[(mine["kind"] == "accuracy") & (mine["task"] == task)]
            row[f"best_accuracy[{task}]"] = _best_or_status(of_task["accuracy"], raw["status"])
        mine_perf = perf[perf["model"] == model]
        for length in perf_lengths:
            at_length = mine_perf[mine_perf["seq_len"] == length]
            raw = mine[(mine["kind"] == "perf") & (mine["seq_len"] == length)]
            row[f"train_tokens_per_s[seq_len={int(length)}]"] = _best_or_status(
                at_length["train_tokens_per_s"], raw["status"]
            )
        memory = mine_perf.dropna(subset=["train_peak_mem_bytes"])
        if len(memory):
            peak = memory.loc[memory["train_peak_mem_bytes"].idxmax()]
            row["max_train_peak_mem_bytes"] = peak["train_peak_mem_bytes"]
            row["max_train_peak_mem_seq_len"] = peak["seq_len"]
        else:
            raw = mine.loc[mine["kind"] == "perf", "status"]
            row["max_train_peak_mem_bytes"] = group_status(raw) if len(raw) else math.nan
            row["max_train_peak_mem_seq_len"] = math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _best_or_status(values: pd.Series, statuses: pd.Series):
    """The largest of ``values``; where there is none, the status text of the
    records behind them (``statuses``); where there are no records, NaN."""
    values = values.dropna()
    if len(values):
        return values.max()
    return group_status(statuses) if len(statuses) else math.nan


def fallback_models(records: pd.DataFrame, manifest_backends: dict | None = None) -> list[dict]:
    """Models whose records ran on a fallback backend (see :func:`is_fallback_backend`).

    Each entry: ``model``, ``backends`` (the fallback backends seen) and
    ``detail`` (the manifest's ``backends`` entry for the model, which names why
    the fast package was not used, when the manifest has one).
    """
    manifest_backends = manifest_backends or {}
    cells = latest_records(records)
    found = []
    for model in sorted(cells["model"].dropna().unique()):
        backends = [b for b in dict.fromkeys(cells.loc[cells["model"] == model, "backend"]) if is_fallback_backend(b)]
        if backends:
            detail = manifest_backends.get(model)
            found.append(dict(model=model, backends=backends, detail=None if detail is None else str(detail)))
    return found
