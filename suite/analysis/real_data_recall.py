"""Where in the window a language model loses, and on which tokens, against attention.

:func:`loss_by_position`: each model's test loss at every position of the window, the mean over
seeds.

:func:`recall_table`: the recall split of :mod:`suite.measure.lm_metrics` per model (seed means:
``recall_loss`` on tokens whose n-gram and next character occurred earlier in the window,
``other_loss`` elsewhere, ``recall_fraction``), and each model's gap to the *control* at the same
setting: ``recall_gap = recall_loss - control's recall_loss``, ``other_gap`` likewise, and
``gap_difference = recall_gap - other_gap`` (positive: the model falls behind attention more where the
answer stands in the window). The control is the run's pure attention model, as the verdicts' control
for recall (:func:`suite.analysis.layers.plain_family` is ``transformer``: a transformer, or a stack of
transformer layers only); the model named ``transformer`` when several qualify.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.analysis.missing import is_present
from suite.analysis.real_data import CONTROL_FAMILY, SETTING, _groups, _mean
from suite.analysis.tables import join_distinct

POSITION_COLUMNS = (*SETTING, "model", "n_ok", "loss_by_position")
RECALL_COLUMNS = (
    *SETTING,
    "model",
    "family",
    "recall_ngram",
    "recall_fraction",
    "recall_loss",
    "other_loss",
    "control",
    "recall_gap",
    "other_gap",
    "gap_difference",
)


def loss_by_position(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per language model and setting, the mean over seeds of ``loss_by_position`` (the seeds whose
    curve has the most common length; positions rounded to 4 decimals)."""
    rows = []
    for key, group in _groups(seeds):
        curves = [list(c) for c in group["_loss_by_position"] if isinstance(c, (list, tuple)) and len(c)]
        if not curves:
            continue
        lengths = pd.Series([len(c) for c in curves])
        length = int(lengths.mode().iloc[0])
        kept = [c for c in curves if len(c) == length]
        mean = [round(math.fsum(float(c[i]) for c in kept) / len(kept), 4) for i in range(length)]
        rows.append({**dict(zip([*SETTING, "model"], key)), "n_ok": len(kept), "loss_by_position": mean})
    return pd.DataFrame(rows, columns=list(POSITION_COLUMNS))


def _control(models: list[dict]) -> dict | None:
    """The setting's pure attention model's row (see the module docstring), or None."""
    attention = sorted((row for row in models if row["family"] == CONTROL_FAMILY), key=lambda row: str(row["model"]))
    named = [row for row in attention if row["model"] == CONTROL_FAMILY]
    return (named or attention or [None])[0]


def recall_table(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per language model and setting, the recall split (seed means) and the gaps to the control:
    :data:`RECALL_COLUMNS`."""
    settings: dict = {}
    for key, group in _groups(seeds):
        parts = list(group["_recall"])
        settings.setdefault(key[:-1], []).append(
            {
                **dict(zip([*SETTING, "model"], key)),
                "family": join_distinct(group["family"]),
                "recall_ngram": join_distinct(str(int(p[0])) for p in parts if is_present(p[0])),
                "recall_fraction": _mean(p[1] for p in parts),
                "recall_loss": _mean(p[2] for p in parts),
                "other_loss": _mean(p[3] for p in parts),
            }
        )
    rows = []
    for models in settings.values():
        control = _control(models)
        for row in models:
            if control is not None:
                recall_gap = row["recall_loss"] - control["recall_loss"]
                other_gap = row["other_loss"] - control["other_loss"]
                row.update(
                    control=control["model"],
                    recall_gap=recall_gap,
                    other_gap=other_gap,
                    gap_difference=recall_gap - other_gap,
                )
            rows.append(row)
    return pd.DataFrame(rows, columns=list(RECALL_COLUMNS))
