"""Write one self-contained HTML report of a run: header and provenance, a
headline, accuracy heatmaps and curves, the verdicts and equal-compute tables
(steps and seconds to the target), the accuracy/throughput Pareto plot,
throughput / decode latency / memory plots, and tables of the summary, of every
cell that did not finish ok and of every record.

The page is a list of sections, each made by a *section builder*
(``builder(inputs: ReportInputs) -> Section | None``) and rendered by a jinja2
template with autoescaping (:mod:`suite.report.template`): every string from
records or the manifest is escaped. Figures are inline PNGs; the page makes no
network request. A section with no data says so instead of failing. A new kind
of result adds its own section with :func:`add_section_builder`.
"""

from __future__ import annotations

import datetime
import json
import shlex
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from suite.analysis import summary as summaries
from suite.analysis import tables as analysis
from suite.analysis.missing import is_missing
from suite.records.store import read_manifest
from suite.analysis import cells as counting
from suite.report import plots
from suite.report.format import (
    NO_VALUE,
    Cell,
    cells,
    distinct,
    format_accuracy,
    format_bytes,
    format_count,
    format_length,
    format_number,
    format_rate,
    text_of,
    timed_cell,
    value_cell,
)
from suite.report.questions import regime_notes
from suite.report.template import render, render_page, section


class ReportInputs(NamedTuple):
    """What every section builder gets: the run's records (a DataFrame from
    :func:`suite.analysis.tables.load_results`), its manifest, and a colour per model
    (:func:`suite.report.plots.model_palette` of every model of the run: every figure draws a
    model in this colour)."""

    records: pd.DataFrame
    manifest: dict
    manifest_problem: str | None
    palette: dict


# --------------------------------------------------------------------------- header
def fallback_texts(records: pd.DataFrame, manifest_backends: dict) -> list[str]:
    """One line per model that ran on a reference/loop implementation."""
    texts = []
    for entry in summaries.fallback_models(records, manifest_backends):
        backends = ", ".join(entry["backends"])
        detail = entry["detail"]
        text = f"{entry['model']}: {backends}"
        if detail and detail != backends:
            text = f"{entry['model']}: {detail}" if detail.startswith(backends) else f"{text} ({detail})"
        requested = entry["model"].partition(":")[2]
        if requested and requested in entry["backends"]:
            text += " [requested in the model spec]"
        texts.append(text)
    return texts


SHARED_CORES_WARNING = (
    "timed cells ran side by side on the same CPU cores ({label}, up to {at_once} at once): "
    "their throughput and latency are not those of a cell alone; rerun perf cells with one "
    "job for timings"
)


def shared_cores_warnings(manifest: dict) -> list[str]:
    """One warning line per executor start of the manifest (its ``executors`` list) whose timed
    cells shared CPU cores (``timed_cells_shared_cores``)."""
    return [
        SHARED_CORES_WARNING.format(label=entry.get("label"), at_once=entry.get("cells_at_once") or "many")
        for entry in manifest.get("executors") or []
        if entry.get("timed_cells_shared_cores")
    ]


