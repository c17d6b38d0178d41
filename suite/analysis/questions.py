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
- how training ended (:data:`LEARNING_COLUMNS`, from the early-stopping fields
  of :mod:`suite.measure.train`): ``stop_reasons`` (the distinct
  ``stop_reason`` of the ok seeds, in :data:`STOP_REASONS` order),
  ``n_stop_recorded`` (ok seeds that recorded one: older records did not),
  ``rising_at`` (``max_steps`` when some seed stopped there while still
  rising, see :func:`rising_at_budget`), ``n_cut_by_time`` (ok seeds the
  wall-clock guard ``time_limit_s`` cut), ``still_rising`` (any seed),
  ``steps_trained`` and ``best_step`` (medians), ``max_steps`` (the largest
  budget of the seeds) with the ``--set`` key that governs it,
  ``time_limit_s``, and ``steps_to_target`` /
  ``seconds_to_target``: medians over the seeds that reached
  ``target_accuracy``, ``n_reached`` of them (seconds exclude evaluation).

:func:`verdicts` — whether each family *solves* each task at each length, and
what a miss means. First, an outcome any ok seed of which the wall-clock guard
``time_limit_s`` cut (``cut_by_time``) is *cut by time*, whatever its accuracy:
where it stopped depends on the machine's speed and load, not on the model, so
it is kept out of every verdict (and a control cut by time makes the failures
it would judge inconclusive). Otherwise a task is solved when the seed-mean
accuracy is at least :data:`SOLVED_ACCURACY` (0.9). A miss is, in this order:

1. *undertrained* when any ok seed stopped at ``max_steps`` while still
   rising: it was cut off while learning, so it says
   nothing about the architecture; the row carries the ``--set`` line that
   trains twice as long (``train_longer``);
2. *inconclusive (no early stopping recorded)* when an ok seed has no
   ``stop_reason`` (records from before early stopping): a fixed budget cannot
   tell a failure from a slow learner;
3. *inconclusive* when the seeds did not all stop on a plateau (e.g. they
   reached a ``target_accuracy`` set below the bar, or stopped at max_steps
   no longer rising before the plateau rule fired);
4. the positive control's own row (:data:`POSITIVE_CONTROLS`: the LSTM for
   state tracking, the transformer for recall) says every failure on the task
   is inconclusive;
5. *fails (plateaued; control solves)* only when the control solved the same
   task at the same lengths under the same budget (same run, width or
   parameter matching, steps) and the family's own 95% interval stays below
   the bar; otherwise *inconclusive*: its interval reaches the bar, the
   control was undertrained or did not solve, or no control ran.

Extrapolation rows (``eval_len != train_len``) come from the same training as
the in-distribution row, so they carry the same stop reasons.

Steps and seconds to the target per family, and their ratios, are
:mod:`suite.analysis.equal_compute`, built on :func:`outcome_table`.
The measured MQAR regime the report warns about is :mod:`suite.analysis.regimes`.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from suite.analysis.layers import plain_family
from suite.analysis.missing import is_missing, is_present
from suite.analysis.stats import seed_interval
from suite.analysis.tables import chance_levels, curve_points, group_status, is_flag_set, join_distinct, latest_records

SOLVED_ACCURACY = 0.9

# The family known to solve each task given enough training: a recurrent network
# for state tracking (it can represent any finite automaton), attention for recall.
STATE_TRACKING_TASKS = ("parity", "cycle-nav", "modular-arith", "s5", "a5", "z60", "majority", "bucket-sort")
RECALL_TASKS = ("mqar", "selective-copy", "needle", "induction", "listops")
POSITIVE_CONTROLS = {
    **{task: "lstm" for task in STATE_TRACKING_TASKS},
    **{task: "transformer" for task in RECALL_TASKS},
}

OUTCOME_KEYS = (
    "task",
    "task_variant",
    "model",
    "family",
    "d_model",
    "n_layers",
    "budget_width",
    "param_match",
    "train_len",
    "eval_len",
)

STOP_REASONS = ("target", "plateau", "max_steps", "time_limit")
BUDGET_STOPS = {"max_steps": "max_steps"}  # stop_reason -> words: the budgets (steps only)
DEFAULT_SET_KEYS = {"max_steps": "train_steps"}
CUT_BY_TIME = "cut by time (the time_limit_s guard stopped training on a loaded or slow machine; rerun)"
LEARNING_COLUMNS = (
    "stop_reasons",
    "n_stop_recorded",
    "rising_at",
    "n_cut_by_time",
    "still_rising",
    "steps_trained",
    "best_step",
    "max_steps",
    "max_steps_key",
    "time_limit_s",
    "target_accuracy",
    "steps_to_target",
    "seconds_to_target",
    "n_reached",
)


