"""The questions the suite is asked, answered from a run's records.

Reads records only (pandas and :mod:`suite.analysis.stats`; no torch), like
:mod:`suite.analysis.tables`.

:func:`outcome_table` — one row per (task, task parameters, model, width,
matching, train length, eval length), aggregated over seeds:

- ``accuracy`` / ``last_accuracy``: the mean over ok seeds; the 95% interval
  is Student's t over seeds (``mean ± t_{0.975, n-1} · s / √n``, see
  :func:`suite.analysis.stats.mean_confidence_interval`) when two or more seeds
  succeeded, and the Wilson interval over scored tokens of the one record
  otherwise (``ci_method`` says which). ``last_accuracy`` with one seed has no
  interval.
- ``lr``: the learning rate(s) the cells kept (``--lrs`` picks per seed on the
  validation stream).
- ``state_bytes``: the model's recurrent state (or KV cache) after
  ``train_len`` tokens, batch 1, float32 — the x axis of Zoology's
  "accuracy vs state size" figure.

:func:`verdicts` — whether each family *solves* each task at each length, and
what a failure means. A task is solved when the seed-mean accuracy is at
least :data:`SOLVED_ACCURACY` (0.9). A family that does not solve it is only
said to *fail* when the task's positive control (:data:`POSITIVE_CONTROLS`:
the LSTM for state tracking, the transformer for recall) solved the same task
at the same lengths under the same budget (same run, width or parameter
matching, steps) and the family's own 95% interval stays below the bar;
otherwise the result is *inconclusive*: the budget may simply have been too
small for anyone, or the seeds disagree too much to tell.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from suite.analysis.stats import seed_interval
from suite.analysis.tables import group_status, join_distinct, latest_records

SOLVED_ACCURACY = 0.9

# The family known to solve each task given enough training: a recurrent network
# for state tracking (it can represent any finite automaton), attention for recall.
STATE_TRACKING_TASKS = ("parity", "cycle-nav", "modular-arith", "s5", "a5", "z60", "majority", "bucket-sort")
RECALL_TASKS = ("mqar", "selective-copy", "needle", "induction", "listops")
POSITIVE_CONTROLS = {**{task: "lstm" for task in STATE_TRACKING_TASKS},
                     **{task: "transformer" for task in RECALL_TASKS}}

OUTCOME_KEYS = ("task", "task_variant", "model", "family", "d_model", "budget_width", "param_match", "train_len",
                "eval_len")


def _config(value, name, default=None):
    return value.get(name, default) if isinstance(value, dict) else default


def accuracy_records(records: pd.DataFrame) -> pd.DataFrame:
    """Accuracy records with the grouping columns of :data:`OUTCOME_KEYS` filled in."""
    cells = latest_records(records)
    cells = cells[cells["kind"] == "accuracy"].copy()
    if cells.empty:
        return cells.assign(**{key: None for key in OUTCOME_KEYS if key not in cells.columns})
    cells["task_variant"] = cells["task_params"].map(lambda p: json.dumps(p, sort_keys=True) if p else "{}")
    cells["d_model"] = cells["model_config"].map(lambda c: _config(c, "d_model"))
    cells["param_match"] = cells["model_config"].map(lambda c: _config(c, "param_match", "width"))
    # the width the budget was set at: the reference's under --match params, else the cell's own
    cells["budget_width"] = [_config(c, "reference_d_model", d) for c, d in zip(cells["model_config"],
                                                                                 cells["d_model"])]
    cells["train_len"] = cells["train_len"].fillna(cells["seq_len"])
    cells["eval_len"] = cells["eval_len"].fillna(cells["train_len"])
    return cells


def outcome_table(records: pd.DataFrame) -> pd.DataFrame:
    """Seed-aggregated accuracy per (task, variant, model, width, matching, train length, eval length)."""
    cells = accuracy_records(records)
    rows = []
    if cells.empty:
        return pd.DataFrame(columns=list(OUTCOME_KEYS))
    for key, group in cells.groupby(list(OUTCOME_KEYS), sort=True, dropna=False):
        ok = group[group["status"] == "ok"]
        row = dict(zip(OUTCOME_KEYS, key))
        # each record's own interval is over its scored tokens at its eval_len
        mean, low, high, method = seed_interval(ok["accuracy"], ok["n_scored"],
                                                zip(ok["accuracy_ci_low"], ok["accuracy_ci_high"]))
        last, last_low, last_high, _ = seed_interval(ok["last_accuracy"])  # one seed: no interval
        at_train = ok["state_bytes"].dropna()
        row.update(n_runs=len(group), n_ok=len(ok), accuracy=mean, accuracy_ci_low=low, accuracy_ci_high=high,
                   ci_method=method, last_accuracy=last, last_accuracy_ci_low=last_low,
                   last_accuracy_ci_high=last_high, seq_accuracy=ok["seq_accuracy"].mean(),
                   chance_accuracy=group["chance_accuracy"].dropna().mean(),
                   params=group["params"].dropna().max(),
                   state_bytes=at_train.min() if len(at_train) else math.nan,
                   lr=join_distinct(ok["lr"].map(lambda v: f"{v:g}" if pd.notna(v) else None)),
                   seeds=", ".join(str(int(s)) for s in sorted(ok["seed"].dropna().unique())),
                   backend=join_distinct(ok["backend"]), positional_encoding=join_distinct(ok["positional_encoding"]),
                   status=group_status(group["status"]))
        rows.append(row)
    table = pd.DataFrame(rows)
    # state size is that after train_len tokens: take it from the in-distribution rows of the same cell
    at_train_len = table[table["eval_len"] == table["train_len"]]
    cell_keys = [k for k in OUTCOME_KEYS if k != "eval_len"]
    sizes = {tuple(r[k] for k in cell_keys): r["state_bytes"] for _, r in at_train_len.iterrows()}
    table["state_bytes"] = [sizes.get(tuple(r[k] for k in cell_keys), r["state_bytes"]) for _, r in table.iterrows()]
    return table


def verdicts(outcomes: pd.DataFrame) -> pd.DataFrame:
    """``outcomes`` with ``solved`` (bool), ``control`` (the task's positive control family),
    ``control_accuracy`` and ``verdict``: ``solved``, ``fails (control solves)``,
    ``inconclusive (its 95% interval reaches the bar)``, ``inconclusive (control did not solve)``, ``inconclusive (no control run)``, or
    ``control fails: every failure on this task is inconclusive`` (the control's own row)."""
    if outcomes.empty:
        return outcomes.assign(solved=[], control=[], control_accuracy=[], verdict=[])
    table = outcomes.copy()
    table["solved"] = table["accuracy"] >= SOLVED_ACCURACY
    budget = ["task", "task_variant", "budget_width", "param_match", "train_len", "eval_len"]
    controls, control_accuracy, verdict = [], [], []
    for _, row in table.iterrows():
        control = POSITIVE_CONTROLS.get(row["task"])
        controls.append(control)
        same = table[(table["family"] == control)]
        for column in budget:
            same = same[same[column] == row[column]]
        control_acc = same["accuracy"].max() if len(same) else math.nan
        control_accuracy.append(control_acc)
        if row["n_ok"] == 0:
            verdict.append(f"not run ok ({row['status']})")
        elif row["solved"]:
            verdict.append("solved")
        elif row["family"] == control:
            verdict.append("control fails: failures on this task are inconclusive")
        elif control is None or not len(same) or math.isnan(control_acc):
            verdict.append("inconclusive (no control run)")
        elif control_acc >= SOLVED_ACCURACY and row.get("accuracy_ci_high", 0.0) >= SOLVED_ACCURACY:
            verdict.append("inconclusive (its 95% interval reaches the bar)")
        elif control_acc >= SOLVED_ACCURACY:
            verdict.append("fails (control solves)")
        else:
            verdict.append("inconclusive (control did not solve)")
    table["control"] = controls
    table["control_accuracy"] = control_accuracy
    table["verdict"] = verdict
    return table


def matching_used(records: pd.DataFrame) -> str:
    """How the run sized the families: ``width`` (one d_model), ``params`` or both."""
    cells = accuracy_records(records)
    if cells.empty:
        return "none (no accuracy cells)"
    return ", ".join(sorted({str(value) for value in cells["param_match"]}))