def header(records: pd.DataFrame, manifest: dict, manifest_problem: str | None):
    environment = manifest.get("environment") or {}
    commit = environment.get("git_commit") or distinct(records, "git_commit")
    if environment.get("git_dirty"):
        commit = f"{commit} (uncommitted changes)"
    run_id = manifest.get("run_id") or distinct(records, "run_id") or "unknown run"
    rows = [
        ("run id", run_id),
        ("created", manifest.get("created")),
        ("preset", manifest.get("preset") or distinct(records, "preset")),
        ("device", environment.get("device") or distinct(records, "device")),
        ("device name", environment.get("device_name") or distinct(records, "device_name")),
        ("dtype", distinct(records, "dtype") or (manifest.get("preset_config") or {}).get("dtype")),
        ("torch", environment.get("torch_version") or distinct(records, "torch_version")),
        ("git commit", commit),
        ("hostname", environment.get("hostname") or distinct(records, "hostname")),
        ("cells", counting.cell_count_text(records)),
        ("records", f"{len(records)} (an accuracy cell writes one per evaluation length)" if len(records) else "0"),
        ("report written", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
    ]
    return render(
        "run_header.html.j2",
        run_id=str(run_id),
        rows=[(k, text_of(v)) for k, v in rows],
        manifest_problem=manifest_problem,
        fallbacks=fallback_texts(records, manifest.get("backends") or {}),
        none_ok=bool(len(records)) and not (records["status"] == "ok").any(),
        executor_warnings=shared_cores_warnings(manifest),
        noisy=noisy_summary(records),
    )


def noisy_summary(records: pd.DataFrame) -> dict | None:
    """For the first screen: how many ok timed cells were flagged noisy, and the kinds of reason."""
    if not len(records):
        return None
    noisy = analysis.noisy_timed_cells(records)
    if noisy.empty:
        return None
    cells = counting.latest_cells(records)
    timed = int((cells["kind"].isin(analysis.TIMED_KINDS) & (cells["status"] == "ok")).sum())
    kinds = sorted(
        {
            "too few repeats"
            if "spread unknown" in reason
            else ("busy host" if "load" in reason or "other processes" in reason else "spread")
            for text in noisy["timing_noisy_reason"].dropna()
            for reason in str(text).split("; ")
        }
    )
    return {"count": len(noisy), "timed": timed, "reasons": ", ".join(kinds) or "no reason recorded"}


# --------------------------------------------------------------------------- sections
def status_section(inputs):
    counts = counting.status_counts(inputs.records)
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


def summary_section(inputs):
    summary = summaries.summary_table(inputs.records)
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


ACCURACY_HEADERS = [
    "model",
    "seq_len",
    "status",
    "accuracy",
    "95% CI",
    "CI method",
    "ok/runs",
    "seq accuracy",
    "final loss",
    "backend",
    "error",
]


def accuracy_section(inputs):
    accuracy = analysis.accuracy_table(inputs.records)
    notes = regime_notes(inputs.records)
    tasks = []
    for task in sorted(accuracy["task"].dropna().astype(str).unique()):
        rows_of_task = accuracy[accuracy["task"] == task]
        chance = plots.chance_of(rows_of_task)
        rows = [
            [
                row["model"],
                format_length(row["seq_len"]),
                Cell(row["status"], "" if row["status"] == "ok" else "status"),
                value_cell(row["accuracy"], format_accuracy),
                NO_VALUE
                if is_missing(row["accuracy_ci_low"])
                else f"[{row['accuracy_ci_low']:.3f}, {row['accuracy_ci_high']:.3f}]",
                text_of(row["ci_method"]),
                f"{row['n_ok']}/{row['n_runs']}",
                value_cell(row["seq_accuracy"], format_accuracy),
                value_cell(row["final_loss"], format_number),
                row["backend"],
                Cell(text_of(row["error"]), "error"),
            ]
            for _, row in rows_of_task.iterrows()
        ]
        tasks.append(
            {
                "name": task,
                "chance": "unknown" if is_missing(chance) else f"{chance:.3g}",
                "png": plots.accuracy_heatmap(accuracy, task),
                "rows": cells(rows),
                "notes": notes.get(task, []),
            }
        )
    return section("accuracy", "Accuracy", "accuracy.html.j2", tasks=tasks, headers=ACCURACY_HEADERS)


def boundary_failures(records: pd.DataFrame) -> dict:
    """model → (first failing length, its status) from the ``max_len`` records."""
    table_ = analysis.max_len_table(records)
    return {
        row["model"]: (row["first_failing_len"], row["first_failing_status"])
        for _, row in table_.iterrows()
        if row["first_failing_len"] is not None and pd.notna(row["first_failing_len"])
    }


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
    "train peak",
    "prefill peak",
    "decode peak",
    "state",
    "backend",
    "noisy timing",
]