def _config(value, name, default=None):
    return value.get(name, default) if isinstance(value, dict) else default


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or a column of None where the records never had the field."""
    return frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _numbers(frame: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_column(frame, name), errors="coerce")


def rising_at_budget(stop_reason, still_rising) -> bool:
    """A seed cut off while learning: it stopped at ``max_steps`` and its validation accuracy was
    still rising (``still_rising`` True, or not recorded)."""
    return stop_reason in BUDGET_STOPS and (not is_present(still_rising) or is_flag_set(still_rising))


def _seconds_to_target(record) -> float:
    """The record's ``seconds_to_target``; for a record without it, the seconds of the first curve
    point at or above the target, where the curve has seconds."""
    seconds, target = record.get("seconds_to_target"), record.get("target_accuracy")
    if is_present(seconds):
        return float(seconds)
    if is_present(target) and is_present(record.get("steps_to_target")):
        for _, point_s, accuracy in curve_points(record.get("valid_curve")):
            if point_s is not None and accuracy >= target:
                return float(point_s)
    return math.nan


def _learning_fields(ok: pd.DataFrame) -> dict:
    """The :data:`LEARNING_COLUMNS` of one outcome, over its ok seeds (see the module docstring)."""
    stops = [s if isinstance(s, str) and s else None for s in _column(ok, "stop_reason")]
    recorded = [s for s in stops if s]
    order = list(STOP_REASONS) + sorted(set(recorded) - set(STOP_REASONS))
    rising = {s for s, r in zip(stops, _column(ok, "still_rising")) if rising_at_budget(s, r)}
    budgets = _numbers(ok, "max_steps")
    fallback = ok["train_config"].map(lambda c: _config(c, "steps")) if "train_config" in ok else budgets
    budgets = budgets.fillna(pd.to_numeric(fallback, errors="coerce"))
    reached = ok[_numbers(ok, "steps_to_target").notna()]
    seconds = pd.Series([_seconds_to_target(r) for _, r in reached.iterrows()], dtype=float)
    return dict(
        stop_reasons=", ".join(s for s in order if s in recorded),
        n_stop_recorded=len(recorded),
        rising_at=", ".join(s for s in BUDGET_STOPS if s in rising),
        n_cut_by_time=sum(s == "time_limit" for s in stops),
        still_rising=bool(_column(ok, "still_rising").map(is_flag_set).any()),
        steps_trained=_numbers(ok, "steps_trained").median(),
        best_step=_numbers(ok, "best_step").median(),
        max_steps=budgets.max(),
        max_steps_key=join_distinct(_column(ok, "max_steps_key")),
        time_limit_s=_numbers(ok, "time_limit_s").max(),
        target_accuracy=_numbers(ok, "target_accuracy").max(),
        steps_to_target=_numbers(reached, "steps_to_target").median(),
        seconds_to_target=seconds.median(),
        n_reached=len(reached),
    )


def accuracy_records(records: pd.DataFrame) -> pd.DataFrame:
    """Accuracy records with the grouping columns of :data:`OUTCOME_KEYS` filled in, and
    ``chance_accuracy`` the chance the report shows (:func:`suite.analysis.tables.chance_levels`)."""
    cells = latest_records(records)
    cells = cells[cells["kind"] == "accuracy"].copy()
    if cells.empty:
        return cells.assign(**{key: None for key in OUTCOME_KEYS if key not in cells.columns})
    cells["task_variant"] = cells["task_params"].map(lambda p: json.dumps(p, sort_keys=True) if p else "{}")
    cells["d_model"] = cells["model_config"].map(lambda c: _config(c, "d_model"))
    cells["n_layers"] = cells["model_config"].map(lambda c: _config(c, "n_layers"))  # a depth grid's cells differ
    cells["param_match"] = cells["model_config"].map(lambda c: _config(c, "param_match", "width"))
    # the width the budget was set at: the reference's under --match params, else the cell's own
    cells["budget_width"] = [
        _config(c, "reference_d_model", d) for c, d in zip(cells["model_config"], cells["d_model"])
    ]
    cells["train_len"] = cells["seq_len"]  # an accuracy record's seq_len is its training length
    cells["eval_len"] = cells["eval_len"].fillna(cells["train_len"])
    cells["chance_accuracy"] = chance_levels(cells)
    cells["plain_family"] = [  # transformer*4 is a transformer: a control for the run's hybrids
        plain_family({"family": f, "model_config": c}) for f, c in zip(cells["family"], cells["model_config"])
    ]
    return cells


def outcome_table(records: pd.DataFrame) -> pd.DataFrame:
    """Seed-aggregated accuracy per (task, variant, model, width, matching, train length, eval length)."""
    cells = accuracy_records(records)
    rows = []
    if cells.empty:
        return pd.DataFrame(columns=list(OUTCOME_KEYS) + list(LEARNING_COLUMNS))
    for key, group in cells.groupby(list(OUTCOME_KEYS), sort=True, dropna=False):
        ok = group[group["status"] == "ok"]
        row = dict(zip(OUTCOME_KEYS, key))
        # each record's own interval is over its scored tokens at its eval_len
        mean, low, high, method = seed_interval(
            ok["accuracy"], ok["n_scored"], zip(ok["accuracy_ci_low"], ok["accuracy_ci_high"])
        )
        last, last_low, last_high, _ = seed_interval(ok["last_accuracy"])  # one seed: no interval
        at_train = ok["state_bytes"].dropna()
        row.update(
            n_runs=len(group),
            n_ok=len(ok),
            accuracy=mean,
            accuracy_ci_low=low,
            accuracy_ci_high=high,
            ci_method=method,
            last_accuracy=last,
            last_accuracy_ci_low=last_low,
            last_accuracy_ci_high=last_high,
            seq_accuracy=ok["seq_accuracy"].mean(),
            chance_accuracy=group["chance_accuracy"].dropna().mean(),
            params=group["params"].dropna().max(),
            state_bytes=at_train.min() if len(at_train) else math.nan,
            lr=join_distinct(ok["lr"].map(lambda v: f"{v:g}" if pd.notna(v) else None)),
            seeds=", ".join(str(int(s)) for s in sorted(ok["seed"].dropna().unique())),
            backend=join_distinct(ok["backend"]),
            positional_encoding=join_distinct(ok["positional_encoding"]),
            plain_family=group["plain_family"].iloc[0],
            status=group_status(group["status"]),
            **_learning_fields(ok),
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    # state size is that after train_len tokens: take it from the in-distribution rows of the same cell
    at_train_len = table[table["eval_len"] == table["train_len"]]
    cell_keys = [k for k in OUTCOME_KEYS if k != "eval_len"]
    sizes = {tuple(r[k] for k in cell_keys): r["state_bytes"] for _, r in at_train_len.iterrows()}
    table["state_bytes"] = [sizes.get(tuple(r[k] for k in cell_keys), r["state_bytes"]) for _, r in table.iterrows()]
    return table


def _split(text) -> list[str]:
    return [part for part in str(text).split(", ") if part] if isinstance(text, str) else []


def _whole(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:g}"


def train_longer(row) -> str:
    """The ``--set`` assignment that trains an undertrained outcome twice as long: twice the
    recorded ``max_steps`` under ``max_steps_key``, when some seed was still rising at it; ``""``
    for none."""
    parts = []
    for budget, value_column, key_column in (("max_steps", "max_steps", "max_steps_key"),):
        value = row.get(value_column)
        if budget in _split(row.get("rising_at")) and is_present(value):
            key = (_split(row.get(key_column)) or [DEFAULT_SET_KEYS[budget]])[0]
            parts.append(f"--set {key}={_whole(2 * float(value))}")
    return " ".join(parts)


def _own_miss(row) -> str | None:
    """Rules 1-3 of the module docstring: what a miss says about the family's own training
    (None: every seed plateaued, so the control decides)."""
    rising = _split(row.get("rising_at"))
    if rising:
        return f"undertrained (still rising at {' and at '.join(BUDGET_STOPS[b] for b in rising)})"
    recorded = row.get("n_stop_recorded")
    if not is_present(recorded) or recorded < row["n_ok"]:
        return "inconclusive (no early stopping recorded)"
    stops = _split(row.get("stop_reasons"))
    if stops == ["target"]:
        target = row.get("target_accuracy")
        shown = f" {target:g}" if is_present(target) else ""
        return f"inconclusive (stopped at its target accuracy{shown}, below the bar)"
    if stops != ["plateau"]:
        return f"inconclusive (stopped on {' and '.join(stops)}: not a plateau)"
    return None


def _family_of(table: pd.DataFrame) -> pd.Series:
    """Each row's family as a control (``plain_family``: a uniform stack counts as its family)."""
    return table["plain_family"].fillna(table["family"]) if "plain_family" in table else table["family"]


