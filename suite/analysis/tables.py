"""Read a run's Records into pandas and shape them into the tables the report shows.

Reads records only: no torch, no models, no tasks, so it runs on a laptop.

Conventions shared by the tables
--------------------------------
* A record whose identity (its ``cell_key``, and its ``eval_len`` where that is
  not the training length: an extrapolation cell writes one record per evaluation
  length; :func:`record_identity`) appears again later in ``records.jsonl`` (a
  cell re-run on resume) is superseded: only the last record per identity counts
  (:func:`latest_records`). Records without a ``cell_key`` are all kept.
* :func:`accuracy_table` shows each cell scored at its training length; scores
  at other lengths (``--eval-lens``) are in :mod:`suite.analysis.questions`.
* Records of one cell that differ only by seed are grouped. Metrics are
  aggregated over the group's ``ok`` records; the group's ``status`` says how
  many were not ok (``"ok"``, ``"oom"``, or ``"ok 2/3, oom 1"``), so failures
  stay visible instead of being averaged away.
* Non-ok statuses (oom, error, timeout, nan, skipped) are never dropped.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import pandas as pd

from suite.analysis.missing import is_present
from suite.analysis.stats import seed_interval
from suite.records.schema import ALL_FIELDS, NUMERIC_FIELDS, SCHEMA_VERSION, STATUSES
from suite.records.store import read_records, records_path

TIMED_KINDS = ("perf", "speed")  # the records whose timings carry a noise verdict (`suite run`, `bench speed`)
PERF_METRICS = (
    "train_tokens_per_s",
    "train_step_ms",
    "prefill_tokens_per_s",
    "decode_ms_per_token",
    "decode_ms_per_token_batch1",
    "train_peak_mem_bytes",
    "prefill_peak_mem_bytes",
    "decode_peak_mem_bytes",
)
FALLBACK_MARKERS = ("reference", "loop")  # native-cpu is the best a CPU has: not a stand-in


# --------------------------------------------------------------------------- loading
def load_results(path) -> pd.DataFrame:
    """Records of a run directory (or a ``records.jsonl`` file) as a DataFrame, one row per record.

    Every schema field is a column (NaN/None where absent); numeric fields are
    numeric dtypes. Blank lines are ignored. A last line that does not parse
    (a write torn by a crash) is skipped with a warning; any other line that does
    not parse is skipped with a warning naming it. Records of older schema
    versions are read in the current shape (:func:`suite.records.store.upgrade`).
    """
    file = records_path(path)
    records = read_records(file)
    newer = sorted(
        {
            r.get("schema_version")
            for r in records
            if isinstance(r.get("schema_version"), int) and r["schema_version"] > SCHEMA_VERSION
        }
    )
    if newer:
        warnings.warn(
            f"{file}: records of schema_version {newer} are newer than this code "
            f"({SCHEMA_VERSION}); some fields may be misread",
            stacklevel=2,
        )
    frame = pd.DataFrame.from_records(records)
    missing = [field for field in ALL_FIELDS if field not in frame.columns]
    if missing:  # added at once: one column at a time fragments the frame
        frame = pd.concat(
            [frame, pd.DataFrame({field: [None] * len(frame) for field in missing}, index=frame.index, dtype=object)],
            axis=1,
        )
    for field in NUMERIC_FIELDS:
        frame[field] = pd.to_numeric(frame[field], errors="coerce")
    return frame


# --------------------------------------------------------------------------- helpers
def record_identity(records: pd.DataFrame) -> pd.Series:
    """Per record, the one result it is, as a string: its ``cell_key``, followed by ``@<eval_len>``
    when the record scores the cell at a length other than its training length. An accuracy cell
    scored at several lengths (``--eval-lens``, a preset's ``eval_len_multiples``) writes one record
    per length, all with one ``cell_key``; each is its own result. A record at its training length,
    or without ``eval_len`` (perf, speed, max_len, and accuracy records written before the field
    existed), is its ``cell_key`` alone, so old and new runs of one cell match. None for a record
    without a ``cell_key``. Records are superseded within a run (:func:`latest_records`) and
    matched across runs (``suite compare``, ``suite history``) by this identity."""

    def column(name):
        if name not in records:
            return pd.Series(math.nan, index=records.index, dtype=float)
        return pd.to_numeric(records[name], errors="coerce")

    keys = records["cell_key"] if "cell_key" in records else pd.Series(None, index=records.index, dtype=object)
    keyed = keys.notna()
    eval_len, seq_len = column("eval_len"), column("seq_len")
    elsewhere = keyed & eval_len.notna() & (eval_len != seq_len)
    identity = keys.astype(object).where(keyed, None)
    identity[elsewhere] = (
        keys[elsewhere].astype(str)
        + "@"
        + eval_len[elsewhere].map(lambda n: str(int(n)) if float(n).is_integer() else str(n))
    )
    return identity


def latest_records(records: pd.DataFrame) -> pd.DataFrame:
    """Only the last record of each :func:`record_identity` (records without a ``cell_key`` are all kept)."""
    if records.empty:
        return records
    identity = record_identity(records)
    superseded = identity.duplicated(keep="last") & identity.notna()
    return records[~superseded]


def group_status(statuses) -> str:
    """One status text for a group of records: ``"ok"``, ``"oom"``, or e.g. ``"ok 2/3, oom 1"``."""
    counts = Counter(str(s) for s in statuses)
    if not counts:
        return "no data"
    if len(counts) == 1:
        return next(iter(counts))
    total = sum(counts.values())
    order = list(STATUSES) + sorted(set(counts) - set(STATUSES))
    parts = [f"ok {counts['ok']}/{total}"] if counts.get("ok") else []
    parts += [f"{status} {counts[status]}" for status in order if status != "ok" and counts.get(status)]
    return ", ".join(parts)


def join_distinct(values) -> str:
    """Distinct non-empty values in first-seen order, joined by ``", "``."""
    seen = []
    for value in values:
        if is_present(value) and value not in seen:
            seen.append(value)
    return ", ".join(str(v) for v in seen)


def curve_points(curve) -> list[tuple[float, float | None, float]]:
    """``valid_curve`` as ``(step, train seconds or None, validation accuracy)`` triples: entries are
    ``[step, seconds, accuracy]`` since early stopping, ``[step, accuracy]`` before (no seconds)."""
    points = []
    for entry in curve if isinstance(curve, (list, tuple)) else ():
        if isinstance(entry, (list, tuple)) and len(entry) == 3:
            points.append((entry[0], entry[1], entry[2]))
        elif isinstance(entry, (list, tuple)) and len(entry) == 2:
            points.append((entry[0], None, entry[1]))
    return points


def chance_levels(cells: pd.DataFrame) -> pd.Series:
    """Per record, the chance accuracy the report shows: the majority-class rate measured on the
    task's test batches where the record's ``task_diagnostics`` has one (``majority_class_rate``,
    e.g. ListOps, whose answers are far from uniform: always answering the most frequent class
    scores this), else the task's own ``chance_accuracy``."""

    def measured(facts):
        rate = facts.get("majority_class_rate") if isinstance(facts, dict) else None
        return float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else math.nan

    chance = (
        pd.to_numeric(cells["chance_accuracy"], errors="coerce")
        if "chance_accuracy" in cells
        else pd.Series(math.nan, index=cells.index)
    )
    if "task_diagnostics" not in cells:
        return chance
    majority = cells["task_diagnostics"].map(measured)
    return majority.where(majority.notna(), chance)


def _first_error(group: pd.DataFrame):
    errors = group.loc[group["status"] != "ok", "error"].dropna()
    return errors.iloc[0] if len(errors) else None


def is_fallback_backend(backend) -> bool:
    """True for backends that are slow stand-ins for the fast package (reference, loop)."""
    return isinstance(backend, str) and any(marker in backend for marker in FALLBACK_MARKERS)


# --------------------------------------------------------------------------- tables
ACCURACY_COLUMNS = (
    "model",
    "task",
    "seq_len",
    "status",
    "n_runs",
    "n_ok",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "ci_method",
    "chance_accuracy",
    "seq_accuracy",
    "final_loss",
    "params",
    "backend",
    "error",
)


def accuracy_table(records: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per (model, task, seq_len), aggregated over seeds.

    ``accuracy`` is the mean over ok seeds. Its interval is the Student-t 95%
    interval across seeds when two or more succeeded (``ci_method`` "t over
    seeds", clipped to [0, 1]); with one ok seed it is that record's Wilson 95%
    interval over scored tokens (recomputed from ``accuracy`` and ``n_scored``
    when the record lacks it; ``ci_method`` "wilson", or "one seed" when neither
    is there). See :func:`suite.analysis.stats.seed_interval`. ``chance_accuracy``
    is :func:`chance_levels` (a measured majority class where there is one).
    """
    cells = latest_records(records)
    cells = cells[(cells["kind"] == "accuracy") & (cells["eval_len"].isna() | (cells["eval_len"] == cells["seq_len"]))]
    rows = []
    for (model, task, seq_len), group in cells.groupby(["model", "task", "seq_len"], sort=True, dropna=False):
        ok = group[group["status"] == "ok"]
        row = dict(
            model=model,
            task=task,
            seq_len=seq_len,
            status=group_status(group["status"]),
            n_runs=len(group),
            n_ok=len(ok),
            accuracy=math.nan,
            accuracy_ci_low=math.nan,
            accuracy_ci_high=math.nan,
            ci_method=None,
            chance_accuracy=chance_levels(group).dropna().mean(),
            seq_accuracy=ok["seq_accuracy"].mean(),
            final_loss=ok["final_loss"].mean(),
            params=group["params"].dropna().max(),
            backend=join_distinct(group["backend"]),
            error=_first_error(group),
        )
        interval = seed_interval(ok["accuracy"], ok["n_scored"], zip(ok["accuracy_ci_low"], ok["accuracy_ci_high"]))
        if interval.method is not None:
            row.update(
                accuracy=interval.mean,
                accuracy_ci_low=interval.low,
                accuracy_ci_high=interval.high,
                ci_method=interval.method,
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS))


PERF_COLUMNS = (
    ("model", "task", "seq_len", "batch_size", "status", "n_runs", "n_ok")
    + PERF_METRICS
    + (
        "decode_method",  # how the decode figures were timed: cuda_graph | eager (a record's decode_method)
        "peak_mem_method",
        "timing_repeats",
        "timing_noisy",
        "timing_noisy_reason",
        "params",
        "state_bytes",
        "backend",
        "error",
    )
)


def is_flag_set(value) -> bool:
    """A boolean record field read from JSON or a DataFrame: True, numpy's True or 1.0 (a bool column
    with gaps loads as floats); None, NaN and False are not set."""
    return (isinstance(value, (bool, np.bool_)) and bool(value)) or (isinstance(value, (int, float)) and value == 1)


def noisy_flags(records: pd.DataFrame) -> pd.Series:
    """Per record: whether its timings were flagged noisy (``suite.measure.timing``); False for records
    written before the flag existed, which carry no verdict either way."""
    if "timing_noisy" not in records:
        return pd.Series(False, index=records.index)
    return records["timing_noisy"].map(is_flag_set).astype(bool)


def noisy_timed_cells(records: pd.DataFrame) -> pd.DataFrame:
    """The ok timed records (perf of ``run``, speed of ``bench speed``) whose timings were flagged noisy."""
    cells = latest_records(records)
    cells = cells[cells["kind"].isin(TIMED_KINDS) & (cells["status"] == "ok")]
    return cells[noisy_flags(cells)]


def perf_table(records: pd.DataFrame) -> pd.DataFrame:
    """Perf metrics per (model, task, seq_len, batch_size): the median of each
    metric over the group's ok records (each record is already a median over
    ``timing_repeats`` repeats, see suite.measure.timing)."""
    cells = latest_records(records)
    cells = cells[cells["kind"] == "perf"]  # `bench speed` records (kind "speed"): speed_table
    rows = []
    keys = ["model", "task", "seq_len", "batch_size"]
    for (model, task, seq_len, batch_size), group in cells.groupby(keys, sort=True, dropna=False):
        ok = group[group["status"] == "ok"]
        row = dict(
            model=model,
            task=task,
            seq_len=seq_len,
            batch_size=batch_size,
            status=group_status(group["status"]),
            n_runs=len(group),
            n_ok=len(ok),
        )
        row.update({metric: ok[metric].median() for metric in PERF_METRICS})
        noisy = ok[noisy_flags(ok)]
        row.update(
            decode_method=join_distinct(ok["decode_method"]) or None,
            peak_mem_method=join_distinct(ok["peak_mem_method"]) or None,
            timing_repeats=ok["timing_repeats"].median(),
            timing_noisy=bool(len(noisy)) if len(ok) else None,
            timing_noisy_reason=join_distinct(noisy["timing_noisy_reason"]) or None,
            params=group["params"].dropna().max(),
            state_bytes=group["state_bytes"].dropna().max(),
            backend=join_distinct(group["backend"]),
            error=_first_error(group),
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(PERF_COLUMNS))


MAX_LEN_COLUMNS = (
    "model",
    "batch_size",
    "status",
    "max_seq_len",
    "first_failing_len",
    "first_failing_status",
    "first_failing_error",
    "mem_limit_bytes",
    "backend",
)


def max_len_table(records: pd.DataFrame) -> pd.DataFrame:
    """One row per ``max_len`` record (``run --find-max-len``): the out-of-memory boundary per model."""
    cells = latest_records(records)
    cells = cells[cells["kind"] == "max_len"]
    return pd.DataFrame(
        [{column: row.get(column) for column in MAX_LEN_COLUMNS} for _, row in cells.iterrows()],
        columns=list(MAX_LEN_COLUMNS),
    )


__all__ = [
    "load_results",
    "records_path",
    "record_identity",
    "latest_records",
    "group_status",
    "chance_levels",
    "curve_points",
    "is_fallback_backend",
    "accuracy_table",
    "perf_table",
    "join_distinct",
]
