"""Report sections for the questions of :mod:`suite.analysis.questions`: length
extrapolation, recall vs state size, and which families solve which task
(with the positive control that makes a failure a failure, how each training
stopped, and the undertrained misses listed apart from failures with the
``--set`` line that trains them twice as long), the verdict summary of the
headline (:func:`headline_verdicts`) and the notes on a task's measured regime
(:func:`regime_notes`: MQAR keys recurring in the filler, ListOps's majority
class) shown under its results.

Each function takes the run's analysis (:class:`suite.analysis.run_analysis.RunAnalysis`:
its verdict table is built once per run) and returns table rows or the section's body
rendered by ``templates/questions.html.j2``; the figures are
:mod:`suite.report.sections.question_figures` (:mod:`suite.report.template`, so
every value is escaped); a run with nothing to show gets no section, so runs
without these dimensions are unchanged.
"""

from __future__ import annotations


import pandas as pd

from suite.analysis import questions, regimes
from suite.analysis.run_analysis import RunAnalysis
from suite.analysis.missing import is_missing
from suite.report.format import NO_VALUE, Cell
from suite.report.sections.question_figures import extrapolation_figure, recall_state_figure
from suite.report.template import Section, render
from suite.report.variants import variant_text


def _format(value, digits=3) -> str:
    return NO_VALUE if is_missing(value) else f"{value:.{digits}f}"


VERDICT_HEADERS = [
    "model",
    "setting",
    "eval len",
    "seeds",
    "accuracy [95% CI]",
    "last-position accuracy",
    "stopped",
    "steps (of max)",
    "control accuracy",
    "verdict",
]
VERDICT_CSS = {"fails": "status", "not run ok": "status", "undertrained": "undertrained", "cut by time": "undertrained"}
VERDICT_ORDER = ("solved", "fails", "undertrained", "cut by time", "inconclusive", "control fails", "not run ok")


def _stopped(row) -> str:
    """How training ended, over the seeds: the stop reasons, and whether a seed was still rising."""
    reasons = row.get("stop_reasons") or "not recorded"
    return reasons + ("; still rising" if row.get("still_rising") else "")


def _steps(row) -> str:
    trained, budget = row.get("steps_trained"), row.get("max_steps")
    if is_missing(trained):
        return NO_VALUE
    return f"{_int(trained)}" + ("" if is_missing(budget) else f" / {_int(budget)}")


def verdict_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """The analysis's outcomes with their verdicts (:attr:`suite.analysis.run_analysis.RunAnalysis.outcomes`),
    in the report's order."""
    table = outcomes
    return table.sort_values(["task", "task_variant", "train_len", "eval_len", "model"]) if len(table) else table


def setting_text(row) -> str:
    """How a family was sized and trained, readable: ``d_model 64, 2 layers, lr 0.01`` (and the
    matching when it was by parameter count)."""
    parts = []
    if not is_missing(row.get("d_model")):
        parts.append(f"d_model {_int(row['d_model'])}")
    if not is_missing(row.get("n_layers")):
        layers = _int(row["n_layers"])
        parts.append(f"{layers} layer{'' if layers == 1 else 's'}")
    if not is_missing(row.get("lr")):
        parts.append(f"lr {row['lr']:g}" if isinstance(row["lr"], (int, float)) else f"lr {row['lr']}")
    if row.get("param_match") not in (None, "width") and not is_missing(row.get("param_match")):
        parts.append(f"{row['param_match']} matched")
    return ", ".join(parts) or NO_VALUE


def verdict_rows(table: pd.DataFrame) -> list[list[Cell]]:
    """Which family solves the task at which length, with how training ended, the control's
    accuracy (the control is named in the group's title) and the verdict: one row of cells per
    outcome of ``table`` (one task variant and training length, see :func:`verdict_groups`); the
    verdict of a failed or not-run row is styled as a status, an undertrained one apart. The
    ``--set`` line that trains an undertrained family longer is listed above the tables."""
    rows = []
    for _, row in table.iterrows():
        accuracy = _format(row["accuracy"])
        if not pd.isna(row["accuracy_ci_low"]):
            accuracy += f" [{row['accuracy_ci_low']:.3f}, {row['accuracy_ci_high']:.3f}]"
        values = [
            row["model"],
            setting_text(row),
            row["eval_len"],
            row["seeds"],
            accuracy,
            _format(row["last_accuracy"]),
            _stopped(row),
            _steps(row),
            _format(row["control_accuracy"]),
            row["verdict"],
        ]
        css = VERDICT_CSS.get(questions.verdict_kind(row["verdict"]), "")
        rows.append([Cell(str(_int(value))) for value in values[:-1]] + [Cell(str(values[-1]), css)])
    return rows


def verdict_groups(table: pd.DataFrame) -> list[dict]:
    """The verdicts table in one compact table per (task, task variant, training length): its
    title (the task's own parameters, readable), its positive control, how many outcomes of each
    verdict kind it has at the training length, and its rows (:func:`verdict_rows`)."""
    groups = []
    for (task, variant, train_len), group in table.groupby(["task", "task_variant", "train_len"], sort=True):
        group = group.sort_values(["model", "d_model", "n_layers", "eval_len"])
        at_train = group[group["eval_len"] == group["train_len"]]
        kinds = at_train["verdict"].map(questions.verdict_kind).value_counts()
        order = [k for k in VERDICT_ORDER if k in kinds] + sorted(set(kinds.index) - set(VERDICT_ORDER))
        controls = ", ".join(sorted({str(c) for c in group["control"] if c})) or "none run"
        groups.append(
            {
                "task": task,
                "params": variant_text(variant),
                "train_len": _int(train_len),
                "control": controls,
                "counts": ", ".join(f"{kinds[k]} {k}" for k in order) or "no outcome at the training length",
                "n_rows": len(group),
                "rows": verdict_rows(group),
            }
        )
    return groups