def _control_rows(table: pd.DataFrame, row, control) -> pd.DataFrame:
    same = table[_family_of(table) == control]
    for column in ("task", "task_variant", "budget_width", "n_layers", "param_match", "train_len", "eval_len"):
        if column in table:  # n_layers: tables built before depth grids had no such column
            same = same[(same[column] == row[column]) | (same[column].isna() & pd.isna(row[column]))]
    return same


def _verdict(row, control, same: pd.DataFrame) -> str:
    control_acc = same["accuracy"].max() if len(same) else math.nan
    if row["n_ok"] == 0:
        return f"not run ok ({row['status']})"
    if row.get("n_cut_by_time"):
        return CUT_BY_TIME
    if row["solved"]:
        return "solved"
    own = _own_miss(row)
    if own is not None:
        return own
    own_family = row.get("plain_family") if is_present(row.get("plain_family")) else row["family"]
    if own_family == control:
        return "control fails (plateaued): failures on this task are inconclusive"
    if control is None or not len(same) or is_missing(control_acc):
        return "inconclusive (no control run)"
    if same["cut_by_time"].any():
        return "inconclusive (control cut by time)"
    if control_acc >= SOLVED_ACCURACY:
        if row.get("accuracy_ci_high", 0.0) >= SOLVED_ACCURACY:
            return "inconclusive (its 95% interval reaches the bar)"
        return "fails (plateaued; control solves)"
    if same["undertrained"].any():
        return "inconclusive (control undertrained)"
    return "inconclusive (control did not solve)"


