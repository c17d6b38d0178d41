"""``python -m suite compare BASELINE CURRENT``: the regression gate.

Exit 0 when clean, 1 on a regression (the cells named), 2 on bad input —
including cells present in one run and not the other, unless ``--allow-missing``.
What counts as a regression, and why speed is gated on ratios, is in
:mod:`suite.analysis.compare`.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

GATES = ("status", "accuracy", "speed", "memory")  # suite.analysis.compare.GATES; repeated so --help needs no pandas


def add_arguments(parser) -> None:
    parser.add_argument("baseline", help="run directory or records.jsonl to compare against")
    parser.add_argument("current", help="run directory or records.jsonl of the run under test")
    parser.add_argument("--config", default=None, help="TOML file with a [compare] table of tolerances")
    parser.add_argument("--gate", default=None,
                        help=f"comma-separated gates out of {','.join(GATES)} "
                             f"(default: status,accuracy,memory; speed is opt-in)")
    parser.add_argument("--accuracy-points", type=float, default=None,
                        help="accuracy drop in percentage points that counts (default 2)")
    parser.add_argument("--speed-percent", type=float, default=None,
                        help="fall of a speed ratio in percent that counts (default 10)")
    parser.add_argument("--memory-percent", type=float, default=None,
                        help="growth of a GPU peak memory in percent that counts (default 5)")
    parser.add_argument("--reference", default=None, help="model every throughput is divided by (default gru)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="compare the shared cells when the runs' grids differ")
    parser.add_argument("--html", default=None, help="write the diff report to this file")
    parser.add_argument("--all", action="store_true", help="print unchanged metrics too")


def tolerances_from(args):
    from suite.analysis.compare import CompareError, Tolerances, load_config, parse_gates

    base = load_config(args.config) if args.config else Tolerances()
    for name in ("accuracy_points", "speed_percent", "memory_percent"):
        value = getattr(args, name)
        if value is not None and (math.isnan(value) or value < 0):
            raise CompareError(f"--{name.replace('_', '-')} must be a non-negative number, got {value}")
    gates = parse_gates(args.gate) if args.gate is not None else None
    return base.with_overrides(accuracy_points=args.accuracy_points, speed_percent=args.speed_percent,
                               memory_percent=args.memory_percent, reference=args.reference, gates=gates)


TEXT_COLUMNS = ("verdict", "cell", "metric", "reason")  # left-aligned; the numbers stay right-aligned


def terminal_table(rows) -> str:
    """The compared rows as a plain-text table (pandas lays it out), values formatted as in the diff report."""
    import pandas as pd

    from suite.report.format import format_change, format_value

    metrics = list(rows["metric"])
    table = pd.DataFrame({
        "verdict": list(rows["verdict"]), "cell": list(rows["cell"]), "metric": metrics,
        "baseline": [format_value(m, v) for m, v in zip(metrics, rows["baseline"])],
        "current": [format_value(m, v) for m, v in zip(metrics, rows["current"])],
        "change": [format_change(m, v) for m, v in zip(metrics, rows["change"])],
        "reason": list(rows["reason"])}).astype(str)
    widths = {name: int(table[name].str.len().max()) for name in TEXT_COLUMNS}
    left = {name: (lambda value, width=width: value.ljust(width)) for name, width in widths.items()}
    text = table.to_string(index=False, justify="left", formatters=left)
    return "\n".join(line.rstrip() for line in text.splitlines())


def check_reference(tolerances, *runs, named: bool = False) -> None:
    """A ``--reference`` given by name must be a model of both runs; with the speed gate on, it
    must have ok timed cells in both runs: otherwise no ratio can be formed and the gate would
    pass without looking."""
    from suite.analysis.tables import TIMED_KINDS
    from suite.naming import did_you_mean

    for run in runs if named else ():
        models = run.records["model"].astype(str).unique()
        if tolerances.reference not in models:
            raise did_you_mean(f"--reference model (not a model of {run.path})", tolerances.reference, models)
    if "speed" not in tolerances.gates:
        return

    for run in runs:
        timed = run.records[run.records["kind"].isin(TIMED_KINDS) & (run.records["status"] == "ok")]
        if len(timed) and not (timed["model"] == tolerances.reference).any():
            error = did_you_mean(f"--reference model (no ok timed cell in {run.path})", tolerances.reference,
                                 timed["model"].astype(str).unique())
            raise type(error)(f"{error}; speed ratios need the reference in both runs")


def command(args) -> int:
    from suite.analysis.compare import CompareError, compare_runs, exit_code, load_run, missing_message

    tolerances = tolerances_from(args)
    baseline, current = load_run(args.baseline), load_run(args.current)
    check_reference(tolerances, baseline, current, named=args.reference is not None)
    comparison = compare_runs(baseline, current, tolerances)
    code = exit_code(comparison, args.allow_missing)
    print(f"baseline {baseline.label} ({baseline.path}) vs current {current.label} ({current.path}); "
          f"gates: {','.join(tolerances.gates) or 'none'}; speed relative to {tolerances.reference}")
    for note in comparison.warnings:
        print(f"warning: {note}")
    shown = comparison.rows if args.all else comparison.rows[~comparison.rows["verdict"].isin(["same", "info"])]
    if len(shown):
        print(terminal_table(shown))
    if args.html:
        from suite.report.diff import write_diff_report

        try:
            print(f"diff report: {write_diff_report(comparison, Path(args.html))}")
        except OSError as error:
            raise CompareError(f"--html {args.html} cannot be written ({error.strerror}): choose a writable path") from None
    if code == 2:
        print(missing_message(comparison), file=sys.stderr)
        return 2
    regressions = comparison.regressions
    if len(regressions):
        print(f"REGRESSION: {len(regressions)} regression(s): "
              + "; ".join(f"{r['cell']} {r['metric']}" for _, r in regressions.iterrows()))
        return 1
    print(f"clean: {len(comparison.rows[comparison.rows['verdict'] != 'info'])} metric(s) compared, "
          f"{len(comparison.improvements)} improvement(s), no regression"
          + (f" ({len(comparison.missing) + len(comparison.new)} unmatched cell(s) allowed)"
             if comparison.missing or comparison.new else ""))
    return 0
