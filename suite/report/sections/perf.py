"""The perf section: throughput, decode latency and peak memory against length (figures), the
out-of-memory boundary of ``run --find-max-len`` and the table of every perf cell, from the
analysis's perf and max-len tables. A timing whose cell was flagged noisy is marked ``~``."""

from __future__ import annotations

import pandas as pd

from suite.analysis.tables import is_flag_set, join_distinct
from suite.report import plots
from suite.report.format import (
    Cell,
    cells,
    format_bytes,
    format_length,
    format_number,
    format_rate,
    text_of,
    timed_cell,
    value_cell,
)
from suite.report.template import section

PERF_HEADERS = [
    "model",
    "task",
    "seq_len",
    "batch",
    "status",
    "train tok/s",
    "train step ms",
    "prefill tok/s",
    "decode ms/tok",
    "decode ms/tok (B=1)",
    "decode method",
    "train peak",
    "prefill peak",
    "decode peak",
    "state",
    "backend",
    "noisy timing",
]
THROUGHPUT_PANELS = [
    ("train_tokens_per_s", "train step", "tokens/s", 1.0),
    ("prefill_tokens_per_s", "prefill", "tokens/s", 1.0),
]
DECODE_PANELS = [
    ("decode_ms_per_token", "decode, batch B", "ms per token", 1.0),
    ("decode_ms_per_token_batch1", "decode, batch 1", "ms per token", 1.0),
]
MEMORY_PANELS = [
    ("train_peak_mem_bytes", "train step", "peak MiB", plots.BYTES_PER_MIB),
    ("prefill_peak_mem_bytes", "prefill", "peak MiB", plots.BYTES_PER_MIB),
    ("decode_peak_mem_bytes", "decode", "peak MiB", plots.BYTES_PER_MIB),
]


def boundary_failures(max_len: pd.DataFrame) -> dict:
    """model → (first failing length, its status) from the max-len table."""
    return {
        row["model"]: (row["first_failing_len"], row["first_failing_status"])
        for _, row in max_len.iterrows()
        if row["first_failing_len"] is not None and pd.notna(row["first_failing_len"])
    }


def boundary_rows(max_len: pd.DataFrame) -> list:
    """The out-of-memory boundary table: one row per ``max_len`` record."""
    return cells(
        [
            [
                row["model"],
                format_length(row["batch_size"]),
                format_length(row["max_seq_len"]),
                format_length(row["first_failing_len"]),
                text_of(row["first_failing_status"]),
                text_of(row["first_failing_error"]),
                value_cell(row["mem_limit_bytes"], format_bytes),
            ]
            for _, row in max_len.iterrows()
        ]
    )


def perf_row(row) -> list:
    """One perf cell's row of :data:`PERF_HEADERS`."""
    noisy = row["timing_noisy"]
    return [
        row["model"],
        text_of(row["task"]),
        format_length(row["seq_len"]),
        format_length(row["batch_size"]),
        Cell(row["status"], "" if row["status"] == "ok" else "status"),
        timed_cell(row["train_tokens_per_s"], format_rate, noisy),
        timed_cell(row["train_step_ms"], format_number, noisy),
        timed_cell(row["prefill_tokens_per_s"], format_rate, noisy),
        timed_cell(row["decode_ms_per_token"], format_number, noisy),
        timed_cell(row["decode_ms_per_token_batch1"], format_number, noisy),
        text_of(row.get("decode_method")),
        value_cell(row["train_peak_mem_bytes"], format_bytes),
        value_cell(row["prefill_peak_mem_bytes"], format_bytes),
        value_cell(row["decode_peak_mem_bytes"], format_bytes),
        value_cell(row["state_bytes"], format_bytes),
        row["backend"],
        Cell(text_of(row["timing_noisy_reason"]), "noisy" if is_flag_set(noisy) else ""),
    ]


def perf_section(inputs):
    """The section builder; an empty section (which says so) when the run has no perf cell."""
    perf, max_len, palette = inputs.analysis.perf, inputs.analysis.max_len, inputs.palette
    if perf.empty:
        return section("perf", "", "perf.html.j2", empty=True)
    failed = perf[perf["n_ok"] == 0]
    not_plotted = "; ".join(
        f"{row['model']} @ {format_length(row['seq_len'])}: {row['status']}" for _, row in failed.iterrows()
    )
    return section(
        "perf",
        "",
        "perf.html.j2",
        empty=False,
        not_plotted_points=not_plotted,
        methods=join_distinct(perf["peak_mem_method"]) or "not recorded",
        throughput_png=plots.metric_vs_seq_len(perf, THROUGHPUT_PANELS, palette),
        decode_png=plots.metric_vs_seq_len(perf, DECODE_PANELS, palette),
        memory_png=plots.metric_vs_seq_len(
            perf, MEMORY_PANELS, palette, failures=boundary_failures(max_len), mark_noisy=False
        ),
        boundary_rows=boundary_rows(max_len),
        headers=PERF_HEADERS,
        rows=cells([perf_row(row) for _, row in perf.iterrows()]),
    )
