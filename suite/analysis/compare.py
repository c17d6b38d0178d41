"""Compare two runs and flag regressions: the logic behind ``python -m suite compare``.

Reads Records only (no torch). Records are matched by their identity: the
``cell_key`` (a hash of everything that defines a cell) and, for an accuracy cell
scored at several lengths, the evaluation length, each its own compared record
(:mod:`suite.analysis.cell_labels` matches and labels them). Two runs compare only
when they ran the same grid; records present in one run and not the other are
listed as missing, never silently dropped.

What counts as a regression (each is a *gate*; ``--gate`` picks which apply):

``status``
    A cell that finished ``ok`` in the baseline and does not now (``oom``,
    ``error``, ``nan``, ``timeout``, ``skipped``); one row per evaluation length.
``accuracy``
    Accuracy records are grouped over seeds (same cell and evaluation length but
    the seed): one compared row per cell and evaluation length. The current
    seed-mean accuracy is a regression when it is more than ``accuracy_points``
    percentage points below the baseline's seed-mean, *and*, when the baseline
    has several ok seeds, also below the baseline's lowest seed: a drop inside
    the spread the baseline itself showed over seeds is not a regression.
``speed``
    Absolute times on shared machines are noise; ratios measured in the same run
    are much less so. Each perf cell's throughput is divided by the reference
    model's (``reference``, default ``gru``) at the same length and batch *in the
    same run*: the plan runs every model of one length back to back, so the
    reference is timed interleaved with the others, seconds apart (a ``bench
    speed`` record, kind ``"speed"``, against the reference's of the same scope). Three ratios,
    higher = faster: ``train_speed_ratio`` and ``prefill_speed_ratio`` (tokens/s
    over the reference's) and ``decode_speed_ratio`` (the reference's ms/token
    over the model's). A ratio that fell by more than the noise both runs measured
    and more than ``speed_percent`` percent is a regression; a change within the
    noise is ``same`` (:mod:`suite.analysis.speed_gate` says how the noise is taken
    from the records' raw timings). Off by default: on shared CPU cores the ratios
    still swing with load; turn it on (``--gate speed``) on dedicated machines. A
    ratio whose cell, or whose reference cell, was flagged ``timing_noisy`` in either
    run (``suite.measure.timing``: spread above 10%, too few repeats, a busy host) is
    never gated: its verdict is ``noisy`` and the comparison says how many. Nor is
    any ratio between runs on different devices, hardware or torch versions
    (``Comparison.machine_differences``, said in a warning), as pyperf refuses to,
    nor a ``decode_speed_ratio`` whose cell or reference changed its ``decode_method``
    (a CUDA graph's replays against an eager loop: a different measurement).
``memory``
    Peak memory per phase (train, prefill, decode) that grew by more than
    ``memory_percent`` percent. Applied only to cells that ran on a GPU in both
    runs (CUDA's allocator counts exactly); CPU peaks are shown, not gated.

Verdicts (solved, fails, undertrained ...) are read from each run's analysis
(``analysis.json`` beside its records when current, else built from the records:
:func:`suite.analysis.run_analysis.load_analysis`) and compared outcome by outcome
(:mod:`suite.analysis.verdict_changes`): shown, never gated.

Changes beyond a tolerance in the good direction are listed as improvements.
Absolute throughputs, and a ``max_len`` record's longest length that fitted, are
shown for reading, never gated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import pandas as pd

from suite.analysis.cell_labels import Labels, cell_order, keyed, unmatched
from suite.analysis.speed import SPEED_RATIOS, speed_ratios
from suite.analysis.speed_gate import (
    decode_methods,
    judged_memory,
    judged_ratios,
    machine_differences,
    machine_warning,
    provenance_warnings,
    ratio_noises,
    version_warnings,
)
from suite.analysis.runs import CompareError, Run, load_run
from suite.analysis.tables import TIMED_KINDS
from suite.analysis.verdict_changes import verdict_rows
from suite.naming import did_you_mean

GATES = ("status", "accuracy", "speed", "memory")
DEFAULT_GATES = ("status", "accuracy", "memory")
SHOWN_METRICS = ("train_tokens_per_s",)


@dataclass(frozen=True)
class Tolerances:
    accuracy_points: float = 2.0  # percentage points of accuracy
    speed_percent: float = 10.0  # percent fall of a speed ratio
    memory_percent: float = 5.0  # percent growth of a GPU peak
    reference: str = "gru"  # the model every speed is divided by
    gates: tuple = DEFAULT_GATES

    def with_overrides(self, **given) -> Tolerances:
        return replace(self, **{name: value for name, value in given.items() if value is not None})


def load_config(path) -> Tolerances:
    """Tolerances from a TOML file with a ``[compare]`` table (keys as in :class:`Tolerances`)."""
    import tomllib

    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("compare", {})
    except FileNotFoundError:
        raise CompareError(f"--config {path} does not exist: pass a TOML file with a [compare] table") from None
    except tomllib.TOMLDecodeError as error:
        raise CompareError(f"--config {path} is not valid TOML ({error}): fix the file") from None
    known = {f.name for f in fields(Tolerances)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise CompareError(
            f"--config {path}: unknown key(s) {', '.join(unknown)} in [compare]; known: {', '.join(sorted(known))}"
        )
    if "gates" in table:
        table["gates"] = parse_gates(table["gates"])
    return Tolerances().with_overrides(**table)


def parse_gates(value) -> tuple:
    names = [name.strip() for name in (value.split(",") if isinstance(value, str) else value) if name.strip()]
    unknown = [name for name in names if name not in GATES]
    if unknown:
        raise did_you_mean("gate", unknown[0], GATES)
    return tuple(dict.fromkeys(names))


@dataclass
class Comparison:
    baseline: Run
    current: Run
    tolerances: Tolerances
    rows: pd.DataFrame  # one row per cell group and metric
    missing: list = field(default_factory=list)  # labels of baseline cells absent from current
    new: list = field(default_factory=list)  # labels of current cells absent from baseline
    warnings: list = field(default_factory=list)
    machine_differences: list = field(default_factory=list)  # device, hardware, torch: speed not gated if any

    @property
    def regressions(self) -> pd.DataFrame:
        return self.rows[self.rows["verdict"] == "regression"]

    @property
    def improvements(self) -> pd.DataFrame:
        return self.rows[self.rows["verdict"] == "improvement"]


def row(base, kind_label, metric, baseline, current, verdict, reason, change=math.nan):
    return {
        "cell": kind_label,
        "kind": base["kind"],
        "model": base["model"],
        "task": base["task"],
        "seq_len": base["seq_len"],
        "batch_size": base["batch_size"],
        "metric": metric,
        "baseline": baseline,
        "current": current,
        "change": change,
        "verdict": verdict,
        "reason": reason,
    }


def compare_runs(baseline: Run, current: Run, tolerances: Tolerances = Tolerances()) -> Comparison:
    """Match the two runs' records by identity and judge every metric; see the module docstring."""
    base, cur = keyed(baseline.records), keyed(current.records)
    labels = Labels(base, cur)
    shared = [key for key in base.index if key in cur.index]
    missing, new, probes = unmatched(base, cur, labels)
    machines = machine_differences(baseline, current)
    rows = (
        status_rows(base, cur, shared, tolerances, labels)
        + accuracy_rows(base, cur, shared, tolerances, labels)
        + timed_rows(base, cur, shared, tolerances, labels, machines)
        + max_len_rows(base, cur, shared, labels)
        + verdict_rows(baseline.analysis, current.analysis)
    )
    frame = sorted_rows(pd.DataFrame(rows, columns=list(ROW_COLUMNS)))
    comparison = Comparison(baseline, current, tolerances, frame, missing, new, machine_differences=machines)
    comparison.warnings = provenance_warnings(baseline, current, tolerances)
    if machines and frame["metric"].str.endswith("_speed_ratio").any():
        comparison.warnings.append(machine_warning(machines))
    comparison.warnings += version_warnings(base, cur, shared, labels)
    if probes:
        comparison.warnings.append(
            f"{probes} max-len probe(s) ran in one run only (the search stops at the first "
            "length that fails): their boundary is compared through the max_len records"
        )
    for side, run in (("baseline", baseline), ("current", current)):
        if run.records["cell_key"].isna().any():
            comparison.warnings.append(
                f"{int(run.records['cell_key'].isna().sum())} record(s) of the {side} run "
                "have no cell_key and cannot be matched: not compared"
            )
    noisy = int((frame["verdict"] == "noisy").sum())
    if noisy:
        comparison.warnings.append(
            f"{noisy} speed ratio(s) not gated: their cells or the reference's were "
            "flagged timing_noisy (spread above 10%, too few repeats or a busy host)"
        )
    return comparison


