"""The report's "Equal compute" section: how many optimizer steps and training seconds each family
needed to reach the target validation accuracy, and the transformer's as a multiple of minGRU's.

Feng et al. 2024 say that on selective copying "Transformers required ~2.5x more training steps"
than minGRU; this section says what the ratio is on the machine that ran the records, per task and
training length, or why it cannot be said (a family never reached the target, or did not run).
Numbers come from :func:`suite.analysis.equal_compute.equal_compute_table` (medians over the seeds that
reached the target, and how many did) and :func:`suite.analysis.equal_compute.compute_ratios`. Seconds
are training seconds only, evaluation excluded (``valid_curve``'s seconds); they depend on the
device and on everything else running on it, steps do not.

The figure is validation accuracy against training seconds (``valid_curve``), one line per record
coloured by model, one panel per task and training length; records written before the curve kept
its seconds are not drawn.
"""

from __future__ import annotations

import math

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from suite.analysis import questions
from suite.analysis.run_analysis import RunAnalysis
from suite.analysis.equal_compute import COMPUTE_KEYS
from suite.analysis.tables import curve_points
from suite.analysis.missing import is_missing
from suite.report.format import NO_VALUE, cells, format_number
from suite.report.palette import label_of, with_palette
from suite.report.plots import STYLE, figure_to_png_base64
from suite.report.variants import variant_labels_by_task
from suite.report.template import section

NAMES = {"transformer": "the transformer", "mingru": "minGRU"}
PAPER_STEPS_RATIO = {"selective-copy": 2.5}  # Feng et al. 2024: "Transformers required ~2.5x more training steps"
COMPUTE_HEADERS = [
    "model",
    "reached the target",
    "steps to target",
    "seconds to target",
    "steps trained (of max)",
    "stopped",
]


def _name(family: str) -> str:
    return NAMES.get(family, family)


def _sentence_start(text: str) -> str:
    return text[:1].upper() + text[1:]


def _reached(row) -> str:
    return f"{int(row['n_reached'])} of {int(row['n_ok'])} seeds"


def _never(row, family: str, target: str) -> str:
    stops = row["stop_reasons"] or "not recorded"
    return f"{_name(family)} never reached {target} ({_reached(row)}; stopped: {stops})"


def compute_sentence(entry: dict) -> str:
    """One :func:`suite.analysis.equal_compute.compute_ratios` entry in words: the ratio of steps and of
    seconds, the seeds behind each median, the paper's ratio where it gives one; or why the ratio
    cannot be said here."""
    family, reference = entry["family"], entry["reference"]
    mine, theirs = entry["family_row"], entry["reference_row"]
    target = f"{100 * entry['target_accuracy']:g}%"
    if entry["missing"] in ("no family", "no reference"):
        absent = family if entry["missing"] == "no family" else reference
        return f"Cannot be said here: the run has no {_name(absent)} cell at this setting."
    if entry["missing"] == "never reached":
        never = [
            _never(row, name, target) for row, name in ((mine, family), (theirs, reference)) if not row["n_reached"]
        ]
        return f"Cannot be said here: {' and '.join(never)}."
    seeds = f"{_name(family)} {_reached(mine)}, {_name(reference)} {_reached(theirs)}"
    if is_missing(entry["seconds_ratio"]):
        text = (
            f"{_sentence_start(_name(family))} needed {entry['steps_ratio']:.3g}× the steps of {_name(reference)} "
            f"to reach {target} here (medians over the seeds that reached it: {seeds}); the seconds to the "
            "target were not recorded."
        )
    else:
        text = (
            f"{_sentence_start(_name(family))} needed {entry['steps_ratio']:.3g}× the steps and "
            f"{entry['seconds_ratio']:.3g}× the seconds of {_name(reference)} to reach {target} here "
            f"(medians over the seeds that reached it: {seeds})."
        )
    paper = PAPER_STEPS_RATIO.get(entry["task"])
    return text + (f" The paper: ~{paper:g}× the steps." if paper else "")


def _row_cells(row) -> list:
    steps = NO_VALUE if is_missing(row["steps_trained"]) else f"{row['steps_trained']:.0f}"
    if not is_missing(row["max_steps"]):
        steps += f" / {row['max_steps']:.0f}"
    return [
        row["model"],
        _reached(row),
        NO_VALUE if is_missing(row["steps_to_target"]) else f"{row['steps_to_target']:.0f}",
        NO_VALUE if is_missing(row["seconds_to_target"]) else f"{format_number(row['seconds_to_target'])} s",
        steps,
        row["stop_reasons"] or "not recorded",
    ]