def perf_section(inputs):
    records, palette = inputs.records, inputs.palette
    perf = analysis.perf_table(records)
    if perf.empty:
        return section("perf", "", "perf.html.j2", empty=True)
    failed = perf[perf["n_ok"] == 0]
    not_plotted = "; ".join(
        f"{row['model']} @ {format_length(row['seq_len'])}: {row['status']}" for _, row in failed.iterrows()
    )
    mib = plots.BYTES_PER_MIB
    boundaries = analysis.max_len_table(records)
    boundary_rows = cells(
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
            for _, row in boundaries.iterrows()
        ]
    )
    rows = cells(
        [
            [
                row["model"],
                text_of(row["task"]),
                format_length(row["seq_len"]),
                format_length(row["batch_size"]),
                Cell(row["status"], "" if row["status"] == "ok" else "status"),
                timed_cell(row["train_tokens_per_s"], format_rate, row["timing_noisy"]),
                timed_cell(row["train_step_ms"], format_number, row["timing_noisy"]),
                timed_cell(row["prefill_tokens_per_s"], format_rate, row["timing_noisy"]),
                timed_cell(row["decode_ms_per_token"], format_number, row["timing_noisy"]),
                timed_cell(row["decode_ms_per_token_batch1"], format_number, row["timing_noisy"]),
                value_cell(row["train_peak_mem_bytes"], format_bytes),
                value_cell(row["prefill_peak_mem_bytes"], format_bytes),
                value_cell(row["decode_peak_mem_bytes"], format_bytes),
                value_cell(row["state_bytes"], format_bytes),
                row["backend"],
                Cell(text_of(row["timing_noisy_reason"]), "noisy" if analysis.is_flag_set(row["timing_noisy"]) else ""),
            ]
            for _, row in perf.iterrows()
        ]
    )
    return section(
        "perf",
        "",
        "perf.html.j2",
        empty=False,
        not_plotted_points=not_plotted,
        methods=analysis.join_distinct(perf["peak_mem_method"]) or "not recorded",
        throughput_png=plots.metric_vs_seq_len(
            perf,
            [
                ("train_tokens_per_s", "train step", "tokens/s", 1.0),
                ("prefill_tokens_per_s", "prefill", "tokens/s", 1.0),
            ],
            palette,
        ),
        decode_png=plots.metric_vs_seq_len(
            perf,
            [
                ("decode_ms_per_token", "decode, batch B", "ms per token", 1.0),
                ("decode_ms_per_token_batch1", "decode, batch 1", "ms per token", 1.0),
            ],
            palette,
        ),
        memory_png=plots.metric_vs_seq_len(
            perf,
            [
                ("train_peak_mem_bytes", "train step", "peak MiB", mib),
                ("prefill_peak_mem_bytes", "prefill", "peak MiB", mib),
                ("decode_peak_mem_bytes", "decode", "peak MiB", mib),
            ],
            palette,
            failures=boundary_failures(records),
            mark_noisy=False,
        ),
        boundary_rows=boundary_rows,
        headers=PERF_HEADERS,
        rows=rows,
    )


def not_ok_section(inputs):
    records = inputs.records
    failed = counting.not_ok_cells(records)
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


ENVIRONMENT_KEYS = (
    "python",
    "platform",
    "torch_version",
    "cuda_version",
    "cudnn_version",
    "device",
    "device_name",
    "torch_threads",
    "git_commit",
    "git_dirty",
    "hostname",
)