def _int(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def undertrained_items(table: pd.DataFrame) -> list[dict]:
    """One entry per undertrained training (its extrapolation rows share it): model, task, lengths,
    the verdict and the ``--set`` line that trains twice as long."""
    items = {}
    if table.empty:
        return []
    for _, row in table[table["undertrained"]].iterrows():
        key = (row["task"], row["task_variant"], row["model"], row["d_model"], row["n_layers"], row["train_len"])
        items.setdefault(
            key,
            {
                "model": row["model"],
                "task": row["task"],
                "train_len": _int(row["train_len"]),
                "d_model": _int(row["d_model"]),
                "verdict": row["verdict"],
                "set": row["train_longer"] or "(no budget recorded)",
            },
        )
    return list(items.values())


def headline_verdicts(outcomes: pd.DataFrame) -> list[dict]:
    """Per (task, training length), at the training length: the models of each verdict kind
    (solved, fails, undertrained, inconclusive ...), for the report's headline; ``outcomes``: the
    analysis's verdict table."""
    table = verdict_table(outcomes)
    if table.empty:
        return []
    table = table[table["eval_len"] == table["train_len"]]
    out = []
    for (task, train_len), group in table.groupby(["task", "train_len"], sort=True):
        kinds, sets = {}, {}
        for _, row in group.iterrows():
            kind = questions.verdict_kind(row["verdict"])
            entry = kinds.setdefault(kind, [])
            name = row["model"] if group["n_layers"].nunique() < 2 else f"{row['model']} ({_int(row['n_layers'])}L)"
            if name not in entry:
                entry.append(name)
            if row["train_longer"] and row["train_longer"] not in sets.setdefault(kind, []):
                sets[kind].append(row["train_longer"])
        order = [kind for kind in VERDICT_ORDER if kind in kinds] + sorted(set(kinds) - set(VERDICT_ORDER))
        out.append(
            {
                "task": task,
                "train_len": _int(train_len),
                "kinds": [
                    {
                        "kind": kind,
                        "models": ", ".join(kinds[kind]),
                        "css": VERDICT_CSS.get(kind, ""),
                        "sets": sets.get(kind, []),
                    }
                    for kind in order
                ],
            }
        )
    return out


def regime_notes(records: pd.DataFrame) -> dict:
    """task -> the notes the report shows under its results: MQAR where keys recur in the filler
    (:func:`suite.analysis.regimes.filler_key_rates`), ListOps's measured majority class."""
    notes: dict = {}
    for fact in regimes.filler_key_rates(records):
        rate = (
            _percent(fact["rate"])
            if fact["high"] - fact["low"] < 0.005
            else f"{_percent(fact['low'])}-{_percent(fact['high'])}"
        )
        notes.setdefault(fact["task"], []).append(
            f"keys recur in the filler in {rate} of queries at vocabulary {fact['vocab_size']} (Zoology's regime, "
            f"V = {regimes.ZOOLOGY_VOCAB_SIZE}: {_percent(regimes.ZOOLOGY_FILLER_KEY_RATE)}): not comparable "
            "with published MQAR"
        )
    cells = questions.accuracy_records(records)
    if len(cells) and "task_diagnostics" in cells:
        for task, group in cells.groupby("task"):
            rates = [
                facts["majority_class_rate"]
                for facts in group["task_diagnostics"]
                if isinstance(facts, dict) and isinstance(facts.get("majority_class_rate"), (int, float))
            ]
            if rates:
                notes.setdefault(task, []).append(
                    f"chance is the measured majority class: {_percent(min(rates))}"
                    + ("" if max(rates) - min(rates) < 0.005 else f"-{_percent(max(rates))}")
                    + " of test answers are the most frequent one (the task's uniform chance would understate it)"
                )
    return notes


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2g}%"


def questions_section(analysis: RunAnalysis, palette: dict | None = None) -> str:
    """The section's body (rendered by ``templates/questions.html.j2``, which escapes every value):
    undertrained trainings with the line that trains them longer, task-regime notes, verdicts,
    extrapolation figure, recall vs state figure (whichever apply); ``""`` when the run has no
    accuracy cells. ``analysis``: the run's :class:`suite.analysis.run_analysis.RunAnalysis`."""
    if analysis.outcomes.empty:
        return ""
    table = verdict_table(analysis.outcomes)
    figures = [
        {"title": title, "png": png, "alt": alt}
        for title, png, alt in (
            ("Length extrapolation", extrapolation_figure(table, palette), "accuracy vs evaluation length"),
            ("Recall vs state size", recall_state_figure(table, palette=palette), "MQAR accuracy vs state bytes"),
        )
        if png
    ]
    return render(
        "questions.html.j2",
        solved=f"{questions.SOLVED_ACCURACY:g}",
        matching=questions.matching_used(analysis.records),
        headers=VERDICT_HEADERS,
        groups=verdict_groups(table),
        undertrained=undertrained_items(table),
        notes=regime_notes(analysis.records),
        figures=figures,
    )


def questions_report_section(inputs):
    """The report's section builder (see :func:`suite.report.html.section_builders`)."""
    body = questions_section(inputs.analysis, inputs.palette)
    return Section("questions", "Which family solves what", body) if body else None
