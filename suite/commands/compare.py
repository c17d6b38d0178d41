"""``python -m suite compare BASELINE CURRENT``: the regression gate.

Exit 0 when clean, 1 on a regression (the cells named), 2 on bad input —
including cells present in one run and not the other, unless ``--allow-missing``
(:func:`missing_message` says which, and the fix that fits: regenerating the
committed baseline, or rerunning with the same options).
What counts as a regression, and why speed is gated on ratios, is in
:mod:`suite.analysis.compare`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from suite.records.manifest import flag_of
from suite.paths import REPO_ROOT

GATES = ("status", "accuracy", "speed", "memory")  # suite.analysis.compare.GATES; repeated so --help needs no pandas
BASELINES = REPO_ROOT / "results" / "baselines"  # the committed baselines (`suite baseline`)
DEFAULT_BASELINE = "cpu-smoke"


def add_arguments(parser) -> None:
    parser.add_argument("baseline", help="run directory or records.jsonl to compare against")
    parser.add_argument("current", help="run directory or records.jsonl of the run under test")
    parser.add_argument("--config", default=None, help="TOML file with a [compare] table of tolerances")
    parser.add_argument(
        "--gate",
        default=None,
        help=f"comma-separated gates out of {','.join(GATES)} (default: status,accuracy,memory; speed is opt-in)",
    )
    parser.add_argument(
        "--accuracy-points", type=float, default=None, help="accuracy drop in percentage points that counts (default 2)"
    )
    parser.add_argument(
        "--speed-percent", type=float, default=None, help="fall of a speed ratio in percent that counts (default 10)"
    )
    parser.add_argument(
        "--memory-percent",
        type=float,
        default=None,
        help="growth of a GPU peak memory in percent that counts (default 5)",
    )
    parser.add_argument("--reference", default=None, help="model every throughput is divided by (default gru)")
    parser.add_argument(
        "--allow-missing", action="store_true", help="compare the shared cells when the runs' grids differ"
    )
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
    return base.with_overrides(
        accuracy_points=args.accuracy_points,
        speed_percent=args.speed_percent,
        memory_percent=args.memory_percent,
        reference=args.reference,
        gates=gates,
    )


TEXT_COLUMNS = ("verdict", "cell", "metric", "reason")  # left-aligned; the numbers stay right-aligned


def terminal_table(rows) -> str:
    """The compared rows as a plain-text table (pandas lays it out), values formatted as in the diff report."""
    import pandas as pd

    from suite.report.format import format_change, format_value

    metrics = list(rows["metric"])
    table = pd.DataFrame(
        {
            "verdict": list(rows["verdict"]),
            "cell": list(rows["cell"]),
            "metric": metrics,
            "baseline": [format_value(m, v) for m, v in zip(metrics, rows["baseline"])],
            "current": [format_value(m, v) for m, v in zip(metrics, rows["current"])],
            "change": [format_change(m, v) for m, v in zip(metrics, rows["change"])],
            "reason": list(rows["reason"]),
        }
    ).astype(str)
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
            error = did_you_mean(
                f"--reference model (no ok timed cell in {run.path})",
                tolerances.reference,
                timed["model"].astype(str).unique(),
            )
            raise type(error)(f"{error}; speed ratios need the reference in both runs")


def committed_baseline(path) -> str | None:
    """The name of the committed baseline ``path`` is (``results/baselines/<name>``), else None."""
    path = Path(path).resolve()
    folder = path.parent if path.is_file() else path
    try:
        relative = folder.relative_to(BASELINES.resolve())
    except ValueError:
        return None
    return relative.parts[0] if relative.parts else None


def option_differences(base_run, current_run, limit: int = 4) -> list[str]:
    """How the two runs' commands differed, from their manifests: ``--seeds [0] vs [0, 1]``."""
    b, c = base_run.manifest, current_run.manifest
    found = []
    if b.get("preset") and c.get("preset") and b["preset"] != c["preset"]:
        found.append(f"--preset {b['preset']} vs {c['preset']}")
    b_options, c_options = b.get("options") or {}, c.get("options") or {}
    for name in b_options:
        if name != "preset" and name in c_options and b_options[name] != c_options[name]:
            found.append(f"{flag_of(name)} {b_options[name]} vs {c_options[name]}")
    return found[:limit] + ([f"{len(found) - limit} more"] if len(found) > limit else [])


def missing_message(comparison) -> str:
    """One line: the records only one run has, and the fix that fits. Against a committed baseline
    (``results/baselines/<name>``) that is regenerating it after an intended change; between two
    runs of one's own, the runs ran different grids: rerun with the same options."""
    parts = [
        f"{len(labels)} {side} cell(s) are not in the {other}: "
        + "; ".join(labels[:8])
        + (" ..." if len(labels) > 8 else "")
        for labels, side, other in (
            (comparison.missing, "baseline", "current run"),
            (comparison.new, "current", "baseline"),
        )
        if labels
    ]
    name = committed_baseline(comparison.baseline.path)
    if name is not None:
        command = "python -m suite baseline update" + ("" if name == DEFAULT_BASELINE else f" --name {name}")
        fix = (
            f"The grid or a cell's configuration changed: after an intended change regenerate the committed "
            f"baseline (`{command}`), else run the current run with the baseline's options (`python -m suite "
            "baseline check` does); or pass --allow-missing to compare the shared cells"
        )
    else:
        differences = option_differences(comparison.baseline, comparison.current)
        fix = (
            "The two runs ran different grids"
            + (f" ({'; '.join(differences)})" if differences else "")
            + ": rerun one with the other's options (the same preset, --set overrides, models, tasks, lengths and "
            "seeds), or pass --allow-missing to compare the shared cells"
        )
    return "error: " + " | ".join(parts) + ". " + fix


def analysis_sources(baseline, current) -> str:
    """Where the verdicts compared come from: each run's ``analysis.json``, or its records where the
    file is missing or stale (:func:`suite.analysis.run_analysis.load_analysis`)."""
    if baseline.analysis_source == current.analysis_source == "analysis.json":
        return "verdicts from analysis.json (baseline and current)"
    return f"verdicts: baseline {baseline.analysis_source}; current {current.analysis_source}"


def command(args) -> int:
    from suite.analysis.compare import CompareError, compare_runs, exit_code, load_run

    tolerances = tolerances_from(args)
    baseline, current = load_run(args.baseline), load_run(args.current)
    check_reference(tolerances, baseline, current, named=args.reference is not None)
    comparison = compare_runs(baseline, current, tolerances)
    code = exit_code(comparison, args.allow_missing)
    print(
        f"baseline {baseline.label} ({baseline.path}) vs current {current.label} ({current.path}); "
        f"gates: {','.join(tolerances.gates) or 'none'}; speed relative to {tolerances.reference}"
    )
    print(analysis_sources(baseline, current))
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
            raise CompareError(
                f"--html {args.html} cannot be written ({error.strerror}): choose a writable path"
            ) from None
    if code == 2:
        print(missing_message(comparison), file=sys.stderr)
        return 2
    regressions = comparison.regressions
    if len(regressions):
        print(
            f"REGRESSION: {len(regressions)} regression(s): "
            + "; ".join(f"{r['cell']} {r['metric']}" for _, r in regressions.iterrows())
        )
        return 1
    print(
        f"clean: {len(comparison.rows[comparison.rows['verdict'] != 'info'])} metric(s) compared, "
        f"{len(comparison.improvements)} improvement(s), no regression"
        + (
            f" ({len(comparison.missing) + len(comparison.new)} unmatched cell(s) allowed)"
            if comparison.missing or comparison.new
            else ""
        )
    )
    return 0
