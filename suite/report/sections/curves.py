"""The accuracy-vs-length section: seed-mean accuracy per training length, from the analysis's accuracy table."""

from __future__ import annotations

from suite.report import plots
from suite.report.template import section


def accuracy_curves_section(inputs):
    accuracy = inputs.analysis.accuracy
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
