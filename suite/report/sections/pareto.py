"""The accuracy/throughput Pareto section, from the analysis's accuracy and perf tables."""

from __future__ import annotations

import pandas as pd

from suite.report import plots
from suite.report.template import section


def pareto_points(accuracy: pd.DataFrame, perf: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """Per model and task: best accuracy over lengths, and training throughput at one
    common length — the longest perf length at which the most models finished ok."""
    accuracy = accuracy.dropna(subset=["accuracy"])
    perf = perf.dropna(subset=["train_tokens_per_s"])
    if accuracy.empty or perf.empty:
        return pd.DataFrame(columns=["model", "task", "accuracy", "train_tokens_per_s"]), None
    counts = perf.groupby("seq_len")["model"].nunique()
    length = max(counts[counts == counts.max()].index)
    speed = perf[perf["seq_len"] == length].groupby("model")["train_tokens_per_s"].median()
    best = accuracy.groupby(["model", "task"])["accuracy"].max().reset_index()
    best["train_tokens_per_s"] = best["model"].map(speed)
    return best.dropna(subset=["train_tokens_per_s"]), float(length)


def pareto_section(inputs):
    points, length = pareto_points(inputs.analysis.accuracy, inputs.analysis.perf)
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
