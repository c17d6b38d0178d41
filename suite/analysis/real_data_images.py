"""Classification on a data set (:func:`classification_table`): per model, the seed-mean accuracy with
the interval of :func:`suite.analysis.stats.seed_interval`, stop reasons, steps trained, the best
step and the seconds to it.
"""

from __future__ import annotations


import pandas as pd

from suite.analysis.stats import seed_interval
from suite.analysis.tables import join_distinct
from suite.analysis.real_data import MODEL_COLUMNS, SETTING, classification_cells
from suite.analysis.real_data import (
    _family,
    _groups,
    _mean,
    _median,
    _seconds_at,
    _seeds,
    _stops,
)

CLASSIFICATION_COLUMNS = (
    *MODEL_COLUMNS,
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "ci_method",
    "chance_accuracy",
    "stop_reasons",
    "steps_trained",
    "max_steps",
    "steps_to_best",
    "seconds_to_best",
)


def classification_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per model and setting of a data-set classification task: :data:`CLASSIFICATION_COLUMNS`."""
    cells = classification_cells(records)
    ok = cells[cells["status"] == "ok"] if len(cells) else cells
    if ok.empty:
        return pd.DataFrame(columns=list(CLASSIFICATION_COLUMNS))
    ok = ok.assign(
        family_name=[_family(row) for _, row in ok.iterrows()],
        seconds_to_best=[_seconds_at(c, s) for c, s in zip(ok["valid_curve"], ok["best_step"])],
    )
    rows = []
    for key, group in _groups(ok):
        interval = seed_interval(
            group["accuracy"], group["n_scored"], zip(group["accuracy_ci_low"], group["accuracy_ci_high"])
        )
        rows.append(
            {
                **dict(zip([*SETTING, "model"], key)),
                "family": join_distinct(group["family_name"]),
                "backend": join_distinct(group["backend"]),
                "params": group["params"].dropna().max(),
                "n_ok": len(group),
                "seeds": _seeds(group["seed"]),
                "accuracy": interval.mean,
                "accuracy_ci_low": interval.low,
                "accuracy_ci_high": interval.high,
                "ci_method": interval.method,
                "chance_accuracy": _mean(group["chance_accuracy"]),
                "stop_reasons": _stops(group["stop_reason"]),
                "steps_trained": _median(group["steps_trained"]),
                "max_steps": pd.to_numeric(group["max_steps"], errors="coerce").max(),
                "steps_to_best": _median(group["best_step"]),
                "seconds_to_best": _median(group["seconds_to_best"]),
            }
        )
    return pd.DataFrame(rows, columns=list(CLASSIFICATION_COLUMNS))
