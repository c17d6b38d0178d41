"""Analysis values as JSON: numbers stay numbers, a missing value (:func:`suite.analysis.missing.is_missing`)
is ``null`` (JSON has no NaN), numpy scalars become Python's, tuples become lists."""

from __future__ import annotations

import numpy as np
import pandas as pd

from suite.analysis.missing import is_missing


def json_value(value):
    """``value`` as a JSON-serialisable value (recursively for lists, tuples and dicts)."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_value(v) for v in value]
    if isinstance(value, pd.Series):
        return json_value(value.to_dict())
    if is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (int, str)):
        return value
    return str(value)


def json_rows(frame: pd.DataFrame) -> list[dict]:
    """One JSON object per row of ``frame``, its columns as keys."""
    columns = [str(c) for c in frame.columns]
    return [
        {column: json_value(value) for column, value in zip(columns, row)}
        for row in frame.itertuples(index=False, name=None)
    ]
