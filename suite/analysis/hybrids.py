"""Hybrid stacks: where attention sits in a stack, what it buys in accuracy, what it costs in state
and throughput (the report's "Hybrids" section, ``analysis.json``'s ``hybrids``).

A run has hybrids when some accuracy record is a mixed stack (family ``stack``, :mod:`suite.stacks`);
then every accuracy model of the run is described by its layers, bottom first: a stack's are its
record's ``model_config["layers"]``, a plain model's are ``n_layers`` of its family. For each layer
this module reads the family (the text before ``:`` or ``[``) and a sliding window (``window=W`` in
the layer's options); an *attention layer* is a ``transformer`` layer, *full* without a window.

- :func:`hybrid_table`: one row per model, task and scored length: the stack's shape (attention
  layers, where they sit, windows, the other family), parameters, accuracy with its interval, the
  verdict of :mod:`suite.analysis.questions` (whose control for recall is the run's pure attention
  stack), how training stopped, the decode state in bytes *at the scored length* (each record's own
  ``state_bytes``: a full attention layer's KV cache grows with it, a window's and a recurrence's do
  not), and training throughput from the run's perf cell at the training length (or the nearest
  perf length, said in ``throughput_seq_len``).
- :func:`cheapest_solvers`: per task and training length, among the stacks whose accuracy at the
  training length reaches :data:`suite.analysis.questions.SOLVED_ACCURACY`, the one with the least
  decode state and the one with the most training tokens per second; "none" when no stack solves it.

Accuracies are seed means with the interval of :func:`suite.analysis.stats.seed_interval`; one seed
gives the Wilson interval over its scored tokens.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.analysis.layers import STACK_FAMILY, layers_of, shape_of
from suite.analysis.missing import is_present
from suite.analysis.questions import SOLVED_ACCURACY
from suite.analysis.stats import seed_interval
from suite.analysis.tables import latest_records

HYBRID_COLUMNS = (
    "task",
    "train_len",
    "eval_len",
    "model",
    "layers",
    "n_layers",
    "other_family",
    "n_attention",
    "attention_at",
    "windows",
    "params",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "n_ok",
    "stop_reasons",
    "steps_trained",
    "verdict",
    "state_bytes",
    "train_tokens_per_s",
    "throughput_seq_len",
)


def has_hybrids(records: pd.DataFrame) -> bool:
    """Whether some accuracy record of the run is a mixed stack."""
    if records.empty or "family" not in records or "kind" not in records:
        return False
    return bool(((records["kind"] == "accuracy") & (records["family"] == STACK_FAMILY)).any())


def _throughput(perf: pd.DataFrame, model: str, seq_len) -> tuple[float, float]:
    """The median training tokens/s of ``model``'s ok perf cells at ``seq_len``, or at the nearest
    perf length; NaNs when it has none."""
    mine = perf[(perf["model"] == model) & perf["train_tokens_per_s"].notna()] if len(perf) else perf
    if mine is None or mine.empty or not is_present(seq_len):
        return math.nan, math.nan
    lengths = mine["seq_len"].astype(float)
    nearest = lengths.iloc[(lengths - float(seq_len)).abs().argsort().iloc[0]]
    return float(mine[lengths == nearest]["train_tokens_per_s"].median()), float(nearest)


def hybrid_table(records: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per model × task × training length × scored length (see the module docstring); empty
    when the run has no mixed stack. ``outcomes`` are :func:`suite.analysis.questions.verdicts`'s."""
    if not has_hybrids(records):
        return pd.DataFrame(columns=list(HYBRID_COLUMNS))
    latest = latest_records(records)
    accuracy = latest[(latest["kind"] == "accuracy") & (latest["status"] == "ok")]
    perf = latest[(latest["kind"] == "perf") & (latest["status"] == "ok")]
    verdicts = {
        (row["task"], row["model"], row["train_len"], row["eval_len"]): row.get("verdict")
        for _, row in outcomes.iterrows()
    }
    rows = []
    for (task, model, train_len, eval_len), group in accuracy.groupby(
        ["task", "model", "seq_len", "eval_len"], sort=True
    ):
        mean, low, high, _ = seed_interval(
            group["accuracy"], group["n_scored"], zip(group["accuracy_ci_low"], group["accuracy_ci_high"])
        )
        tokens_per_s, at_len = _throughput(perf, model, train_len)
        stops = sorted({str(s) for s in group["stop_reason"].dropna()}) if "stop_reason" in group else []
        steps = pd.to_numeric(group.get("steps_trained"), errors="coerce").dropna()
        rows.append(
            {
                "task": task,
                "train_len": int(train_len),
                "eval_len": int(eval_len),
                "model": model,
                **shape_of(layers_of(group.iloc[0].to_dict())),
                "params": group["params"].dropna().max(),
                "accuracy": mean,
                "accuracy_ci_low": low,
                "accuracy_ci_high": high,
                "n_ok": len(group),
                "stop_reasons": ", ".join(stops),
                "steps_trained": float(steps.median()) if len(steps) else math.nan,
                "verdict": verdicts.get((task, model, train_len, eval_len)),
                "state_bytes": pd.to_numeric(group["state_bytes"], errors="coerce").min(),
                "train_tokens_per_s": tokens_per_s,
                "throughput_seq_len": at_len,
            }
        )
    table = pd.DataFrame(rows, columns=list(HYBRID_COLUMNS))
    order = ["task", "train_len", "eval_len", "other_family", "n_attention", "attention_at", "windows", "model"]
    return table.sort_values(order, kind="stable").reset_index(drop=True)


def cheapest_solvers(table: pd.DataFrame) -> pd.DataFrame:
    """Per task and training length: the solving stack (accuracy at the training length at least
    :data:`SOLVED_ACCURACY`) with the least decode state, and the one with the most training
    tokens/s; ``None`` where no stack solves the task."""
    columns = ["task", "train_len", "n_solved", "least_state", "least_state_bytes", "fastest", "fastest_tokens_per_s"]
    rows = []
    at_train = table[table["eval_len"] == table["train_len"]] if len(table) else table
    for (task, train_len), group in at_train.groupby(["task", "train_len"], sort=True):
        solved = group[group["accuracy"] >= SOLVED_ACCURACY]
        small = solved.dropna(subset=["state_bytes"]).sort_values(["state_bytes", "model"])
        fast = solved.dropna(subset=["train_tokens_per_s"]).sort_values(["train_tokens_per_s"], ascending=False)
        rows.append(
            {
                "task": task,
                "train_len": int(train_len),
                "n_solved": len(solved),
                "least_state": small.iloc[0]["model"] if len(small) else None,
                "least_state_bytes": small.iloc[0]["state_bytes"] if len(small) else math.nan,
                "fastest": fast.iloc[0]["model"] if len(fast) else None,
                "fastest_tokens_per_s": fast.iloc[0]["train_tokens_per_s"] if len(fast) else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=columns)
