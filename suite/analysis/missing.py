"""One answer to "is this value missing?" for every reader of records (analysis and report).

A record field read from JSON, or a cell of a DataFrame built from records, is missing when it is
``None``, a float NaN (Python's or numpy's), ``pd.NA`` or ``pd.NaT``. Anything else is present,
including ``0``, ``False``, ``""`` and containers (a list or dict is a value, never "missing" as a
whole). Before this module the report, the verdicts and the statistics each had their own test,
and they disagreed on ``pd.NA``.
"""

from __future__ import annotations

import math
import sys


def is_missing(value) -> bool:
    """True for None, NaN (float or numpy float), ``pd.NA``, ``pd.NaT`` and numpy's NaT; False otherwise.

    pandas and numpy are not imported here (:mod:`suite.analysis.stats` stays light for the training
    loop): a value can only be one of theirs when they are already loaded."""
    if value is None:
        return True
    if isinstance(value, float):  # numpy.float64 is a float subclass
        return math.isnan(value)
    pandas = sys.modules.get("pandas")
    if pandas is not None and (value is pandas.NA or value is pandas.NaT):
        return True
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.floating):
        return bool(numpy.isnan(value))
    if numpy is not None and isinstance(value, (numpy.datetime64, numpy.timedelta64)):
        return bool(numpy.isnat(value))
    return False


def is_present(value) -> bool:
    """``not is_missing(value)``."""
    return not is_missing(value)
