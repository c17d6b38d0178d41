"""The headline section: the best accuracy per task and length, the verdicts of
:mod:`suite.analysis.questions` (solved, fails, undertrained, inconclusive) per task, and the
fastest training and decoding per length, all from the run's analysis."""

from __future__ import annotations

import pandas as pd

from suite.analysis import tables as analysis
from suite.report.sections.questions import headline_verdicts
from suite.report.template import section


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
    accuracy, perf = inputs.analysis.accuracy, inputs.analysis.perf
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
        verdicts=headline_verdicts(inputs.analysis.outcomes),
        fastest=fastest,
        quickest_decode=quickest_decode,
    )
