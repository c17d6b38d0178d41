"""The figures of the questions section, drawn from the analysis's outcome table: accuracy against
evaluation length (length extrapolation) and, for a width or key-value sweep, Zoology's accuracy
against state size."""

from __future__ import annotations

import math

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from suite.report.palette import label_of, with_palette
from suite.report.plots import STYLE, figure_to_png_base64
from suite.report.variants import variant_labels


def _lengths_vary(outcomes: pd.DataFrame) -> bool:
    return not outcomes.empty and (outcomes["eval_len"] != outcomes["train_len"]).any()


def extrapolation_figure(outcomes: pd.DataFrame, palette: dict | None = None) -> str | None:
    """Accuracy vs evaluation length, one panel per (task, train length), one line per model
    (colours from ``palette``, the report's), the seed-mean with its 95% interval as a band; the
    training length is a dashed vertical line and chance a dotted horizontal one. ``outcomes``: the
    analysis's outcome table (:attr:`suite.analysis.run_analysis.RunAnalysis.outcomes`)."""
    if not _lengths_vary(outcomes):
        return None
    outcomes = outcomes[outcomes["n_ok"] > 0]
    panels = list(
        outcomes.groupby(["task", "task_variant", "train_len", "param_match", "budget_width", "n_layers"], sort=True)
    )
    palette = with_palette(outcomes["model"], palette)
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.2 * columns, 3.2 * rows))
        for index, ((task, _, train_len, _, _, _), panel) in enumerate(panels):
            axes = figure.add_subplot(rows, columns, index + 1)
            for model, line in panel.groupby("model"):
                line = line.sort_values("eval_len")
                colour = palette[label_of(model)]
                axes.plot(line["eval_len"], line["accuracy"], marker="o", color=colour, label=label_of(model))
                if line["accuracy_ci_low"].notna().any():
                    axes.fill_between(
                        line["eval_len"],
                        line["accuracy_ci_low"],
                        line["accuracy_ci_high"],
                        color=colour,
                        alpha=0.15,
                        linewidth=0,
                    )
            axes.axvline(train_len, color="black", linestyle="--", linewidth=1, label=f"train length {int(train_len)}")
            chance = panel["chance_accuracy"].median()
            if pd.notna(chance):
                axes.axhline(chance, color="grey", linestyle=":", linewidth=1, label="chance")
            axes.set_xscale("log", base=2)
            axes.set_xticks(sorted(panel["eval_len"].unique()))
            axes.set_xticklabels([str(int(v)) for v in sorted(panel["eval_len"].unique())])
            axes.set_ylim(-0.02, 1.02)
            axes.set_xlabel("evaluation length (tokens)")
            axes.set_ylabel("accuracy")
            axes.set_title(f"{task}: trained at {int(train_len)}")
        handles, labels = figure.axes[0].get_legend_handles_labels()
        seen = dict(zip(labels, handles))
        for axes in figure.axes[1:]:
            for handle, label in zip(*axes.get_legend_handles_labels()):
                seen.setdefault(label, handle)
        figure.legend(
            seen.values(),
            seen.keys(),
            loc="lower center",
            ncol=min(5, len(seen)),
            bbox_to_anchor=(0.5, -0.02 - 0.04 * math.ceil(len(seen) / 5)),
        )
        figure.tight_layout()
        return figure_to_png_base64(figure)


def recall_state_figure(outcomes: pd.DataFrame, task: str = "mqar", palette: dict | None = None) -> str | None:
    """Zoology's figure: accuracy (seed mean, 95% interval as error bars) against the state size
    in bytes after the training length (log scale), one panel per task variant (e.g. MQAR's
    number of key-value pairs), one colour per model, at the training length."""
    if outcomes.empty:
        return None
    points = outcomes[
        (outcomes["task"] == task)
        & (outcomes["eval_len"] == outcomes["train_len"])
        & (outcomes["n_ok"] > 0)
        & outcomes["state_bytes"].notna()
    ]
    if points.empty or points[["state_bytes", "task_variant"]].drop_duplicates().shape[0] < 3:
        return None  # not a sweep: the accuracy section already shows it
    palette = with_palette(points["model"], palette)
    labels = variant_labels(points["task_variant"].unique())
    variants = sorted(labels, key=lambda v: labels[v])
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.0 * len(variants), 3.4))
        for index, variant in enumerate(variants):
            axes = figure.add_subplot(1, len(variants), index + 1)
            for model, group in points[points["task_variant"] == variant].groupby("model"):
                group = group.sort_values("state_bytes")
                low = (group["accuracy"] - group["accuracy_ci_low"]).fillna(0).clip(lower=0)
                high = (group["accuracy_ci_high"] - group["accuracy"]).fillna(0).clip(lower=0)
                axes.errorbar(
                    group["state_bytes"],
                    group["accuracy"],
                    yerr=[low, high],
                    marker="o",
                    color=palette[label_of(model)],
                    capsize=2,
                    label=label_of(model),
                )
            chance = points.loc[points["task_variant"] == variant, "chance_accuracy"].median()
            if pd.notna(chance):
                axes.axhline(chance, color="grey", linestyle=":", linewidth=1, label="chance")
            axes.set_xscale("log")
            axes.set_ylim(-0.02, 1.02)
            axes.set_xlabel("state bytes after the training length (log)")
            axes.set_ylabel("accuracy")
            axes.set_title(task if labels[variant] == "default" else f"{task}: {labels[variant]}")
        seen = {}
        for axes in figure.axes:
            for handle, label in zip(*axes.get_legend_handles_labels()):
                seen.setdefault(label, handle)
        figure.legend(
            seen.values(), seen.keys(), loc="lower center", ncol=min(8, len(seen)), bbox_to_anchor=(0.5, -0.08)
        )
        figure.tight_layout()
        return figure_to_png_base64(figure)
