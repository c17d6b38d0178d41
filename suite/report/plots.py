"""Figures of the report, each returned as a base64 PNG string (or ``None`` when
there is nothing to draw).

Figures are built on bare ``matplotlib.figure.Figure`` objects rendered by the
Agg canvas, never through ``pyplot``'s global figure manager, so making a report
changes no backend or figure state for the rest of the process. Styling is
applied inside ``rc_context`` blocks for the same reason.
"""

from __future__ import annotations

import base64
import io
import math

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

from suite.analysis.missing import is_present
from suite.analysis.tables import is_flag_set
from suite.report.palette import label_of, model_palette, series_palette, with_palette

STYLE = {
    **sns.axes_style("whitegrid"),
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}
BYTES_PER_MIB = 2**20


def figure_to_png_base64(figure: Figure, dpi: int = 110) -> str:
    """Render ``figure`` with the Agg canvas to PNG and return it base64-encoded."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def chance_of(table: pd.DataFrame) -> float:
    """The task's chance accuracy (median if the rows disagree; NaN if unknown)."""
    values = table["chance_accuracy"].dropna()
    return float(values.median()) if len(values) else math.nan


# --------------------------------------------------------------------------- metric vs seq_len
def series_labels(perf: pd.DataFrame) -> pd.Series:
    """A line label per perf row: the model, plus batch size / task when a run
    has more than one of them (so lines measured differently never merge)."""
    labels = perf["model"].map(label_of)
    if perf["batch_size"].nunique(dropna=False) > 1:
        labels = labels + ", B=" + perf["batch_size"].map(lambda b: label_of(b if pd.isna(b) else int(b)))
    if perf["task"].nunique(dropna=False) > 1:
        labels = labels + ", " + perf["task"].map(label_of)
    return labels


def tick_label(value: float) -> str:
    """Plain tick text: ``0.2``, ``50``, ``2000``, then ``1e+05`` style past 10^4."""
    return f"{value:.0e}".replace("e+0", "e") if value >= 1e4 else f"{value:g}"


def plain_log_ticks(axis, values: pd.Series) -> None:
    """Label a log axis in plain numbers; label 2x and 5x minor ticks too when the
    data span less than about one and a half decades (else major ticks would be few)."""
    formatter = FuncFormatter(lambda value, _: tick_label(value))
    axis.set_major_formatter(formatter)
    low, high = values.min(), values.max()
    if low > 0 and high / low < 30:
        axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        axis.set_minor_formatter(formatter)
    else:
        axis.set_minor_formatter(NullFormatter())


NOISY_COLOR = "#d62728"


def ring_noisy(axes, x, y, label: str = "_noisy") -> None:
    """A ring around each point whose timing was flagged noisy (``suite.measure.timing``)."""
    axes.scatter(x, y, s=140, facecolors="none", edgecolors=NOISY_COLOR, linewidths=1.5, zorder=6, label=label)


def metric_vs_seq_len(
    perf: pd.DataFrame, panels, palette: dict | None = None, failures: dict | None = None, mark_noisy: bool = True
) -> str | None:
    """One panel per ``(metric, title, y_label, scale)`` in ``panels``, each a
    log-log line plot of that metric of ok perf rows against seq_len, one line
    per model. ``scale`` divides the values (e.g. bytes → MiB). Returns None when
    no panel has any value; a panel without values says "no data".

    ``failures`` (model → (first failing length, status)) marks, in the first
    panel, where each model's out-of-memory search stopped: an ``X`` at that
    length, at the height of the model's last measured value.

    ``mark_noisy``: rows whose ``timing_noisy`` is True get a ring around their
    point in every panel (timings that are not to be cited as they stand)."""
    perf = perf.assign(series=series_labels(perf)) if not perf.empty else perf
    if perf.empty or all(perf[metric].dropna().empty for metric, *_ in panels):
        return None
    palette = series_palette(perf, with_palette(perf["model"], palette))
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.2 * len(panels), 3.3), layout="constrained")
        axes_list = np.atleast_1d(figure.subplots(1, len(panels)))
        plotted, rings = set(), False
        for index, (axes, (metric, title, y_label, scale)) in enumerate(zip(axes_list, panels)):
            axes.set_title(title)
            data = perf.dropna(subset=[metric, "seq_len"]).sort_values("seq_len")
            if data.empty:
                _no_data(axes, y_label)
                continue
            data = data.assign(value=data[metric] / scale)
            rings |= _draw_lines(axes, data, palette, mark_noisy)
            plotted.update(data["series"])
            ticks = set(data["seq_len"].unique())
            if failures and index == 0:
                ticks |= _mark_failures(axes, data, failures, palette)
            _log_axes(axes, data["value"], ticks, y_label)
        _series_legend(figure, sorted(plotted), palette, rings)
        return figure_to_png_base64(figure)


