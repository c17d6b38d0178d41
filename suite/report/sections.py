"""Report sections added on top of the per-run tables: the headline summary (with the
verdicts of :mod:`suite.analysis.questions`: solved, fails, undertrained, inconclusive),
accuracy-vs-length curves, the accuracy/throughput Pareto plot and the full
sortable table of records. Each builder takes :class:`suite.report.html.ReportInputs`
and returns a :class:`suite.report.template.Section` (rendered by a jinja2
template, so every value is escaped) or None when the run has nothing for it.
"""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from suite.analysis import tables as analysis
from suite.analysis import cells as counting
from suite.report import plots
from suite.report.questions import headline_verdicts
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
    "train_peak_mem_bytes": "train peak bytes",
    "params": "params",
    "wall_s": "wall s",
    "error": "error",
}  # record field -> header


def best_rows(table: pd.DataFrame, by: list[str], metric: str, highest: bool = True) -> list[dict]:
    """Per group of ``by``: the models whose ``metric`` is best (ties all named)."""
    out = []
    data = table.dropna(subset=[metric])
    for key, group in data.groupby(by, sort=True):
        best = group[metric].max() if highest else group[metric].min()
        best_rows_of_group = group[group[metric] == best]
        winners = sorted(best_rows_of_group["model"].astype(str))
        noisy = "timing_noisy" in group and bool(best_rows_of_group["timing_noisy"].map(analysis.is_flag_set).any())
        out.append(
            {
                "group": dict(zip(by, key if isinstance(key, tuple) else (key,))),
                "models": winners,
                "value": best,
                "others": len(group) - len(winners),
                "noisy": noisy,
            }
        )
    return out


def headline_section(inputs):
    accuracy = analysis.accuracy_table(inputs.records)
    perf = analysis.perf_table(inputs.records)
    best_accuracy = best_rows(accuracy, ["task", "seq_len"], "accuracy")
    chance = (
        {task: value for task, value in accuracy.groupby("task")["chance_accuracy"].median().items() if pd.notna(value)}
        if len(accuracy)
        else {}
    )
    fastest = best_rows(perf, ["seq_len", "batch_size"], "train_tokens_per_s")
    quickest_decode = best_rows(perf, ["seq_len", "batch_size"], "decode_ms_per_token", highest=False)
    return section(
        "headline",
        "Headline",
        "headline.html.j2",
        best_accuracy=best_accuracy,
        chance=chance,
        verdicts=headline_verdicts(inputs.records),
        fastest=fastest,
        quickest_decode=quickest_decode,
    )


def accuracy_curves_section(inputs):
    accuracy = analysis.accuracy_table(inputs.records)
    if accuracy.empty:
        return None
    png = plots.accuracy_vs_seq_len(accuracy, inputs.palette)
    return section(
        "accuracy-curves",
        "Accuracy vs sequence length",
        "figure.html.j2",
        png=png,
        alt="accuracy vs seq_len per task",
        note="Seed-mean accuracy per training length; error bars: Student-t 95% interval over seeds "
        "(Wilson over scored tokens when one seed ran). Cells without an ok seed are not drawn.",
        missing="no accuracy cell finished ok",
    )


def pareto_points(records: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """Per model and task: best accuracy over lengths, and training throughput at one
    common length — the longest perf length at which the most models finished ok."""
    accuracy = analysis.accuracy_table(records).dropna(subset=["accuracy"])
    perf = analysis.perf_table(records).dropna(subset=["train_tokens_per_s"])
    if accuracy.empty or perf.empty:
        return pd.DataFrame(columns=["model", "task", "accuracy", "train_tokens_per_s"]), None
    counts = perf.groupby("seq_len")["model"].nunique()
    length = max(counts[counts == counts.max()].index)
    speed = perf[perf["seq_len"] == length].groupby("model")["train_tokens_per_s"].median()
    best = accuracy.groupby(["model", "task"])["accuracy"].max().reset_index()
    best["train_tokens_per_s"] = best["model"].map(speed)
    return best.dropna(subset=["train_tokens_per_s"]), float(length)


def pareto_section(inputs):
    points, length = pareto_points(inputs.records)
    if length is None:
        return None
    return section(
        "pareto",
        "Accuracy vs throughput (Pareto)",
        "figure.html.j2",
        png=plots.pareto_plot(points, inputs.palette),
        alt="accuracy vs training throughput",
        note=f"Each model's best accuracy on the task (over training lengths) against its training "
        f"throughput at seq_len {int(length)} (the longest perf length most models finished). "
        "The black step line joins the models no other model beats on both.",
        missing="no model has both an accuracy and a throughput",
    )


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
