"""How the report writes numbers and table cells: plain text only (templates escape it)."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from suite.analysis.missing import is_missing
from suite.analysis.tables import is_flag_set

NO_VALUE = "—"


class Cell(NamedTuple):
    """A table cell: plain text (escaped when rendered) and a CSS class."""

    text: str
    css: str = ""


def format_count(value) -> str:
    return NO_VALUE if is_missing(value) else f"{int(value):,}"


def format_accuracy(value) -> str:
    return NO_VALUE if is_missing(value) else f"{value:.3f}"


def format_rate(value) -> str:
    """Tokens per second with three significant digits (``12,300``, ``1.23M``)."""
    if is_missing(value):
        return NO_VALUE
    for threshold, suffix in ((1e9, "G"), (1e6, "M")):
        if abs(value) >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def format_number(value) -> str:
    """Three significant digits (milliseconds, seconds, losses)."""
    return NO_VALUE if is_missing(value) else f"{value:.3g}"


def format_length(value) -> str:
    """A sequence length, batch size or seed: a plain integer."""
    return NO_VALUE if is_missing(value) else str(int(value))


def format_bytes(value) -> str:
    """Binary units (KiB, MiB, GiB)."""
    if is_missing(value):
        return NO_VALUE
    for power, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
        if abs(value) >= 1024**power:
            return f"{value / 1024**power:.3g} {unit}"
    return f"{int(value)} B"


def format_value(metric: str, value) -> str:
    """A compared value of ``metric`` (``suite compare``): accuracy to 3 decimals, bytes in MiB,
    ratios with an ``x``, other numbers with 3 significant digits; a string as it is."""
    if isinstance(value, str):
        return value
    if is_missing(value):
        return NO_VALUE
    if metric == "accuracy":
        return f"{value:.3f}"
    if metric.endswith("_bytes"):
        return f"{value / 2**20:.2f} MiB"
    if metric.endswith("_ratio"):
        return f"{value:.3f}x"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def format_change(metric: str, change) -> str:
    """A compared change: accuracy in points, anything else in percent; empty where there is none."""
    if is_missing(change):
        return ""
    return f"{change:+.1f} pt" if metric == "accuracy" else f"{change:+.1f}%"


def value_cell(value, formatter) -> Cell:
    """A numeric cell; a string in a numeric column is a status text and is shown as one."""
    if isinstance(value, str):
        return Cell(value, "status")
    return Cell(formatter(value), "num")


NOISY_MARK = "~"  # before a timing whose cell was flagged noisy (suite.measure.timing): read it as approximate


def timed_cell(value, formatter, noisy) -> Cell:
    """A timing cell: like :func:`value_cell`, marked ``~`` and styled apart when ``noisy``."""
    cell = value_cell(value, formatter)
    if is_flag_set(noisy) and cell.css == "num" and cell.text != NO_VALUE:
        return Cell(NOISY_MARK + cell.text, "num noisy")
    return cell


def text_of(value) -> str:
    return "" if is_missing(value) else str(value)


def cells(rows) -> list[list[Cell]]:
    """Rows of values/Cells → rows of Cells (plain values become text cells)."""
    return [[c if isinstance(c, Cell) else Cell(text_of(c)) for c in row] for row in rows]


def distinct(records: pd.DataFrame, column: str) -> str:
    """The column's distinct values, comma-separated (whole floats shown as integers)."""
    if column not in records:
        return ""
    values = (int(v) if isinstance(v, float) and v.is_integer() else v for v in records[column].dropna())
    return ", ".join(str(v) for v in dict.fromkeys(values))
