"""Argument types and the parser class every command shares."""

from __future__ import annotations

import argparse
import re


def csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def csv_ints(text: str) -> list[int]:
    try:
        values = [int(item) for item in csv_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def csv_positive_ints(text: str) -> list[int]:
    values = csv_ints(text)
    if any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"lengths must be positive integers, got {text!r}")
    return values


def csv_positive_floats(text: str) -> list[float]:
    try:
        values = [float(item) for item in csv_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 1e-3,3e-3, got {text!r}") from None
    if not values or any(not value > 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers like 1e-3,3e-3, got {text!r}")
    return values


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (what is wrong, where to look) and exit code 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(text: str) -> int:
    """``2GiB``, ``512MiB``, ``1.5GB``, ``1000000`` → bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    unit = match and match.group(2).lower()
    if not match or unit not in BYTE_UNITS or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a size like 2GiB or 512MiB, got {text!r}")
    return int(float(match.group(1)) * BYTE_UNITS[unit])