def provenance_section(inputs):
    records, manifest = inputs.records, inputs.manifest
    environment = manifest.get("environment") or {}
    command = manifest.get("command")
    if command:
        command = shlex.join(str(a) for a in command) if isinstance(command, list) else str(command)
    manifest_backends = manifest.get("backends") or {}
    models = list(dict.fromkeys(list(records["model"].dropna()) + list(manifest_backends)))
    backend_rows = []
    for model in models:
        mine = records[records["model"] == model]
        backend_rows.append(
            [
                model,
                distinct(mine, "backend"),
                text_of(manifest_backends.get(model)),
                distinct(mine, "dtype"),
                distinct(mine, "torch_threads"),
                distinct(mine, "device"),
            ]
        )
    packages = environment.get("packages") or {}
    plan = manifest.get("plan") or {}
    return section(
        "provenance",
        "Provenance",
        "provenance.html.j2",
        command=command,
        environment=[(k, text_of(environment.get(k))) for k in ENVIRONMENT_KEYS] if environment else [],
        backend_rows=cells(backend_rows),
        packages=cells([[name, version if version else "not installed"] for name, version in sorted(packages.items())]),
        plan=[(k, text_of(json.dumps(v) if isinstance(v, (list, dict)) else v)) for k, v in plan.items()],
        preset=text_of(manifest.get("preset")),
        preset_config=json.dumps(manifest["preset_config"], indent=2, sort_keys=True, default=str)
        if manifest.get("preset_config")
        else "",
    )


# --------------------------------------------------------------------------- entry point
def _builders() -> list:
    from suite.report import sections
    from suite.report.compute import compute_section
    from suite.report.paper import paper_section
    from suite.report.questions import questions_report_section
    from suite.report.speed import speed_section

    return [
        ("headline", sections.headline_section),
        ("status", status_section),
        ("summary", summary_section),
        ("accuracy", accuracy_section),
        ("accuracy-curves", sections.accuracy_curves_section),
        ("questions", questions_report_section),
        ("compute", compute_section),
        ("pareto", sections.pareto_section),
        ("paper", paper_section),
        ("speed", speed_section),
        ("perf", perf_section),
        ("not-ok", not_ok_section),
        ("records", sections.records_section),
        ("provenance", provenance_section),
    ]


_EXTRA_BUILDERS: list = []


def add_section_builder(section_id: str, builder, before: str = "provenance") -> None:
    """Add ``builder(inputs: ReportInputs) -> Section | None`` to every report,
    placed before the section with id ``before`` (the pluggable way for a new
    kind of result, e.g. a speed or length-extrapolation section, to appear)."""
    _EXTRA_BUILDERS.append((section_id, builder, before))


def section_builders() -> list:
    """The builders of the run report, in page order."""
    builders = _builders()
    for section_id, builder, before in _EXTRA_BUILDERS:
        ids = [existing for existing, _ in builders]
        builders.insert(ids.index(before) if before in ids else len(builders), (section_id, builder))
    return [builder for _, builder in builders]


def build_report_html(records: pd.DataFrame, manifest: dict, manifest_problem: str | None = None) -> str:
    """The report page for ``records`` (from :func:`suite.analysis.tables.load_results`) and ``manifest``."""
    palette = plots.model_palette(records.get("model", []))
    inputs = ReportInputs(records, manifest, manifest_problem, palette)
    run_id = manifest.get("run_id") or distinct(records, "run_id") or "run"
    return render_page(
        f"suite report: {run_id}",
        [build(inputs) for build in section_builders()],
        header(records, manifest, manifest_problem),
    )


def write_report(run_dir, out_path=None) -> Path:
    """Write the HTML report of ``run_dir`` (a run directory or its ``records.jsonl``)
    to ``out_path`` (default ``<run_dir>/report.html``) and return the path written."""
    run_dir = Path(run_dir)
    records = analysis.load_results(run_dir)
    manifest, manifest_problem = {}, None
    try:
        manifest = read_manifest(run_dir)
    except (FileNotFoundError, ValueError) as error:
        manifest_problem = f"Manifest unavailable, provenance is incomplete: {error}"
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    out_path = Path(out_path) if out_path is not None else folder / "report.html"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(build_report_html(records, manifest, manifest_problem), encoding="utf-8")
    return out_path
