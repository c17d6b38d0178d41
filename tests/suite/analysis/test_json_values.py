"""suite.analysis.json_values: analysis values as JSON (no NaN, no numpy scalars, lists for tuples)."""

import json
import math

import numpy as np
import pandas as pd

from suite.analysis.json_values import json_rows, json_value


def test_json_value_converts_numpy_missing_and_containers():
    assert json_value(np.int64(3)) == 3 and type(json_value(np.int64(3))) is int
    assert type(json_value(np.float32(0.5))) is float
    assert json_value(np.bool_(True)) is True
    assert json_value(math.nan) is None
    assert json_value(None) is None
    assert json_value((1, np.int32(2))) == [1, 2]
    assert json_value(np.array([1.0, np.nan])) == [1.0, None]
    assert json_value({1: {"a": np.float64(2.0)}}) == {"1": {"a": 2.0}}
    assert json_value(pd.Series({"x": np.int64(1)})) == {"x": 1}
    assert json_value("text") == "text"
    assert json_value(pd.Timestamp("2025-01-01")).startswith("2025-01-01")


def test_json_rows_is_one_object_per_row_and_serialisable():
    frame = pd.DataFrame({"model": ["gru", "mamba"], "accuracy": [0.5, np.nan], 3: [np.int64(1), np.int64(2)]})
    rows = json_rows(frame)
    assert rows == [{"model": "gru", "accuracy": 0.5, "3": 1}, {"model": "mamba", "accuracy": None, "3": 2}]
    assert "NaN" not in json.dumps(rows, allow_nan=False)
    assert json_rows(frame.iloc[:0]) == []