ROW_COLUMNS = (
    "cell",
    "kind",
    "model",
    "task",
    "seq_len",
    "batch_size",
    "metric",
    "baseline",
    "current",
    "change",
    "verdict",
    "reason",
)
VERDICT_ORDER = {"regression": 0, "worse": 1, "improvement": 2, "changed": 3, "noisy": 4, "same": 5, "info": 6}


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Regressions first, then worse, improvements, status changes, noisy, same and info; by cell within
    (numbers in numeric order, a cell at its training length before its other evaluation lengths)."""
    return frame.sort_values(
        ["verdict", "cell", "metric"],
        key=lambda s: s.map(VERDICT_ORDER) if s.name == "verdict" else s.map(cell_order) if s.name == "cell" else s,
        kind="stable",
    ).reset_index(drop=True)


def status_rows(base: pd.DataFrame, cur: pd.DataFrame, shared, tol: Tolerances, labels: Labels) -> list[dict]:
    """Per shared record whose status changed: a regression (gated) when it was ok, else a change."""
    rows = []
    for key in shared:
        b, c = base.loc[key], cur.loc[key]
        if b["status"] == c["status"]:
            continue
        if b["status"] == "ok":
            verdict = "regression" if "status" in tol.gates else "changed"
            reason = f"ok -> {c['status']}: {c['error'] or 'no error text'}"
        else:
            verdict, reason = ("improvement" if c["status"] == "ok" else "changed"), f"{b['status']} -> {c['status']}"
        rows.append(row(b, labels.cell(key), "status", b["status"], c["status"], verdict, reason))
    return rows


def accuracy_rows(base: pd.DataFrame, cur: pd.DataFrame, shared, tol: Tolerances, labels: Labels) -> list[dict]:
    """Per accuracy cell and evaluation length, grouped over seeds: the seed-mean's change, judged
    against the baseline's spread."""
    groups = {}
    for key in shared:
        if base.loc[key]["kind"] == "accuracy":
            groups.setdefault(labels.group_of[key], []).append(key)
    rows = []
    for keys in groups.values():
        b_acc = [r["accuracy"] for r in (base.loc[k] for k in keys) if r["status"] == "ok" and pd.notna(r["accuracy"])]
        c_acc = [r["accuracy"] for r in (cur.loc[k] for k in keys) if r["status"] == "ok" and pd.notna(r["accuracy"])]
        if not b_acc or not c_acc:
            continue
        first = base.loc[keys[0]]
        label = labels.group(keys[0], len(keys))
        b_mean, c_mean = sum(b_acc) / len(b_acc), sum(c_acc) / len(c_acc)
        change = c_mean - b_mean
        threshold = tol.accuracy_points / 100
        floor = min(b_acc) if len(b_acc) > 1 else b_mean - threshold
        if change < -threshold and c_mean < floor:
            spread = f", below the baseline's lowest seed {min(b_acc):.3f}" if len(b_acc) > 1 else ""
            verdict = "regression" if "accuracy" in tol.gates else "worse"
            reason = f"accuracy fell {-change * 100:.1f} points (tolerance {tol.accuracy_points:g}{spread})"
        elif change > threshold:
            verdict, reason = "improvement", f"accuracy rose {change * 100:.1f} points"
        else:
            verdict, reason = "same", ""
        rows.append(row(first, label, "accuracy", b_mean, c_mean, verdict, reason, change * 100))
    return rows