def compute_groups(analysis: RunAnalysis) -> list[dict]:
    """One entry per (task, variant, training length, width, matching) with a target: its title,
    target, table rows and the transformer-vs-minGRU sentence."""
    table = analysis.equal_compute
    if table.empty:
        return []
    ratios = {tuple(e[k] for k in COMPUTE_KEYS): e for e in analysis.compute_ratios}
    labels = variant_labels_by_task(table)  # a task's own parameters, never another task's
    widths = table.groupby("task")["budget_width"].nunique()
    out = []
    for key, group in table.groupby(list(COMPUTE_KEYS), sort=True, dropna=False):
        task, variant, train_len, width, n_layers, match = key
        title = f"{task}, trained at {int(train_len)}"
        if table["n_layers"].nunique() > 1:
            title += f", {int(n_layers)} layers"
        if labels[(task, variant)] != "default":
            title += f", {labels[(task, variant)]}"
        if widths.get(task, 1) > 1 or match != "width":
            title += f", d_model {width} ({match} matching)"
        entry = ratios.get(key)
        out.append(
            {
                "title": title,
                "target": f"{100 * group['target_accuracy'].max():g}%",
                "rows": cells([_row_cells(row) for _, row in group.iterrows()]),
                "sentence": compute_sentence(entry) if entry else "",
            }
        )
    return out


def _curves(records: pd.DataFrame) -> pd.DataFrame:
    """Ok records at their training length whose ``valid_curve`` has training seconds."""
    rows = questions.accuracy_records(records)
    if rows.empty or "valid_curve" not in rows:
        return rows.iloc[0:0]
    rows = rows[(rows["status"] == "ok") & (rows["eval_len"] == rows["train_len"])]
    timed = rows["valid_curve"].map(lambda c: any(s is not None for _, s, _ in curve_points(c)))
    return rows[timed]


def seconds_figure(records: pd.DataFrame, palette: dict | None = None) -> str | None:
    """Validation accuracy against training seconds, one panel per (task, training length), one
    line per record in its model's colour (``palette``, the report's), the target a dashed line
    (see the module docstring)."""
    curves = _curves(records)
    if curves.empty:
        return None
    panels = list(curves.groupby(["task", "train_len"], sort=True))
    palette = with_palette(curves["model"], palette)
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.2 * columns + 1.4, 3.2 * rows), layout="constrained")
        for index, ((task, train_len), panel) in enumerate(panels):
            axes = figure.add_subplot(rows, columns, index + 1)
            for _, record in panel.sort_values("model").iterrows():
                points = [(s, a) for _, s, a in curve_points(record["valid_curve"]) if s is not None]
                axes.plot(
                    [s for s, _ in points],
                    [a for _, a in points],
                    color=palette[label_of(record["model"])],
                    linewidth=1.2,
                    alpha=0.85,
                    marker="o",
                    markersize=2.5,
                )
            target = pd.to_numeric(panel.get("target_accuracy"), errors="coerce").dropna()
            if len(target):
                axes.axhline(float(target.max()), color="black", linestyle="--", linewidth=1)
            axes.set_ylim(-0.02, 1.02)
            axes.set_xlabel("training seconds (evaluation excluded)")
            axes.set_ylabel("validation accuracy")
            axes.set_title(f"{task}: trained at {int(train_len)}" + (" (dashed: target)" if len(target) else ""))
        models = sorted(curves["model"].map(label_of).unique())
        handles = [Line2D([], [], color=palette[m]) for m in models]
        figure.legend(handles, models, loc="outside right center", title="model")
        return figure_to_png_base64(figure)


def compute_section(inputs):
    """The report's section builder: None for runs without a target accuracy or timed curves."""
    groups = compute_groups(inputs.analysis)
    png = seconds_figure(inputs.records, inputs.palette)
    if not groups and png is None:
        return None
    return section(
        "compute",
        "Equal compute: steps and seconds to the target",
        "compute.html.j2",
        groups=groups,
        png=png,
        headers=COMPUTE_HEADERS,
    )
