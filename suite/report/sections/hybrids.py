"""The report's "Hybrids" section: for runs with mixed stacks (:mod:`suite.stacks`), accuracy against
the number and the place of attention layers with the verdicts, the decode state each stack holds at
the scored length, its training throughput, and the cheapest stack that solves each task, all from
the analysis's ``hybrids`` tables (:mod:`suite.analysis.hybrids`).

Per task and training length: one sentence per recurrent family saying which of its stacks with
exactly one full attention layer solve the task (accuracy at least
:data:`suite.analysis.questions.SOLVED_ACCURACY` at the training length), against the pure stack; one
sentence on sliding windows; one on the cheapest solver by state and by throughput; then the table.
The figure draws accuracy against decode state bytes at every scored length (log x), one panel per
task, the frontier of stacks no other beats on both (less state, more accuracy) as a step line.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from suite.analysis import questions
from suite.analysis.missing import is_missing
from suite.analysis.questions import SOLVED_ACCURACY
from suite.report.format import NO_VALUE, Cell, format_accuracy, format_bytes, format_count, format_rate
from suite.report.palette import label_of, with_palette
from suite.report.plots import STYLE, figure_to_png_base64, pareto_frontier, plain_log_ticks
from suite.report.sections.questions import VERDICT_CSS
from suite.report.template import section

HEADERS = [
    "stack (bottom first)",
    "attention layers",
    "window",
    "params",
    "accuracy [95% CI]",
    "at longer lengths",
    "stopped (steps)",
    "verdict",
    "decode state at T",
    "train tokens/s",
]
MARKERS = ("o", "s", "^", "D", "v")


def _accuracy(row) -> str:
    if is_missing(row["accuracy"]):
        return NO_VALUE
    low, high = format_accuracy(row["accuracy_ci_low"]), format_accuracy(row["accuracy_ci_high"])
    return f"{format_accuracy(row['accuracy'])} [{low}, {high}]"


def _longer(rows: pd.DataFrame, model: str) -> str:
    mine = rows[rows["model"] == model].sort_values("eval_len")
    return ", ".join(f"{int(r['eval_len'])}: {format_accuracy(r['accuracy'])}" for _, r in mine.iterrows()) or NO_VALUE


def _row_cells(row, longer: pd.DataFrame) -> list:
    attention = "none" if row["n_attention"] == 0 else f"{int(row['n_attention'])}: {row['attention_at']}"
    steps = NO_VALUE if is_missing(row["steps_trained"]) else f"{row['steps_trained']:.0f}"
    rate = format_rate(row["train_tokens_per_s"])
    if not is_missing(row["throughput_seq_len"]) and row["throughput_seq_len"] != row["train_len"]:
        rate += f" (at T {int(row['throughput_seq_len'])})"
    verdict = str(row["verdict"] or NO_VALUE)
    return [
        Cell(row["model"]),
        Cell(attention),
        Cell(row["windows"] or "full"),
        Cell(format_count(row["params"])),
        Cell(_accuracy(row)),
        Cell(_longer(longer, row["model"])),
        Cell(f"{row['stop_reasons'] or 'not recorded'} ({steps})"),
        Cell(verdict, VERDICT_CSS.get(questions.verdict_kind(verdict), "")),
        Cell(format_bytes(row["state_bytes"])),
        Cell(rate),
    ]


def _solves(row) -> bool:
    return not is_missing(row["accuracy"]) and row["accuracy"] >= SOLVED_ACCURACY


def _listed(rows: pd.DataFrame) -> str:
    """Each row's place and accuracy, with its verdict's kind where it is not a plain pass or fail."""
    parts = []
    for _, row in rows.iterrows():
        kind = questions.verdict_kind(row["verdict"])
        shown = "" if kind in ("solved", "fails") else f", {kind}"
        parts.append(f"{row['attention_at']} ({format_accuracy(row['accuracy'])}{shown})")
    return ", ".join(parts)


def attention_sentences(rows: pd.DataFrame) -> list[str]:
    """Per recurrent family of the group (its rows at the training length): what one full attention
    layer does, against the pure stack, and what a window does."""
    sentences = []
    full = rows[rows["windows"] == ""]
    for family in sorted(set(rows["other_family"]) - {"none"}):
        if "," in family:
            continue  # a stack of several recurrent families: in the table only
        mine = full[full["other_family"] == family]
        pure = mine[mine["n_attention"] == 0]
        one = mine[mine["n_attention"] == 1]
        if one.empty:
            continue
        solving = one[one.apply(_solves, axis=1)]
        start = f"{family} with one full attention layer of {int(one['n_layers'].max())}"
        base = f"; pure {family}: {format_accuracy(pure['accuracy'].max())}" if len(pure) else ""
        if solving.empty:
            sentences.append(f"{start} solves it at no place tried: {_listed(one)}{base}.")
        else:
            if len(one) == 1:
                where = f"the only place tried, {_listed(solving)}"
            else:
                where = "every place tried" if len(solving) == len(one) else f"the {_listed(solving)} only"
            others = one.drop(solving.index)
            rest = f" (not at {_listed(others)})" if len(others) else ""
            sentences.append(f"{start} solves it at {where}{rest}{base}.")
        windowed = rows[(rows["other_family"] == family) & (rows["windows"] != "")]
        if len(windowed):
            parts = ", ".join(
                f"window {r['windows']} at {r['attention_at']}: {format_accuracy(r['accuracy'])}"
                f" ({'solves' if _solves(r) else questions.verdict_kind(r['verdict'])})"
                for _, r in windowed.sort_values("windows", key=lambda s: s.map(_first_number)).iterrows()
            )
            sentences.append(f"Sliding windows in {family} stacks: {parts}.")
    return sentences


def _first_number(text: str) -> int:
    head = str(text).split(",")[0].strip()
    return int(head) if head.isdigit() else 0


def cheapest_sentence(entry) -> str:
    if not entry["n_solved"]:
        return f"No stack of this run solves it (accuracy at the training length at least {SOLVED_ACCURACY:g})."
    text = f"Cheapest solver by decode state: {entry['least_state']} ({format_bytes(entry['least_state_bytes'])})"
    if entry["fastest"] is not None:
        text += f"; by training throughput: {entry['fastest']} ({format_rate(entry['fastest_tokens_per_s'])} tokens/s)"
    return text + f"; {int(entry['n_solved'])} stack(s) solve it."


def hybrid_groups(table: pd.DataFrame, cheapest: pd.DataFrame) -> list[dict]:
    groups = []
    for (task, train_len), group in table.groupby(["task", "train_len"], sort=True):
        at_train = group[group["eval_len"] == train_len]
        longer = group[group["eval_len"] != train_len]
        entry = cheapest[(cheapest["task"] == task) & (cheapest["train_len"] == train_len)]
        sentences = attention_sentences(at_train)
        if len(entry):
            sentences.append(cheapest_sentence(entry.iloc[0]))
        groups.append(
            {
                "title": f"{task}, trained and scored at T {int(train_len)}",
                "sentences": sentences,
                "rows": [_row_cells(row, longer) for _, row in at_train.iterrows()],
            }
        )
    return groups


def frontier(points: pd.DataFrame) -> pd.DataFrame:
    """The points no other beats on both: less (or equal) state and more (or equal) accuracy
    (:func:`suite.report.plots.pareto_frontier` with the state negated: less is better)."""
    negated = points.assign(negated_state_bytes=-points["state_bytes"])
    return (
        pareto_frontier(negated, "negated_state_bytes", "accuracy")
        .drop(columns="negated_state_bytes")
        .sort_values("state_bytes")
    )


def frontier_figure(table: pd.DataFrame, palette: dict | None = None) -> str | None:
    """Accuracy against decode state bytes at the scored length, one panel per task (see the module
    docstring); the marker says the scored length."""
    points = table.dropna(subset=["accuracy", "state_bytes"])
    points = points[points["state_bytes"] > 0]
    if points.empty:
        return None
    tasks = sorted(points["task"].astype(str).unique())
    lengths = sorted(points["eval_len"].unique())
    marker = {length: MARKERS[i % len(MARKERS)] for i, length in enumerate(lengths)}
    palette = with_palette(points["model"], palette)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.0 * len(tasks) + 3.4, 3.4), layout="constrained")
        axes_list = np.atleast_1d(figure.subplots(1, len(tasks), sharey=True))
        for axes, task in zip(axes_list, tasks):
            mine = points[points["task"].astype(str) == task]
            for _, row in mine.iterrows():
                axes.scatter(
                    row["state_bytes"],
                    row["accuracy"],
                    s=36,
                    marker=marker[row["eval_len"]],
                    color=palette.get(label_of(row["model"])),
                    alpha=0.85,
                )
            front = frontier(mine)
            axes.plot(
                front["state_bytes"], front["accuracy"], color="black", linewidth=1, drawstyle="steps-post", alpha=0.6
            )
            axes.set_xscale("log")
            plain_log_ticks(axes.xaxis, mine["state_bytes"])
            axes.set_ylim(-0.02, 1.02)
            axes.set_title(task)
            axes.set_xlabel("decode state at the scored length (bytes)")
        axes_list[0].set_ylabel("test accuracy")
        models = sorted(points["model"].map(label_of).unique())
        handles = [Line2D([], [], color=palette[m], marker="o", linestyle="") for m in models]
        handles += [Line2D([], [], color="grey", marker=marker[n], linestyle="") for n in lengths]
        names = models + [f"scored at T {int(n)}" for n in lengths]
        figure.legend(handles, names, loc="outside right center", title="stack")
        return figure_to_png_base64(figure)


def hybrids_section(inputs):
    """The section builder: None for a run without mixed stacks."""
    analysis = inputs.analysis
    table = analysis.hybrids
    if table is None or table.empty:
        return None
    return section(
        "hybrids",
        "Hybrids: attention layers in recurrent stacks",
        "hybrids.html.j2",
        note="Each stack is written bottom first (next to the embedding), as `--models` takes it. Accuracy is the "
        "test accuracy of the best validation checkpoint at the training length, with its 95% interval; "
        f"'solves' means at least {SOLVED_ACCURACY:g}. The verdicts' control for recall is the run's pure "
        "attention stack. Decode state is what the stack carries between tokens after T tokens: a full "
        "attention layer's KV cache grows with T, a window's stops at W, a recurrent layer's is fixed. "
        "Throughput is the perf cell's training tokens/s at the training length (nearest perf length "
        "where there is none), timed alone.",
        groups=hybrid_groups(table, analysis.hybrid_cheapest),
        headers=HEADERS,
        frontier_note="Every stack at every scored length; the marker is the length. The step line joins "
        "the stacks no other beats with less state and more accuracy (Zoology's recall–memory frontier).",
        png=frontier_figure(table, inputs.palette),
    )
