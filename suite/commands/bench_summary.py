"""What ``bench speed`` prints when it ends: the speed-ups measured in the run, each min-RNN mixer's
step over its own input projections, the scans' bandwidth against a copy, and the subjects that did
not time. Every figure comes from medians taken within one unit (one length and scope, timed
interleaved); a figure from a timing flagged noisy is marked ``~``, as in the report, and a legend
says so.
"""

from __future__ import annotations

import sys

from suite.analysis.tables import is_flag_set
from suite.report.format import NOISY_MARK


def speedups_of(records: list[dict]) -> list[dict]:
    """How many times faster each min-RNN backend is than each baseline, per scope and length,
    from medians taken in this run (:func:`suite.analysis.speed.speedups`)."""
    import pandas as pd

    from suite.analysis.speed import SPEED_COLUMNS, speedups

    frame = pd.DataFrame.from_records(records).reindex(columns=list(SPEED_COLUMNS))
    return speedups(frame).to_dict("records")


def projection_overheads(records: list[dict]) -> list[dict]:
    """Per min-RNN mixer timed at mixer scope: its step median over its projections' median (same unit)."""
    from suite.measure.speed import PROJECTIONS

    ok = [r for r in records if r["status"] == "ok" and r.get("scope") == "mixer" and r.get("train_step_ms")]
    floors = {(r["family"], r["seq_len"]): r["train_step_ms"] for r in ok if r["backend"] == PROJECTIONS}
    return [
        {
            "model": r["model"],
            "seq_len": r["seq_len"],
            "median_ms": r["train_step_ms"],
            "projections_ms": floors[(r["family"], r["seq_len"])],
            "overhead": r["train_step_ms"] / floors[(r["family"], r["seq_len"])],
        }
        for r in ok
        if r["backend"] != PROJECTIONS and (r["family"], r["seq_len"]) in floors
    ]


class Marks:
    """``~`` before a figure whose timing was flagged noisy; remembers whether any figure was marked."""

    def __init__(self, records: list[dict]):
        self.noisy = {(r["model"], r.get("scope"), r["seq_len"]) for r in records if is_flag_set(r.get("timing_noisy"))}
        self.used = False

    def mark(self, noisy: bool) -> str:
        self.used = self.used or bool(noisy)
        return NOISY_MARK if noisy else ""


def print_speedups(ratios: list[dict], marks: Marks, out) -> None:
    print("\nspeed-up (times faster; baseline median / model median, same run):", file=out)
    print(f"  {'scope':<6} {'T':>6}  {'model':<16} {'vs':<10} {'speed-up':>9}", file=out)
    for ratio in ratios:
        speedup = f"{marks.mark(is_flag_set(ratio.get('noisy')))}{ratio['speedup']:.2f}x"
        print(
            f"  {ratio['scope']:<6} {ratio['seq_len']:>6}  {ratio['model']:<16} "
            f"{ratio['baseline'] + ' (' + ratio['baseline_backend'] + ')':<10} {speedup:>9}",
            file=out,
        )


def print_projection_overheads(records: list[dict], marks: Marks, out) -> None:
    floors = projection_overheads(records)
    if not floors:
        return
    print("\nmixer step over its own input projections (forward + backward; 1.0 = the scan costs nothing):", file=out)
    for row in floors:
        either = {
            (row["model"], "mixer", row["seq_len"]),
            (f"{row['model'].partition(':')[0]}:projections", "mixer", row["seq_len"]),
        } & marks.noisy
        overhead = f"{marks.mark(bool(either))}{row['overhead']:.2f}x"
        print(
            f"  T={row['seq_len']:>6}  {row['model']:<16} {overhead:>7}  "
            f"({row['median_ms']:.3g} ms vs {row['projections_ms']:.3g} ms)",
            file=out,
        )


def print_bandwidths(records: list[dict], marks: Marks, out) -> None:
    scans = [r for r in records if r.get("scope") == "scan" and r.get("copy_bytes_per_s")]
    if not scans:
        return
    print("\nscan forward bandwidth (projection read + h written) vs a copy of the same bytes:", file=out)
    for record in scans:
        copy = (f"copy:{record['family']}", "scan", record["seq_len"])
        noisy = is_flag_set(record.get("timing_noisy")) or copy in marks.noisy
        rate = f"{marks.mark(noisy)}{record['bytes_per_s'] / 1e9:.2f}"
        print(
            f"  T={record['seq_len']:>6}  {record['model']:<16} {rate:>8} GB/s "
            f"= {record['bytes_per_s'] / record['copy_bytes_per_s']:6.1%} of copy "
            f"({record['copy_bytes_per_s'] / 1e9:.2f} GB/s)",
            file=out,
        )


def print_summary(records: list[dict], ratios: list[dict], out=None) -> None:
    """The speed-ups, projection overheads and scan bandwidths of the run, then the legend of ``~``
    (when a figure is marked) and every subject that did not time, with its error."""
    out = out or sys.stdout
    marks = Marks(records)
    print_speedups(ratios, marks, out)
    print_projection_overheads(records, marks, out)
    print_bandwidths(records, marks, out)
    if marks.used:
        print(
            f"\n{NOISY_MARK}: a timing behind the figure was flagged noisy (timing_noisy_reason in its record); "
            "read it as approximate",
            file=out,
        )
    for record in records:
        if record["status"] != "ok":
            print(
                f"  {record['scope']:<6} T={record['seq_len']:>6} {record['model']}: {record['status']} "
                f"({record['error']})",
                file=out,
            )
