"""Report sections for the questions of :mod:`suite.analysis.questions`: length
extrapolation, recall vs state size, and which families solve which task
(with the positive control that makes a failure a failure).

Each function takes the records DataFrame and returns a figure (base64 PNG, or
``None`` when the run has nothing to draw), table rows, or the section's body
rendered by ``templates/questions.html.j2`` (:mod:`suite.report.template`, so
every value is escaped); a run with nothing to show gets no section, so runs
without these dimensions are unchanged.
"""
from __future__ import annotations

import json
import math

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from suite.analysis import questions
from suite.report.format import NO_VALUE, Cell
from suite.report.plots import STYLE, figure_to_png_base64, label_of, model_palette
from suite.report.template import Section, render


def _lengths_vary(outcomes: pd.DataFrame) -> bool:
    return not outcomes.empty and (outcomes["eval_len"] != outcomes["train_len"]).any()


def extrapolation_figure(records: pd.DataFrame) -> str | None:
    """Accuracy vs evaluation length, one panel per (task, train length), one line per model,
    the seed-mean with its 95% interval as a band; the training length is a dashed vertical
    line and chance a dotted horizontal one."""
    outcomes = questions.outcome_table(records)
    if not _lengths_vary(outcomes):
        return None
    outcomes = outcomes[outcomes["n_ok"] > 0]
    panels = list(outcomes.groupby(["task", "task_variant", "train_len", "param_match", "budget_width"], sort=True))
    palette = model_palette(outcomes["model"])
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.2 * columns, 3.2 * rows))
        for index, ((task, _, train_len, _, _), panel) in enumerate(panels):
            axes = figure.add_subplot(rows, columns, index + 1)
            for model, line in panel.groupby("model"):
                line = line.sort_values("eval_len")
                colour = palette[label_of(model)]
                axes.plot(line["eval_len"], line["accuracy"], marker="o", color=colour, label=label_of(model))
                if line["accuracy_ci_low"].notna().any():
                    axes.fill_between(line["eval_len"], line["accuracy_ci_low"], line["accuracy_ci_high"],
                                      color=colour, alpha=0.15, linewidth=0)
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
        figure.legend(seen.values(), seen.keys(), loc="lower center", ncol=min(5, len(seen)),
                      bbox_to_anchor=(0.5, -0.02 - 0.04 * math.ceil(len(seen) / 5)))
        figure.tight_layout()
        return figure_to_png_base64(figure)


def variant_labels(variants) -> dict:
    """Each task-parameter JSON → the parameters that differ between them (``num_kv_pairs=4``)."""
    parsed = {variant: json.loads(variant) for variant in variants}
    keys = sorted({key for params in parsed.values() for key in params
                   if len({json.dumps(p.get(key)) for p in parsed.values()}) > 1})
    return {variant: ", ".join(f"{key}={params.get(key)}" for key in keys) or "default"
            for variant, params in parsed.items()}


def recall_state_figure(records: pd.DataFrame, task: str = "mqar") -> str | None:
    """Zoology's figure: accuracy (seed mean, 95% interval as error bars) against the state size
    in bytes after the training length (log scale), one panel per task variant (e.g. MQAR's
    number of key-value pairs), one colour per model, at the training length."""
    outcomes = questions.outcome_table(records)
    if outcomes.empty:
        return None
    points = outcomes[(outcomes["task"] == task) & (outcomes["eval_len"] == outcomes["train_len"])
                      & (outcomes["n_ok"] > 0) & outcomes["state_bytes"].notna()]
    if points.empty or points[["state_bytes", "task_variant"]].drop_duplicates().shape[0] < 3:
        return None  # not a sweep: the accuracy section already shows it
    palette = model_palette(points["model"])
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
                axes.errorbar(group["state_bytes"], group["accuracy"], yerr=[low, high], marker="o",
                              color=palette[label_of(model)], capsize=2, label=label_of(model))
            chance = points.loc[points["task_variant"] == variant, "chance_accuracy"].median()
            if pd.notna(chance):
                axes.axhline(chance, color="grey", linestyle=":", linewidth=1, label="chance")
            axes.set_xscale("log")
            axes.set_ylim(-0.02, 1.02)
            axes.set_xlabel("state bytes after the training length (log)")
            axes.set_ylabel("accuracy")
            axes.set_title(f"{task}: {labels[variant]}")
        seen = {}
        for axes in figure.axes:
            for handle, label in zip(*axes.get_legend_handles_labels()):
                seen.setdefault(label, handle)
        figure.legend(seen.values(), seen.keys(), loc="lower center", ncol=min(8, len(seen)),
                      bbox_to_anchor=(0.5, -0.08))
        figure.tight_layout()
        return figure_to_png_base64(figure)


def _format(value, digits=3) -> str:
    return NO_VALUE if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


VERDICT_HEADERS = ["task", "variant", "model", "d_model", "train len", "eval len", "seeds", "accuracy", "95% CI",
                   "last-position accuracy", "lr", "control", "control accuracy", "verdict"]


def verdict_rows(records: pd.DataFrame) -> list[list[Cell]]:
    """Which family solves which task at which length, with the control's accuracy and the verdict:
    one row of cells per outcome, every cell of a failed or not-run row styled as a status."""
    table = questions.verdicts(questions.outcome_table(records))
    rows = []
    for _, row in table.sort_values(["task", "task_variant", "train_len", "eval_len", "model"]).iterrows():
        interval = (NO_VALUE if pd.isna(row["accuracy_ci_low"]) else
                    f"[{row['accuracy_ci_low']:.3f}, {row['accuracy_ci_high']:.3f}] ({row['ci_method']})")
        values = [row["task"], row["task_variant"], row["model"], row["d_model"], row["train_len"], row["eval_len"],
                  row["seeds"], _format(row["accuracy"]), interval, _format(row["last_accuracy"]), row["lr"],
                  row["control"] or NO_VALUE, _format(row["control_accuracy"]), row["verdict"]]
        css = "status" if str(row["verdict"]).startswith(("fails", "not run")) else ""
        rows.append([Cell(str(_int(value)), css) for value in values])
    return rows


def _int(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def questions_section(records: pd.DataFrame) -> str:
    """The section's body (rendered by ``templates/questions.html.j2``, which escapes every value):
    verdicts, extrapolation figure, recall vs state figure (whichever apply); ``""`` when the run
    has no accuracy cells."""
    if questions.outcome_table(records).empty:
        return ""
    figures = [{"title": title, "png": png, "alt": alt} for title, png, alt in (
        ("Length extrapolation", extrapolation_figure(records), "accuracy vs evaluation length"),
        ("Recall vs state size", recall_state_figure(records), "MQAR accuracy vs state bytes")) if png]
    return render("questions.html.j2", solved=f"{questions.SOLVED_ACCURACY:g}",
                  matching=questions.matching_used(records), headers=VERDICT_HEADERS, rows=verdict_rows(records),
                  figures=figures)


def questions_report_section(inputs):
    """The report's section builder (see :func:`suite.report.html.section_builders`)."""
    body = questions_section(inputs.records)
    return Section("questions", "Which family solves what", body) if body else None