def timed_rows(
    base: pd.DataFrame, cur: pd.DataFrame, shared, tol: Tolerances, labels: Labels, machines: list
) -> list[dict]:
    """Per timed record ok in both runs: its speed ratios (judged by :mod:`suite.analysis.speed_gate`),
    its absolute throughput and its peak memory."""
    base_ratios, cur_ratios = speed_ratios(base, tol.reference), speed_ratios(cur, tol.reference)
    base_noise = ratio_noises(base, tol.reference, SPEED_RATIOS)
    cur_noise = ratio_noises(cur, tol.reference, SPEED_RATIOS)
    base_methods, cur_methods = decode_methods(base, tol.reference), decode_methods(cur, tol.reference)
    rows = []
    for key in shared:
        b, c = base.loc[key], cur.loc[key]
        if b["kind"] not in TIMED_KINDS or b["status"] != "ok" or c["status"] != "ok":
            continue
        label = labels.cell(key)
        if key in base_ratios.index and key in cur_ratios.index and b["model"] != tol.reference:
            noises = tuple(noise.loc[key] if key in noise.index else None for noise in (base_noise, cur_noise))
            methods = (base_methods.get(key), cur_methods.get(key))
            judged = judged_ratios(base_ratios.loc[key], cur_ratios.loc[key], noises, tol, machines, methods)
            rows += [row(b, label, *judgement) for judgement in judged]
        for metric in SHOWN_METRICS:
            if pd.notna(b[metric]) and pd.notna(c[metric]) and b[metric] > 0:
                rows.append(
                    row(
                        b,
                        label,
                        metric,
                        b[metric],
                        c[metric],
                        "info",
                        "absolute: not gated",
                        (c[metric] / b[metric] - 1) * 100,
                    )
                )
        rows += [row(b, label, *judgement) for judgement in judged_memory(b, c, tol)]
    return rows


