"""Write one self-contained HTML report of a run: header and provenance,
accuracy heatmaps, throughput / decode latency / memory plots, and tables of the
summary and of every cell that did not finish ok.

Everything is inline (figures as ``data:image/png;base64`` images, CSS in a
``<style>`` block); the page makes no network request. All text that comes from
records or the manifest is passed through :func:`html.escape`. A section with no
data says so instead of failing.
"""
from __future__ import annotations

import datetime
import html
import json
import math
import shlex
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from suite import analysis
from suite.report import plots
from suite.report.questions import questions_section
from suite.report.template import render_page

NO_VALUE = "—"


class Cell(NamedTuple):
    """A table cell: plain text (escaped when rendered) and a CSS class."""

    text: str
    css: str = ""


# --------------------------------------------------------------------------- formatting
def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def format_count(value) -> str:
    return NO_VALUE if _missing(value) else f"{int(value):,}"


def format_accuracy(value) -> str:
    return NO_VALUE if _missing(value) else f"{value:.3f}"


def format_rate(value) -> str:
    """Tokens per second with three significant digits (``12,300``, ``1.23M``)."""
    if _missing(value):
        return NO_VALUE
    for threshold, suffix in ((1e9, "G"), (1e6, "M")):
        if abs(value) >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def format_number(value) -> str:
    """Three significant digits (milliseconds, seconds, losses)."""
    return NO_VALUE if _missing(value) else f"{value:.3g}"


def format_length(value) -> str:
    """A sequence length, batch size or seed: a plain integer."""
    return NO_VALUE if _missing(value) else str(int(value))


def format_bytes(value) -> str:
    """Binary units (KiB, MiB, GiB)."""
    if _missing(value):
        return NO_VALUE
    for power, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
        if abs(value) >= 1024 ** power:
            return f"{value / 1024 ** power:.3g} {unit}"
    return f"{int(value)} B"


def value_cell(value, formatter) -> Cell:
    """A numeric cell; a string in a numeric column is a status text and is shown as one."""
    if isinstance(value, str):
        return Cell(value, "status")
    return Cell(formatter(value), "num")


def text_of(value) -> str:
    return "" if _missing(value) else str(value)


def table(headers, rows, css: str = "") -> str:
    """An HTML table; every header and cell text is escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        cells = [c if isinstance(c, Cell) else Cell(text_of(c)) for c in row]
        body.append("<tr>" + "".join(
            f'<td class="{c.css}">{html.escape(c.text)}</td>' if c.css else f"<td>{html.escape(c.text)}</td>"
            for c in cells) + "</tr>")
    css_attribute = f' class="{css}"' if css else ""
    return f"<table{css_attribute}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def facts(pairs) -> str:
    """A two-column name/value table."""
    rows = "".join(f"<tr><th>{html.escape(str(name))}</th><td>{html.escape(text_of(value))}</td></tr>"
                   for name, value in pairs)
    return f'<table class="facts"><tbody>{rows}</tbody></table>'


def no_data(what: str) -> str:
    return f'<p class="nodata">no data: {html.escape(what)}</p>'


def image(png_base64: str | None, alt: str, what_is_missing: str) -> str:
    if png_base64 is None:
        return no_data(what_is_missing)
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png_base64}">'


def distinct(records: pd.DataFrame, column: str) -> str:
    """The column's distinct values, comma-separated (whole floats shown as integers)."""
    if column not in records:
        return ""
    values = (int(v) if isinstance(v, float) and v.is_integer() else v for v in records[column].dropna())
    return ", ".join(str(v) for v in dict.fromkeys(values))


