"""``python -m suite run | list | report | bench | compare | baseline | history | data``.

Bad input (an unknown model, task or preset, a length a task cannot make, an
``--out`` that already holds a run) gets one line on stderr naming the problem
and the fix, exit code 2, and nothing is written: every such error is a
:class:`suite.errors.UsageError`. Any other exception is a bug and shows its
traceback (exit 1).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from suite.commands import baseline, bench, compare, data, history, run
from suite.commands.arguments import OneLineParser
from suite.errors import UsageError
from suite.paths import REPO_ROOT
from suite.plugins import load_plugins

# Subcommands in modules of their own: each has add_arguments(parser) and command(args) -> int.
COMMAND_MODULES = {
    "run": (run, "plan, train and measure cells; write records and a report"),
    "bench": (bench, "speed benchmark: training-step time per length, speed-ups measured in one run"),
    "compare": (compare, "compare two runs; exit 1 on a regression (status, accuracy, speed ratio, memory)"),
    "baseline": (baseline, "regenerate the committed smoke baseline under results/baselines/"),
    "history": (history, "plot key metrics of several runs over commit history"),
    "data": (data, "fetch a real data set (shakespeare, fashion-mnist) or list those known and here"),
}


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m suite", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, (module, help_text) in COMMAND_MODULES.items():
        module.add_arguments(commands.add_parser(name, help=help_text))
    listing = commands.add_parser("list", help="families, backends (runnable here or why not), tasks, presets")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--device", default="auto")
    listing.add_argument("--plugin", action="append", default=[])
    report = commands.add_parser("report", help="write the HTML report of a run directory")
    report.add_argument("run_dir")
    report.add_argument("--out", default=None, help="report file (default: reports/<run dir name>.html)")
    report.add_argument(
        "--synthetic",
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="another run whose synthetic accuracy cells (e.g. MQAR) the real-data agreement compares with "
        "this run's language models (repeatable)",
    )
    return parser


def command_list(args) -> int:
    from suite.measure.environment import resolve_device
    from suite.plan.presets import PRESETS
    from suite.registry import backend_reasons, get_family, get_task, task_description, task_names

    load_plugins(args.plugin)
    device = resolve_device(args.device)
    families = []
    for name, reasons in backend_reasons(device).items():
        family = get_family(name)
        backends = [
            {"backend": backend, "available": reason is None, "reason": reason} for backend, reason in reasons.items()
        ]
        families.append(
            {"family": name, "description": family.description, "options": family.defaults, "backends": backends}
        )
    tasks = [
        {"task": name, "description": task_description(name), "params": _default_params(get_task, name)}
        for name in task_names()
    ]
    presets = [{"preset": p.name, "description": p.description, "device": p.device} for p in PRESETS.values()]
    if args.json:
        listing = {"device": device, "families": families, "stacks": stack_syntax(), "tasks": tasks, "presets": presets}
        print(json.dumps(listing, indent=2))
        return 0
    print(f"model families (backends on {device}; auto = first available):")
    for family in families:
        print(f"  {family['family']:<12} {family['description']}")
        for backend in family["backends"]:
            mark = "yes" if backend["available"] else f"no  ({backend['reason']})"
            print(f"      {family['family']}:{backend['backend']:<10} {mark}")
    print_stack_syntax()
    print("tasks:")
    for task in tasks:
        print(f"  {task['task']:<15} {task['description']}  {task['params']}")
    print("presets:")
    for preset in presets:
        print(f"  {preset['preset']:<10} [{preset['device']}] {preset['description']}")
    return 0


def _default_params(get_task, name: str) -> dict:
    """A task's default parameters; for a real-data task whose data set is not here, why not."""
    try:
        return get_task(name).params()
    except UsageError as error:
        return {"unavailable": str(error)}


def stack_syntax() -> dict:
    """How to write a mixed stack (suite.stacks), with examples."""
    from suite.stacks import EXAMPLE

    return {
        "syntax": "layers bottom first, joined by +; *N repeats a layer; [key=value;...] gives a layer options",
        "examples": {
            EXAMPLE: "three minGRU layers, then sliding-window attention over 16 positions",
            "mingru+mingru+transformer+mingru": "one attention layer at position 2",
        },
    }


def print_stack_syntax() -> None:
    stacks = stack_syntax()
    print(f"mixed stacks ({stacks['syntax']}):")
    for example, meaning in stacks["examples"].items():
        print(f"  --models '{example}'   {meaning}")


def command_report(args) -> int:
    from suite.commands.run_state import check_report_path
    from suite.report import write_report

    run_dir = readable_run_dir(args.run_dir)
    out = args.out or REPO_ROOT / "reports" / f"{run_dir.resolve().name}.html"
    check_report_path(out, f"--out {out}" if args.out else f"the report {out}", "choose another --out", run_dir)
    synthetic = synthetic_records(run_dir, args.synthetic) if args.synthetic else None
    path = write_report(run_dir, out, synthetic_records=synthetic)
    print(f"report: {path}")
    print(f"analysis: {run_dir / 'analysis.json'}")  # beside the records: what compare and history read
    return 0


def readable_run_dir(path, label: str = "") -> Path:
    """``path`` as a run directory whose records can be read; else one line naming it (after ``label``,
    e.g. the flag that gave it) and the fix."""
    from suite.records.store import check_readable

    run_dir = Path(path)
    if not run_dir.is_dir():
        raise UsageError(f"{label}{run_dir} is not a run directory: pass the --out folder of a `suite run`")
    check_readable(run_dir)
    return run_dir


def synthetic_records(run_dir: Path, others: list):
    """The records of the ``--synthetic`` runs, checked: ``run_dir`` has language-model cells and each
    other run is a readable run directory with synthetic accuracy cells."""
    import pandas as pd

    from suite.analysis.real_data import has_real_data, synthetic_cells
    from suite.analysis.tables import load_results

    if not has_real_data(load_results(run_dir)):
        raise UsageError(
            f"{run_dir} has no real-data cells: --synthetic compares a real-data run (e.g. --preset "
            "shakespeare-cpu) with another run's synthetic tasks; drop --synthetic"
        )
    frames = []
    for other in others:
        other = readable_run_dir(other, "--synthetic ")
        records = load_results(other)
        if not len(synthetic_cells(records)):
            raise UsageError(
                f"--synthetic {other} has no synthetic accuracy cells to compare with: pass a run with "
                "accuracy cells on mqar or another generated task (e.g. reports/examples/mqar-zoology-cpu)"
            )
        frames.append(records)
    return pd.concat(frames, ignore_index=True)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "list": command_list,
        "report": command_report,
        **{name: module.command for name, (module, _) in COMMAND_MODULES.items()},
    }
    try:
        code = handlers[args.command](args)
        sys.stdout.flush()  # a pipe buffers output until exit: a closed reader must fail here, not at shutdown
        return code
    except UsageError as error:  # bad input: one line that says the fix; anything else is a bug
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 141  # 128 + SIGPIPE