def max_len_rows(base: pd.DataFrame, cur: pd.DataFrame, shared, labels: Labels) -> list[dict]:
    """Per ``max_len`` record ok in both runs: the longest length that fitted, shown, not gated (the
    probe that stopped fitting is a status row of its own)."""
    rows = []
    for key in (key for key in shared if base.loc[key]["kind"] == "max_len"):
        b, c = base.loc[key], cur.loc[key]
        before, after = b["max_seq_len"], c["max_seq_len"]
        if b["status"] != "ok" or c["status"] != "ok" or (pd.isna(before) and pd.isna(after)):
            continue
        fell = pd.isna(after) or (pd.notna(before) and after < before)
        verdict, reason = (
            ("worse", "the longest length that fitted fell (not gated: see the probes' status)")
            if fell
            else ("improvement", "a longer length fits")
            if pd.isna(before) or after > before
            else ("same", "")
        )
        change = (after / before - 1) * 100 if pd.notna(before) and pd.notna(after) and before > 0 else math.nan
        rows.append(row(b, labels.cell(key), "max_seq_len", before, after, verdict, reason, change))
    return rows


def exit_code(comparison: Comparison, allow_missing: bool) -> int:
    if (comparison.missing or comparison.new) and not allow_missing:
        return 2
    return 1 if len(comparison.regressions) else 0


__all__ = [
    "Tolerances",
    "Comparison",
    "Run",
    "load_run",
    "load_config",
    "compare_runs",
    "speed_ratios",
    "exit_code",
    "GATES",
    "CompareError",
    "parse_gates",
]
