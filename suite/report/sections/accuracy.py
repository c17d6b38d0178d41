"""The accuracy section: per task, a heatmap and the table of seed-aggregated accuracy per model and
training length (the analysis's accuracy table), with the notes on the task's measured regime."""

from __future__ import annotations

from suite.analysis.missing import is_missing
from suite.report import heatmap
from suite.report.format import (
    NO_VALUE,
    Cell,
    cells,
    format_accuracy,
    format_length,
    format_number,
    text_of,
    value_cell,
)
from suite.report.sections.questions import regime_notes
from suite.report.template import section


ACCURACY_HEADERS = [
    "model",
    "seq_len",
    "status",
    "accuracy",
    "95% CI",
    "CI method",
    "ok/runs",
    "seq accuracy",
    "final loss",
    "backend",
    "error",
]


def accuracy_section(inputs):
    accuracy = inputs.analysis.accuracy
    notes = regime_notes(inputs.records)
    tasks = []
    for task in sorted(accuracy["task"].dropna().astype(str).unique()):
        rows_of_task = accuracy[accuracy["task"] == task]
        chance = heatmap.chance_of(rows_of_task)
        rows = [
            [
                row["model"],
                format_length(row["seq_len"]),
                Cell(row["status"], "" if row["status"] == "ok" else "status"),
                value_cell(row["accuracy"], format_accuracy),
                NO_VALUE
                if is_missing(row["accuracy_ci_low"])
                else f"[{row['accuracy_ci_low']:.3f}, {row['accuracy_ci_high']:.3f}]",
                text_of(row["ci_method"]),
                f"{row['n_ok']}/{row['n_runs']}",
                value_cell(row["seq_accuracy"], format_accuracy),
                value_cell(row["final_loss"], format_number),
                row["backend"],
                Cell(text_of(row["error"]), "error"),
            ]
            for _, row in rows_of_task.iterrows()
        ]
        tasks.append(
            {
                "name": task,
                "chance": "unknown" if is_missing(chance) else f"{chance:.3g}",
                "png": heatmap.accuracy_heatmap(accuracy, task),
                "rows": cells(rows),
                "notes": notes.get(task, []),
            }
        )
    return section("accuracy", "Accuracy", "accuracy.html.j2", tasks=tasks, headers=ACCURACY_HEADERS)
