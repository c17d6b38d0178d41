"""Equal compute: steps and training seconds to the target validation accuracy per family, and how
many times those of minGRU the transformer needed (the paper's "~2.5x more steps").

Built on :func:`suite.analysis.questions.outcome_table`, whose ``steps_to_target`` and
``seconds_to_target`` are medians over the seeds that reached ``target_accuracy`` (``n_reached`` of
``n_ok``); seconds are training seconds only, evaluation excluded.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.analysis.missing import is_present

COMPUTE_KEYS = ("task", "task_variant", "train_len", "budget_width", "n_layers", "param_match")
COMPUTE_COLUMNS = COMPUTE_KEYS + (
    "model",
    "family",
    "target_accuracy",
    "n_ok",
    "n_reached",
    "steps_to_target",
    "seconds_to_target",
    "steps_trained",
    "max_steps",
    "stop_reasons",
)


def equal_compute_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Steps and training seconds to the target validation accuracy per model, at the training
    length, for every outcome whose cells had a ``target_accuracy``: medians over the seeds that
    reached it (``n_reached`` of ``n_ok``), NaN when none did."""
    if outcomes.empty or "target_accuracy" not in outcomes:
        return pd.DataFrame(columns=list(COMPUTE_COLUMNS))
    rows = outcomes[
        (outcomes["eval_len"] == outcomes["train_len"]) & outcomes["target_accuracy"].notna() & (outcomes["n_ok"] > 0)
    ]
    return (
        rows.reindex(columns=list(COMPUTE_COLUMNS)).sort_values(list(COMPUTE_KEYS) + ["model"]).reset_index(drop=True)
    )


def _family_row(group: pd.DataFrame, family: str):
    """The group's row of ``family``: its plain spec (``mingru``) when it ran, else its first spec."""
    mine = group[group["family"] == family].sort_values("model")
    if mine.empty:
        return None
    plain = mine[mine["model"] == family]
    return (plain if len(plain) else mine).iloc[0]


def compute_ratios(table: pd.DataFrame, family: str = "transformer", reference: str = "mingru") -> list[dict]:
    """Per group of :data:`COMPUTE_KEYS` of :func:`equal_compute_table`: ``family``'s median steps
    and seconds to the target over ``reference``'s (``steps_ratio``, ``seconds_ratio``; NaN where
    they cannot be taken), both rows, and ``missing``: why the ratio cannot be said (``"no
    reference"``/``"no family"`` when one did not run, ``"never reached"`` when one reached the
    target in no seed), else None. ``seconds_ratio`` is NaN where seconds were not recorded."""
    out = []
    for key, group in table.groupby(list(COMPUTE_KEYS), sort=True, dropna=False):
        mine, theirs = _family_row(group, family), _family_row(group, reference)
        entry = dict(
            zip(COMPUTE_KEYS, key),
            target_accuracy=group["target_accuracy"].max(),
            family=family,
            reference=reference,
            family_row=mine,
            reference_row=theirs,
            steps_ratio=math.nan,
            seconds_ratio=math.nan,
            missing=None,
        )
        if mine is None and theirs is None:
            continue
        if mine is None or theirs is None:
            entry["missing"] = "no family" if mine is None else "no reference"
        elif not (mine["n_reached"] and theirs["n_reached"]):
            entry["missing"] = "never reached"
        else:
            entry["steps_ratio"] = mine["steps_to_target"] / theirs["steps_to_target"]
            if (
                is_present(mine["seconds_to_target"])
                and is_present(theirs["seconds_to_target"])
                and theirs["seconds_to_target"] > 0
            ):
                entry["seconds_ratio"] = mine["seconds_to_target"] / theirs["seconds_to_target"]
        out.append(entry)
    return out