def verdicts(outcomes: pd.DataFrame) -> pd.DataFrame:
    """``outcomes`` with ``solved`` (bool), ``undertrained`` (bool: a miss some seed of which was
    still rising at a budget), ``train_longer`` (:func:`train_longer`), ``control`` (the task's
    positive control family), ``control_accuracy`` and ``verdict`` (the rules of the module
    docstring): ``solved``, ``fails (plateaued; control solves)``, ``undertrained (still rising at
    max_steps)`` / ``(... at the time budget)``, ``inconclusive (...)`` with its reason,
    ``control fails (plateaued): ...`` (the control's own row) or ``not run ok (status)``."""
    if outcomes.empty:
        return outcomes.assign(
            cut_by_time=[], solved=[], undertrained=[], train_longer=[], control=[], control_accuracy=[], verdict=[]
        )
    table = outcomes.copy()
    cut = table["n_cut_by_time"] if "n_cut_by_time" in table else pd.Series(0, index=table.index)
    table["cut_by_time"] = pd.to_numeric(cut, errors="coerce").fillna(0) > 0
    table["solved"] = (table["accuracy"] >= SOLVED_ACCURACY) & ~table["cut_by_time"]
    rising = table["rising_at"] if "rising_at" in table else pd.Series("", index=table.index)
    table["undertrained"] = (
        ~table["solved"] & ~table["cut_by_time"] & (table["n_ok"] > 0) & rising.map(lambda r: bool(_split(r)))
    )
    table["train_longer"] = [
        train_longer(row) if under else "" for (_, row), under in zip(table.iterrows(), table["undertrained"])
    ]
    controls, control_accuracy, verdict = [], [], []
    for _, row in table.iterrows():
        control = POSITIVE_CONTROLS.get(row["task"])
        same = _control_rows(table, row, control)
        controls.append(control)
        control_accuracy.append(same["accuracy"].max() if len(same) else math.nan)
        verdict.append(_verdict(row, control, same))
    table["control"] = controls
    table["control_accuracy"] = control_accuracy
    table["verdict"] = verdict
    return table


def verdict_kind(verdict: str) -> str:
    """The verdict's kind: ``solved``, ``fails``, ``undertrained``, ``cut by time``, ``inconclusive``,
    ``control fails`` or ``not run ok`` (how the report groups and styles verdicts)."""
    for kind in ("solved", "fails", "undertrained", "cut by time", "control fails", "not run ok"):
        if str(verdict).startswith(kind):
            return kind
    return "inconclusive"


def matching_used(records: pd.DataFrame) -> str:
    """How the run sized the families: ``width`` (one d_model), ``params`` or both."""
    cells = accuracy_records(records)
    if cells.empty:
        return "none (no accuracy cells)"
    return ", ".join(sorted({str(value) for value in cells["param_match"]}))