def _no_data(axes, y_label: str) -> None:
    axes.set_xlabel("seq_len (tokens)")
    axes.set_ylabel(y_label)
    axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def _draw_lines(axes, data: pd.DataFrame, palette: dict, mark_noisy: bool) -> bool:
    """One line per series of ``data`` (its ``value`` against seq_len); rings round the noisy
    points when ``mark_noisy``. Returns whether any point was ringed."""
    sns.lineplot(
        data=data,
        x="seq_len",
        y="value",
        hue="series",
        palette=palette,
        marker="o",
        errorbar=None,
        estimator=None,
        sort=True,
        legend=False,
        ax=axes,
    )
    noisy = (
        data[data["timing_noisy"].map(is_flag_set).astype(bool)]
        if mark_noisy and "timing_noisy" in data
        else data.iloc[:0]
    )
    if len(noisy):
        ring_noisy(axes, noisy["seq_len"], noisy["value"])
    return bool(len(noisy))


def _mark_failures(axes, data: pd.DataFrame, failures: dict, palette: dict) -> set:
    """An ``X`` and the status at each model's first failing length, at the height of its last
    value; returns the lengths marked (they become x ticks)."""
    marked = set()
    for model, (length, status) in failures.items():
        mine = data[data["model"] == model]
        if mine.empty or length is None or pd.isna(length):
            continue
        color = palette.get(mine["series"].iloc[0], "black")
        axes.scatter([length], [mine["value"].iloc[-1]], marker="X", s=80, color=color, zorder=5)
        axes.annotate(
            str(status),
            (length, mine["value"].iloc[-1]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
            color=color,
        )
        marked.add(length)
    return marked


def _log_axes(axes, values: pd.Series, ticks: set, y_label: str) -> None:
    """Log-log axes: the lengths as plain x ticks, plain-number y ticks."""
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks(sorted(ticks))
    axes.set_xticklabels([str(int(v)) for v in sorted(ticks)], rotation=45)
    axes.xaxis.set_minor_locator(NullLocator())
    plain_log_ticks(axes.yaxis, values)
    axes.set_xlabel("seq_len (tokens)")
    axes.set_ylabel(y_label)


def _series_legend(figure: Figure, labels: list, palette: dict, rings: bool) -> None:
    handles = [Line2D([], [], color=palette[label], marker="o") for label in labels]
    if rings:
        handles.append(
            Line2D(
                [], [], linestyle="none", marker="o", markersize=11, markerfacecolor="none", markeredgecolor=NOISY_COLOR
            )
        )
        labels = labels + ["noisy timing"]
    figure.legend(handles, labels, loc="outside right center", title="model")


__all__ = [
    "figure_to_png_base64",
    "label_of",
    "model_palette",
    "chance_of",
    "series_labels",
    "metric_vs_seq_len",
    "BYTES_PER_MIB",
]


# --------------------------------------------------------------------------- accuracy curves and Pareto
def accuracy_vs_seq_len(accuracy: pd.DataFrame, palette: dict | None = None) -> str | None:
    """One panel per task: seed-mean accuracy against training length, one line
    per model, error bars the 95% interval of :func:`suite.analysis.tables.accuracy_table`
    (Student t over seeds with several seeds, Wilson over scored tokens with one);
    the task's chance level as a dashed line. Cells where no seed finished ok are
    left out (the heatmaps and tables show their status)."""
    data = accuracy.dropna(subset=["accuracy", "seq_len"])
    if data.empty:
        return None
    tasks = sorted(data["task"].astype(str).unique())
    palette = with_palette(data["model"], palette)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(3.6 * len(tasks) + 1.6, 3.2), layout="constrained")
        axes_list = np.atleast_1d(figure.subplots(1, len(tasks), sharey=True))
        for axes, task in zip(axes_list, tasks):
            mine = data[data["task"].astype(str) == task].sort_values("seq_len")
            for model, rows in mine.groupby("model"):
                low = (rows["accuracy"] - rows["accuracy_ci_low"]).clip(lower=0).fillna(0)
                high = (rows["accuracy_ci_high"] - rows["accuracy"]).clip(lower=0).fillna(0)
                axes.errorbar(
                    rows["seq_len"],
                    rows["accuracy"],
                    yerr=[low, high],
                    marker="o",
                    capsize=3,
                    color=palette.get(label_of(model)),
                    label=label_of(model),
                )
            chance = chance_of(mine)
            if is_present(chance):
                axes.axhline(chance, color="grey", linestyle="--", linewidth=1)
            axes.set_xscale("log", base=2)
            lengths = sorted(mine["seq_len"].unique())
            axes.set_xticks(lengths)
            axes.set_xticklabels([str(int(v)) for v in lengths])
            axes.xaxis.set_minor_locator(NullLocator())
            axes.set_ylim(0, 1.02)
            axes.set_title(f"{task} (dashed: chance)")
            axes.set_xlabel("seq_len (training length, tokens)")
        axes_list[0].set_ylabel("accuracy")
        handles = [Line2D([], [], color=palette[m], marker="o") for m in sorted(data["model"].map(label_of).unique())]
        figure.legend(handles, sorted(data["model"].map(label_of).unique()), loc="outside right center", title="model")
        return figure_to_png_base64(figure)


