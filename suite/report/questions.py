"""Report sections for the questions of :mod:`suite.analysis.questions`: length
extrapolation, recall vs state size, and which families solve which task
(with the positive control that makes a failure a failure, how each training
stopped, and the undertrained misses listed apart from failures with the
``--set`` line that trains them twice as long), the verdict summary of the
headline (:func:`headline_verdicts`) and the notes on a task's measured regime
(:func:`regime_notes`: MQAR keys recurring in the filler, ListOps's majority
class) shown under its results.

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
from suite.report.format import NO_VALUE, Cell, _missing
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
    panels = list(outcomes.groupby(["task", "task_variant", "train_len", "param_match", "budget_width", "n_layers"],
                                   sort=True))
    palette = model_palette(outcomes["model"])
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


VERDICT_HEADERS = ["task", "variant", "model", "d_model", "layers", "train len", "eval len", "seeds", "accuracy", "95% CI",
                   "last-position accuracy", "lr", "stopped", "steps (of max)", "control", "control accuracy",
                   "verdict", "train longer"]
VERDICT_CSS = {"fails": "status", "not run ok": "status", "undertrained": "undertrained"}


def _stopped(row) -> str:
    """How training ended, over the seeds: the stop reasons, and whether a seed was still rising."""
    reasons = row.get("stop_reasons") or "not recorded"
    return reasons + ("; still rising" if row.get("still_rising") else "")


def _steps(row) -> str:
    trained, budget = row.get("steps_trained"), row.get("max_steps")
    if _missing(trained):
        return NO_VALUE
    return f"{_int(trained)}" + ("" if _missing(budget) else f" / {_int(budget)}")


def verdict_table(records: pd.DataFrame) -> pd.DataFrame:
    """:func:`suite.analysis.questions.verdicts` of the run's outcomes, in the report's order."""
    table = questions.verdicts(questions.outcome_table(records))
    return table.sort_values(["task", "task_variant", "train_len", "eval_len", "model"]) if len(table) else table


def verdict_rows(table: pd.DataFrame) -> list[list[Cell]]:
    """Which family solves which task at which length, with how training ended, the control's
    accuracy, the verdict and the ``--set`` line that trains an undertrained family longer: one row
    of cells per outcome; a failed or not-run row is styled as a status, an undertrained one apart."""
    rows = []
    for _, row in table.iterrows():
        interval = (NO_VALUE if pd.isna(row["accuracy_ci_low"]) else
                    f"[{row['accuracy_ci_low']:.3f}, {row['accuracy_ci_high']:.3f}] ({row['ci_method']})")
        values = [row["task"], row["task_variant"], row["model"], row["d_model"], row["n_layers"], row["train_len"],
                  row["eval_len"],
                  row["seeds"], _format(row["accuracy"]), interval, _format(row["last_accuracy"]), row["lr"],
                  _stopped(row), _steps(row), row["control"] or NO_VALUE, _format(row["control_accuracy"]),
                  row["verdict"], row["train_longer"] or ""]
        css = VERDICT_CSS.get(questions.verdict_kind(row["verdict"]), "")
        rows.append([Cell(str(_int(value)), css) for value in values])
    return rows


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
        items.setdefault(key, {"model": row["model"], "task": row["task"], "train_len": _int(row["train_len"]),
                               "d_model": _int(row["d_model"]), "verdict": row["verdict"],
                               "set": row["train_longer"] or "(no budget recorded)"})
    return list(items.values())


def headline_verdicts(records: pd.DataFrame) -> list[dict]:
    """Per (task, training length), at the training length: the models of each verdict kind
    (solved, fails, undertrained, inconclusive ...), for the report's headline."""
    table = verdict_table(records)
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
        order = ("solved", "fails", "undertrained", "inconclusive", "control fails", "not run ok")
        out.append({"task": task, "train_len": _int(train_len),
                    "kinds": [{"kind": kind, "models": ", ".join(kinds[kind]), "css": VERDICT_CSS.get(kind, ""),
                               "sets": sets.get(kind, [])} for kind in order if kind in kinds]})
    return out


def regime_notes(records: pd.DataFrame) -> dict:
    """task -> the notes the report shows under its results: MQAR where keys recur in the filler
    (:func:`suite.analysis.questions.filler_key_rates`), ListOps's measured majority class."""
    notes: dict = {}
    for fact in questions.filler_key_rates(records):
        rate = _percent(fact["rate"]) if fact["high"] - fact["low"] < 0.005 else \
            f"{_percent(fact['low'])}-{_percent(fact['high'])}"
        notes.setdefault(fact["task"], []).append(
            f"keys recur in the filler in {rate} of queries at vocabulary {fact['vocab_size']} (Zoology's regime, "
            f"V = {questions.ZOOLOGY_VOCAB_SIZE}: {_percent(questions.ZOOLOGY_FILLER_KEY_RATE)}): not comparable "
            "with published MQAR")
    cells = questions.accuracy_records(records)
    if len(cells) and "task_diagnostics" in cells:
        for task, group in cells.groupby("task"):
            rates = [facts["majority_class_rate"] for facts in group["task_diagnostics"]
                     if isinstance(facts, dict) and isinstance(facts.get("majority_class_rate"), (int, float))]
            if rates:
                notes.setdefault(task, []).append(
                    f"chance is the measured majority class: {_percent(min(rates))}"
                    + ("" if max(rates) - min(rates) < 0.005 else f"-{_percent(max(rates))}")
                    + " of test answers are the most frequent one (the task's uniform chance would understate it)")
    return notes


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2g}%"


def questions_section(records: pd.DataFrame) -> str:
    """The section's body (rendered by ``templates/questions.html.j2``, which escapes every value):
    undertrained trainings with the line that trains them longer, task-regime notes, verdicts,
    extrapolation figure, recall vs state figure (whichever apply); ``""`` when the run has no
    accuracy cells."""
    if questions.outcome_table(records).empty:
        return ""
    table = verdict_table(records)
    figures = [{"title": title, "png": png, "alt": alt} for title, png, alt in (
        ("Length extrapolation", extrapolation_figure(records), "accuracy vs evaluation length"),
        ("Recall vs state size", recall_state_figure(records), "MQAR accuracy vs state bytes")) if png]
    return render("questions.html.j2", solved=f"{questions.SOLVED_ACCURACY:g}",
                  matching=questions.matching_used(records), headers=VERDICT_HEADERS, rows=verdict_rows(table),
                  undertrained=undertrained_items(table), notes=regime_notes(records), figures=figures)


def questions_report_section(inputs):
    """The report's section builder (see :func:`suite.report.html.section_builders`)."""
    body = questions_section(inputs.records)
    return Section("questions", "Which family solves what", body) if body else None
