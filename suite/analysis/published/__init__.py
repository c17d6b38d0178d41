"""Published numbers as data: what the papers report, with citation, setting,
hardware and how sure the number is (``feng2024.toml``).

The report overlays these on measured results; nothing here is measured. A
setting whose published value could not be confirmed carries no ``value`` but a
``reason``, and is shown as such rather than as a number.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

PAPER_FILE = Path(__file__).with_name("feng2024.toml")


@cache
def load(path: str | None = None) -> dict:
    """The published-numbers file as a dict (``version``, ``source``, ``speed``, ``memory``, ...)."""
    with open(path or PAPER_FILE, "rb") as handle:
        data = tomllib.load(handle)
    if not isinstance(data.get("version"), int):
        raise ValueError(f"{path or PAPER_FILE}: no integer 'version'")
    return data


def paper_speedups() -> dict:
    """``{(model, baseline): {seq_len: speed-up}}`` as published."""
    out: dict = {}
    for row in load()["speed"]["speedup"]:
        out.setdefault((row["model"], row["baseline"]), {})[int(row["seq_len"])] = float(row["value"])
    return out