def pareto_frontier(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """The rows no other row beats on both ``x`` and ``y`` (higher is better on both)."""
    keep = [
        index
        for index, row in points.iterrows()
        if not ((points[x] >= row[x]) & (points[y] >= row[y]) & ((points[x] > row[x]) | (points[y] > row[y]))).any()
    ]
    return points.loc[keep].sort_values(x)


def pareto_plot(points: pd.DataFrame, palette: dict | None = None) -> str | None:
    """One panel per task: each model's accuracy against its training throughput
    (``points``: model, task, accuracy, train_tokens_per_s), the Pareto frontier
    drawn as a step line; x on a log scale."""
    points = points.dropna(subset=["accuracy", "train_tokens_per_s"])
    if points.empty:
        return None
    tasks = sorted(points["task"].astype(str).unique())
    palette = with_palette(points["model"], palette)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(3.6 * len(tasks) + 1.6, 3.2), layout="constrained")
        axes_list = np.atleast_1d(figure.subplots(1, len(tasks), sharey=True))
        for axes, task in zip(axes_list, tasks):
            mine = points[points["task"].astype(str) == task]
            for _, row in mine.iterrows():
                axes.scatter(
                    row["train_tokens_per_s"], row["accuracy"], s=40, color=palette.get(label_of(row["model"]))
                )
            front = pareto_frontier(mine, "train_tokens_per_s", "accuracy")
            axes.plot(
                front["train_tokens_per_s"],
                front["accuracy"],
                color="black",
                linewidth=1,
                drawstyle="steps-pre",
                alpha=0.6,
            )
            axes.set_xscale("log")
            plain_log_ticks(axes.xaxis, mine["train_tokens_per_s"])
            axes.set_ylim(0, 1.02)
            axes.set_title(f"{task}")
            axes.set_xlabel("train tokens/s")
        axes_list[0].set_ylabel("accuracy (best over lengths)")
        labels = sorted(points["model"].map(label_of).unique())
        figure.legend(
            [Line2D([], [], color=palette[m], marker="o", linestyle="") for m in labels],
            labels,
            loc="outside right center",
            title="model",
        )
        return figure_to_png_base64(figure)