# --------------------------------------------------------------------------- sections
def header_section(records: pd.DataFrame, manifest: dict, manifest_problem: str | None) -> str:
    environment = manifest.get("environment") or {}
    commit = environment.get("git_commit") or distinct(records, "git_commit")
    if environment.get("git_dirty"):
        commit = f"{commit} (uncommitted changes)"
    run_id = manifest.get("run_id") or distinct(records, "run_id") or "unknown run"
    rows = [
        ("run id", run_id), ("created", manifest.get("created")),
        ("preset", manifest.get("preset") or distinct(records, "preset")),
        ("device", environment.get("device") or distinct(records, "device")),
        ("device name", environment.get("device_name") or distinct(records, "device_name")),
        ("dtype", distinct(records, "dtype") or (manifest.get("preset_config") or {}).get("dtype")),
        ("torch", environment.get("torch_version") or distinct(records, "torch_version")),
        ("git commit", commit), ("hostname", environment.get("hostname") or distinct(records, "hostname")),
        ("records", f"{len(records)} ({analysis.group_status(analysis.latest_records(records)['status'])})"
         if len(records) else "0"),
        ("report written", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
    ]
    parts = [f"<h1>Benchmark report: {html.escape(str(run_id))}</h1>", facts(rows)]
    if manifest_problem:
        parts.append(f'<div class="banner">{html.escape(manifest_problem)}</div>')
    parts.append(fallback_banner(records, manifest.get("backends") or {}))
    if len(records) and not (records["status"] == "ok").any():
        parts.append('<div class="banner bad">No cell of this run finished ok; '
                     'see <a href="#not-ok">cells that did not finish ok</a>.</div>')
    return "\n".join(parts)


def fallback_banner(records: pd.DataFrame, manifest_backends: dict) -> str:
    """A warning naming each model that ran on a reference/loop implementation."""
    fallbacks = analysis.fallback_models(records, manifest_backends)
    if not fallbacks:
        return ""
    items = []
    for entry in fallbacks:
        backends = ", ".join(entry["backends"])
        detail = entry["detail"]
        text = f"{entry['model']}: {backends}"
        if detail and detail != backends:
            text = f"{entry['model']}: {detail}" if detail.startswith(backends) else f"{text} ({detail})"
        requested = entry["model"].partition(":")[2]
        if requested and requested in entry["backends"]:
            text += " [requested in the model spec]"
        items.append(f"<li>{html.escape(text)}</li>")
    return ('<div class="banner bad"><strong>Fallback implementations:</strong> these models ran on a '
            'reference or loop implementation rather than the fast package, so their speed and memory '
            f'are not representative.<ul>{"".join(items)}</ul></div>')


def status_section(records: pd.DataFrame) -> str:
    counts = analysis.status_counts(records)
    if counts.empty:
        return "<h2>Cells by status</h2>" + no_data("the run has no records yet")
    headers = list(counts.columns)
    def cell(header, value):
        if header in ("kind", "model"):
            return Cell(text_of(value))
        return Cell(str(value), "num status" if header not in ("ok", "total") and value else "num")
    rows = [[cell(h, v) for h, v in zip(headers, row)] for row in counts.itertuples(index=False)]
    return "<h2>Cells by status</h2>" + table(headers, rows)


def summary_section(records: pd.DataFrame) -> str:
    summary = analysis.summary_table(records)
    if summary.empty:
        return "<h2>Summary</h2>" + no_data("no records")
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
    rows = [[value_cell(row[name], fmt) if fmt else text_of(row[name]) for name, _, fmt in columns]
            for _, row in summary.iterrows()]
    note = ('<p class="note">Best accuracy: the highest seed-mean accuracy over the task\'s training lengths. '
            'A status text in place of a number means every such cell failed.</p>')
    return "<h2>Summary</h2>" + table([title for _, title, _ in columns], rows) + note


def accuracy_section(records: pd.DataFrame) -> str:
    accuracy = analysis.accuracy_table(records)
    parts = ['<h2 id="accuracy">Accuracy</h2>']
    if accuracy.empty:
        return parts[0] + no_data("this run has no accuracy cells")
    parts.append('<p class="note">Fraction of scored test tokens predicted exactly, mean over seeds. '
                 'Colour is centred on the chance level (white); grey cells did not finish ok and show '
                 'their status. 95% interval: Wilson over scored tokens for one seed, Student t over seeds '
                 'for several.</p>')
    for task in sorted(accuracy["task"].dropna().astype(str).unique()):
        rows_of_task = accuracy[accuracy["task"] == task]
        chance = plots.chance_of(rows_of_task)
        chance_text = "unknown" if math.isnan(chance) else f"{chance:.3g}"
        parts.append(f"<h3>{html.escape(task)} (chance = {html.escape(chance_text)})</h3>")
        parts.append(image(plots.accuracy_heatmap(accuracy, task), f"accuracy heatmap for {task}",
                           f"no accuracy cells for {task}"))
        rows = [[row["model"], format_length(row["seq_len"]),
                 Cell(row["status"], "" if row["status"] == "ok" else "status"),
                 value_cell(row["accuracy"], format_accuracy),
                 NO_VALUE if _missing(row["accuracy_ci_low"]) else
                 f"[{row['accuracy_ci_low']:.3f}, {row['accuracy_ci_high']:.3f}]",
                 text_of(row["ci_method"]), f"{row['n_ok']}/{row['n_runs']}",
                 value_cell(row["seq_accuracy"], format_accuracy), value_cell(row["final_loss"], format_number),
                 row["backend"], Cell(text_of(row["error"]), "error")]
                for _, row in rows_of_task.iterrows()]
        parts.append("<details><summary>table</summary>" + table(
            ["model", "seq_len", "status", "accuracy", "95% CI", "CI method", "ok/runs", "seq accuracy",
             "final loss", "backend", "error"], rows) + "</details>")
    return "\n".join(parts)


def not_plotted_note(perf: pd.DataFrame) -> str:
    """A line naming the perf points missing from the plots because no run of them was ok."""
    failed = perf[perf["n_ok"] == 0]
    if failed.empty:
        return ""
    points = "; ".join(f"{row['model']} @ {format_length(row['seq_len'])}: {row['status']}"
                       for _, row in failed.iterrows())
    return f'<p class="note">Not plotted (no ok run): <span class="status">{html.escape(points)}</span></p>'


def boundary_failures(records: pd.DataFrame) -> dict:
    """model → (first failing length, its status) from the ``max_len`` records."""
    table_ = analysis.max_len_table(records)
    return {row["model"]: (row["first_failing_len"], row["first_failing_status"])
            for _, row in table_.iterrows() if row["first_failing_len"] is not None and pd.notna(row["first_failing_len"])}


def boundary_section(records: pd.DataFrame) -> str:
    boundaries = analysis.max_len_table(records)
    if boundaries.empty:
        return ""
    rows = [[row["model"], format_length(row["batch_size"]), format_length(row["max_seq_len"]),
             format_length(row["first_failing_len"]), text_of(row["first_failing_status"]),
             text_of(row["first_failing_error"]), value_cell(row["mem_limit_bytes"], format_bytes)]
            for _, row in boundaries.iterrows()]
    return ("<h3>Out-of-memory boundary</h3>"
            '<p class="note">Largest power-of-two length whose perf probe (train step, prefill, decode) finished, '
            'found by doubling (<code>run --find-max-len</code>), and the first length that did not; marked X in '
            'the train-step memory panel. <code>timeout</code> means the probe ran out of time, not memory.</p>'
            + table(["model", "batch", "max_seq_len", "first failing", "status", "error", "memory cap"], rows))


def perf_sections(records: pd.DataFrame, palette: dict) -> str:
    perf = analysis.perf_table(records)
    if perf.empty:
        return "".join(f"<h2>{title}</h2>" + no_data("this run has no perf cells")
                       for title in ("Training throughput", "Decode latency", "Peak memory"))
    note = not_plotted_note(perf)
    methods = analysis.join_distinct(perf["peak_mem_method"]) or "not recorded"
    mib = plots.BYTES_PER_MIB
    parts = [
        "<h2>Training throughput</h2>",
        '<p class="note">Tokens per second of a full training step (forward, loss, backward, optimizer) and '
        'of a parallel prefill forward; median over timing repeats; log-log.</p>',
        image(plots.metric_vs_seq_len(perf, [
            ("train_tokens_per_s", "train step", "tokens/s", 1.0),
            ("prefill_tokens_per_s", "prefill", "tokens/s", 1.0)], palette), "throughput vs seq_len",
            "no throughput was measured"), note,
        "<h2>Decode latency</h2>",
        '<p class="note">Median milliseconds of one greedy step after prefilling seq_len tokens, at the '
        'cell\'s batch size and at batch 1; log-log.</p>',
        image(plots.metric_vs_seq_len(perf, [
            ("decode_ms_per_token", "decode, batch B", "ms per token", 1.0),
            ("decode_ms_per_token_batch1", "decode, batch 1", "ms per token", 1.0)], palette),
            "decode latency vs seq_len", "no decode latency was measured"), note,
        "<h2>Peak memory</h2>",
        f'<p class="note">Peak memory of each phase above its starting level, in MiB; log-log. '
        f'Measured by: <code>{html.escape(methods)}</code>.</p>',
        image(plots.metric_vs_seq_len(perf, [
            ("train_peak_mem_bytes", "train step", "peak MiB", mib),
            ("prefill_peak_mem_bytes", "prefill", "peak MiB", mib),
            ("decode_peak_mem_bytes", "decode", "peak MiB", mib)], palette, failures=boundary_failures(records)),
            "peak memory vs seq_len", "no memory was measured"), note,
        boundary_section(records),
    ]
    rows = [[row["model"], text_of(row["task"]), format_length(row["seq_len"]), format_length(row["batch_size"]),
             Cell(row["status"], "" if row["status"] == "ok" else "status"),
             value_cell(row["train_tokens_per_s"], format_rate), value_cell(row["train_step_ms"], format_number),
             value_cell(row["prefill_tokens_per_s"], format_rate),
             value_cell(row["decode_ms_per_token"], format_number),
             value_cell(row["decode_ms_per_token_batch1"], format_number),
             value_cell(row["train_peak_mem_bytes"], format_bytes),
             value_cell(row["prefill_peak_mem_bytes"], format_bytes),
             value_cell(row["decode_peak_mem_bytes"], format_bytes),
             value_cell(row["state_bytes"], format_bytes), row["backend"]] for _, row in perf.iterrows()]
    parts.append("<details><summary>perf table</summary>" + table(
        ["model", "task", "seq_len", "batch", "status", "train tok/s", "train step ms", "prefill tok/s",
         "decode ms/tok", "decode ms/tok (B=1)", "train peak", "prefill peak", "decode peak", "state",
         "backend"], rows) + "</details>")
    return "\n".join(parts)


def not_ok_section(records: pd.DataFrame) -> str:
    failed = analysis.not_ok_cells(records)
    title = '<h2 id="not-ok">Cells that did not finish ok</h2>'
    if failed.empty:
        return title + ('<p class="note">Every cell finished ok.</p>' if len(records) else no_data("no records"))
    rows = [[row["kind"], row["model"], text_of(row["task"]), format_length(row["seq_len"]),
             format_length(row["batch_size"]), format_length(row["seed"]), text_of(row["backend"]),
             Cell(text_of(row["status"]), "status"), Cell(text_of(row["error"]), "error"),
             value_cell(row["wall_s"], format_number)] for _, row in failed.iterrows()]
    return title + table(["kind", "model", "task", "seq_len", "batch", "seed", "backend", "status", "error",
                          "wall s"], rows)


def provenance_section(records: pd.DataFrame, manifest: dict) -> str:
    environment = manifest.get("environment") or {}
    parts = ["<h2>Provenance</h2>"]
    command = manifest.get("command")
    if command:
        text = shlex.join(str(a) for a in command) if isinstance(command, list) else str(command)
        parts.append(f"<h3>Command</h3><pre>{html.escape(text)}</pre>")
    env_keys = ("python", "platform", "torch_version", "cuda_version", "cudnn_version", "device", "device_name",
                "torch_threads", "git_commit", "git_dirty", "hostname")
    parts.append("<h3>Environment</h3>" + (facts([(k, environment.get(k)) for k in env_keys])
                                            if environment else no_data("the manifest has no environment")))
    manifest_backends = manifest.get("backends") or {}
    models = list(dict.fromkeys(list(records["model"].dropna()) + list(manifest_backends)))
    rows = []
    for model in models:
        mine = records[records["model"] == model]
        rows.append([model, distinct(mine, "backend"), text_of(manifest_backends.get(model)),
                     distinct(mine, "dtype"), distinct(mine, "torch_threads"),
                     distinct(mine, "device")])
    parts.append("<h3>Backend per model</h3>" + (table(
        ["model", "backend(s) that ran", "manifest backend / skip reason", "dtype", "torch_threads", "device"],
        rows) if rows else no_data("no models")))
    packages = environment.get("packages") or {}
    if packages:
        parts.append("<h3>Packages</h3>" + table(
            ["package", "version"], [[name, version if version else "not installed"]
                                     for name, version in sorted(packages.items())]))
    plan = manifest.get("plan")
    if plan:
        parts.append("<h3>Plan</h3>" + facts((k, json.dumps(v) if isinstance(v, (list, dict)) else v)
                                             for k, v in plan.items()))
    if manifest.get("preset_config"):
        parts.append(f"<h3>Preset configuration ({html.escape(text_of(manifest.get('preset')))})</h3><pre>"
                     + html.escape(json.dumps(manifest["preset_config"], indent=2, sort_keys=True, default=str))
                     + "</pre>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- entry point
def build_report_html(records: pd.DataFrame, manifest: dict, manifest_problem: str | None = None) -> str:
    """The report page for ``records`` (from :func:`suite.analysis.load_results`) and ``manifest``."""
    palette = plots.model_palette(plots.series_labels(analysis.perf_table(records)))
    sections = [header_section(records, manifest, manifest_problem), status_section(records),
                summary_section(records), accuracy_section(records), questions_section(records),
                perf_sections(records, palette),
                not_ok_section(records), provenance_section(records, manifest)]
    run_id = manifest.get("run_id") or distinct(records, "run_id") or "run"
    return render_page(html.escape(f"suite report: {run_id}"), "\n".join(sections))


def write_report(run_dir, out_path=None) -> Path:
    """Write the HTML report of ``run_dir`` (a run directory or its ``records.jsonl``)
    to ``out_path`` (default ``<run_dir>/report.html``) and return the path written."""
    run_dir = Path(run_dir)
    records = analysis.load_results(run_dir)
    manifest, manifest_problem = {}, None
    try:
        manifest = analysis.load_manifest(run_dir)
    except (FileNotFoundError, ValueError) as error:
        manifest_problem = f"Manifest unavailable, provenance is incomplete: {error}"
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    out_path = Path(out_path) if out_path is not None else folder / "report.html"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(build_report_html(records, manifest, manifest_problem), encoding="utf-8")
    return out_path
