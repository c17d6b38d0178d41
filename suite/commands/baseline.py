"""``python -m suite baseline update | check``: the committed smoke baseline.

``results/baselines/<name>/`` (default ``cpu-smoke``) holds the records and
manifest of one smoke run made with :data:`RUN_ARGS`, and
``results/baselines/compare.toml`` the tolerances CI compares with.

- ``update`` runs the grid into a fresh folder and only when every cell
  finished moves it into place; the previous baseline is kept until then, so a
  failed or interrupted update loses nothing.
- ``check`` runs the same grid (same options, so the same cell keys) into
  ``--out`` and compares it against the baseline: exit 0 clean, 1 on a
  regression, 2 when the grid changed (then run ``update``) or on bad input.

Both write the run's ``analysis.json`` beside its records (the grid runs with
``--no-report``), so ``compare`` reads the verdicts of both sides from files
(docs/analysis-json.md); a baseline committed before it existed is analysed
from its records, and compare says so.

Both pin ``--threads 1``: results are bit-identical for the same config, seed
and thread count, so accuracy compares exactly on the same kind of machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from suite.commands.compare import BASELINES, DEFAULT_BASELINE
from suite.errors import UsageError

CONFIG = BASELINES / "compare.toml"
RUN_ARGS = ("--models", "all", "--preset", "smoke", "--threads", "1", "--device", "cpu")


def add_arguments(parser) -> None:
    actions = parser.add_subparsers(dest="baseline_action", required=True, parser_class=type(parser))
    update = actions.add_parser("update", help="rerun the smoke grid and replace the committed baseline")
    update.add_argument("--name", default=DEFAULT_BASELINE, help="baseline folder under results/baselines/")
    check = actions.add_parser("check", help="run the smoke grid and compare it against the baseline")
    check.add_argument("--name", default=DEFAULT_BASELINE, help="baseline folder under results/baselines/")
    check.add_argument("--out", default=None, help="run directory for the fresh run (default: a temporary one)")
    check.add_argument("--html", default=None, help="write the diff report here")
    check.add_argument("--report", default=None, help="write the fresh run's report here")
    check.add_argument("--gate", default=None, help="gates (default: those in compare.toml)")


def run_grid(out: Path, report: str | None = None) -> int:
    """``python -m suite run`` on the smoke grid into ``out``; its exit code."""
    from suite.commands import run
    from suite.commands.arguments import OneLineParser

    parser = OneLineParser(prog="python -m suite run")
    run.add_arguments(parser)
    args = parser.parse_args([*RUN_ARGS, "--out", str(out), *(["--report", report] if report else ["--no-report"])])
    try:
        return run.command(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def write_run_analysis(run_dir: Path) -> Path:
    """The run's ``analysis.json`` beside its records (:mod:`suite.analysis.run_analysis`)."""
    from suite.analysis.run_analysis import analyse_run, write_analysis

    return write_analysis(analyse_run(run_dir), run_dir)


def update(name: str) -> int:
    from suite.records.store import read_records

    BASELINES.mkdir(parents=True, exist_ok=True)
    target = BASELINES / name
    fresh = Path(tempfile.mkdtemp(prefix=f".{name}-new-", dir=BASELINES))
    code = run_grid(fresh)
    bad = [r for r in read_records(fresh)] if code == 0 else []
    not_ok = list(
        dict.fromkeys(  # a cell scored at several lengths fails once per length: named once
            f"{r['model']} {r.get('task') or r['kind']} T={r['seq_len']}: {r['status']}"
            for r in bad
            if r["status"] != "ok"
        )
    )
    if code != 0 or not_ok:
        print(
            f"error: the baseline run did not finish cleanly ({'; '.join(not_ok) or f'exit {code}'}); "
            f"the committed baseline is unchanged and the run is kept in {fresh}",
            file=sys.stderr,
        )
        return 2
    for leftover in ("report.html",):
        (fresh / leftover).unlink(missing_ok=True)
    write_run_analysis(fresh)
    old = None
    if target.exists():
        old = BASELINES / f".{name}-old-{os.getpid()}"
        os.replace(target, old)
    os.replace(fresh, target)
    if old:
        shutil.rmtree(old)
    cells = len({r.get("cell_key") for r in bad})
    print(f"baseline {target} updated ({cells} cells, {len(bad)} records); commit it with: git add {target}")
    return 0


def check(args) -> int:
    from suite.commands.compare import command as compare_command

    baseline = BASELINES / args.name
    if not (baseline / "records.jsonl").is_file():
        print(
            f"error: no baseline at {baseline}: create it with `python -m suite baseline update --name {args.name}`",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="suite-check-")) / "run"
    code = run_grid(out, args.report)
    if code != 0:
        return code
    write_run_analysis(out)
    compare_args = argparse.Namespace(
        baseline=str(baseline),
        current=str(out),
        config=str(CONFIG) if CONFIG.is_file() else None,
        gate=args.gate,
        accuracy_points=None,
        speed_percent=None,
        memory_percent=None,
        reference=None,
        allow_missing=False,
        html=args.html,
        all=False,
    )
    return compare_command(compare_args)


def command(args) -> int:
    if args.baseline_action == "update":
        return update(args.name)
    return check(args)
