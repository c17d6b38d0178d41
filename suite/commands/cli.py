"""``python -m suite run | list | report | bench | compare | baseline | history``.

Bad input (an unknown model, task or preset, a length a task cannot make, an
``--out`` that already holds a run) gets one line on stderr naming the problem
and the fix, exit code 2, and nothing is written.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import re
import json
import sys
from pathlib import Path

from suite.executors import options as executor_options
from suite.commands.run_state import (RUN_DEFAULTS, ResumeError, new_manifest, read_environment, resume_state,
                             run_options)
from suite.plugins import PluginError, load_plugins
from suite.registry import UnknownName

REPO_ROOT = Path(__file__).resolve().parents[1]


class UsageError(ValueError):
    pass


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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m suite", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    run = commands.add_parser("run", help="plan, train and measure cells; write records and a report")
    # Options that define the run default to None here: --resume takes unset ones from the manifest.
    run.add_argument("--models", type=csv_list, default=None, help="all, or specs family[:backend],... (default: all)")
    run.add_argument("--tasks", type=csv_list, default=None, help="all, or task names (default: the preset's)")
    run.add_argument("--seq-lens", type=csv_positive_ints, default=None, help="train lengths of accuracy cells")
    run.add_argument("--train-len", type=csv_positive_ints, default=None,
                     help="one train length for accuracy cells (same as --seq-lens L)")
    run.add_argument("--eval-lens", type=csv_positive_ints, default=None,
                     help="score each trained accuracy cell at these lengths, e.g. 64,128,256,512")
    run.add_argument("--lrs", type=csv_positive_floats, default=None,
                     help="learning rates swept per accuracy cell; the best on the validation stream is kept")
    run.add_argument("--match", choices=("width", "params"), default=None,
                     help="width: the preset's d_model for all (default); params: widths matched on parameters")
    run.add_argument("--perf-seq-lens", type=csv_positive_ints, default=None, help="lengths of perf cells")
    run.add_argument("--perf-repeats", type=int, default=None,
                     help="timed repeats of each perf cell, replacing the preset's (e.g. a quick GPU check)")
    run.add_argument("--tf32", choices=("on", "off"), default=None,
                     help="TF32 for fp32 matmuls and cuDNN on CUDA, set once per cell for every model (default: "
                          "the preset's, off for fp32 presets)")
    run.add_argument("--kinds", type=csv_list, default=None, help="accuracy,perf (default: both)")
    run.add_argument("--preset", default=None, help="tiny, smoke, cpu, cpu-full, standard, paper-* (default: cpu or standard)")
    run.add_argument("--device", default=None, help="auto, cpu or cuda[:N] (default: auto)")
    run.add_argument("--seeds", type=csv_ints, default=None, help="e.g. 0,1,2 (default: 0)")
    run.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    run.add_argument("--plugin", action="append", default=None, help="python file registering models/tasks")
    run.add_argument("--isolation", choices=("process", "none"), default=None,
                     help="process: every cell in its own child (default); none: all in this process")
    run.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: the preset's)")
    run.add_argument("--mem-limit", type=parse_bytes, default=None, help="memory cap per cell's process, e.g. 2GiB")
    run.add_argument("--find-max-len", action="store_true", default=None,
                     help="per model, double the length from --max-len-start until a perf probe fails")
    run.add_argument("--max-len-start", type=int, default=None, help="first length probed (default: 256)")
    run.add_argument("--max-len-limit", type=int, default=None, help="stop doubling past this (default: 1048576)")
    run.add_argument("--out", default=None, help="run directory (default: results/<run_id>)")
    run.add_argument("--resume", action="store_true", help="finish the run in --out: only cells without a record")
    run.add_argument("--report", default=None, help="report file (default: reports/<run_id>.html)")
    run.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    executor_options.add_arguments(run)

    listing = commands.add_parser("list", help="families, backends (runnable here or why not), tasks, presets")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--device", default="auto")
    listing.add_argument("--plugin", action="append", default=[])

    report = commands.add_parser("report", help="write the HTML report of a run directory")
    report.add_argument("run_dir")
    report.add_argument("--out", default=None, help="report file (default: reports/<run dir name>.html)")
    for name, (module, help_text) in COMMAND_MODULES.items():
        importlib.import_module(module).add_arguments(commands.add_parser(name, help=help_text))
    return parser


# Subcommands in modules of their own: each has add_arguments(parser) and command(args) -> int.
COMMAND_MODULES = {
    "bench": ("suite.commands.bench", "speed benchmark: training-step time per length, speed-ups measured in one run"),
    "compare": ("suite.commands.compare", "compare two runs; exit 1 on a regression (status, accuracy, speed ratio, memory)"),
    "baseline": ("suite.commands.baseline", "regenerate the committed smoke baseline under results/baselines/"),
    "history": ("suite.commands.history", "plot key metrics of several runs over commit history"),
}


def command_run(args) -> int:
    from suite.measure import environment
    from suite.executors import isolated, local
    from suite.plan import build_plan
    from suite.presets import default_preset_name, get_preset
    from suite.progress import Progress
    from suite.records.store import RecordWriter, prepare_run_dir, read_records, write_manifest

    if args.resume and not args.out:
        raise UsageError("--resume needs --out: the run directory to finish")
    run_dir = Path(args.out) if args.out else None
    options = run_options(args, run_dir)
    load_plugins(options["plugin"])
    device = environment.resolve_device(options["device"])
    preset = get_preset(options["preset"] or default_preset_name(device))
    if options["perf_repeats"] is not None:
        if options["perf_repeats"] < 1:
            raise UsageError(f"--perf-repeats must be at least 1, got {options['perf_repeats']}")
        preset = dataclasses.replace(preset, perf_repeats=options["perf_repeats"])
    if options["tf32"] is not None:
        preset = dataclasses.replace(preset, tf32=options["tf32"] == "on")
    if not args.resume:  # a preset may name its own models and kinds (the paper presets do)
        options["models"] = args.models if args.models is not None else list(preset.models) or RUN_DEFAULTS["models"]
        options["kinds"] = args.kinds if args.kinds is not None else list(preset.kinds) or RUN_DEFAULTS["kinds"]
    unknown_kinds = set(options["kinds"]) - {"accuracy", "perf"}
    if unknown_kinds:
        raise UsageError(f"unknown --kinds {', '.join(sorted(unknown_kinds))}: use accuracy, perf or both")
    if options["train_len"] and (options["seq_lens"] or len(options["train_len"]) > 1):
        raise UsageError("--train-len takes one length and replaces --seq-lens: give one of them")
    cells = build_plan(preset, models=options["models"], tasks=options["tasks"],
                       seq_lens=options["train_len"] or options["seq_lens"], perf_seq_lens=options["perf_seq_lens"],
                       seeds=options["seeds"], kinds=options["kinds"], device=device, eval_lens=options["eval_lens"],
                       lrs=options["lrs"], match=options["match"])
    if not cells and not options["find_max_len"]:
        raise UsageError("the plan has no cells: check --kinds, --tasks and --seq-lens")
    if options["find_max_len"] and options["isolation"] != "process":
        raise UsageError("--find-max-len runs every probe in its own process: drop --isolation none")
    if options["max_len_start"] <= 0 or options["max_len_limit"] < options["max_len_start"]:
        raise UsageError("--max-len-start must be positive and no larger than --max-len-limit")
    timeout_s = options["cell_timeout"] or preset.cell_timeout_s
    executor = executor_options.plan_executor(args, options, device, cells)
    settings = {"plugins": options["plugin"], "threads": executor["threads"], "mem_limit_bytes": options["mem_limit"]}

    if args.resume:
        from suite.measure.cell import is_recorded

        manifest, done = resume_state(run_dir, preset)
        remaining = [cell for cell in cells if not is_recorded(cell, done)]
        run_id = manifest["run_id"]
        print(f"resuming {run_id}: {len(cells) - len(remaining)} of {len(cells)} cells already recorded",
              file=sys.stderr)
    else:
        run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{preset.name}"
        run_dir = prepare_run_dir(run_dir or REPO_ROOT / "results" / run_id)
        remaining, done = cells, {}
        manifest = new_manifest(run_id, preset, options, cells, read_environment(device, options, settings))
    env = manifest["environment"]
    if preset.device == "cuda" and not device.startswith("cuda"):
        print(f"warning: preset {preset.name!r} is sized for a GPU; on {device} it will be slow", file=sys.stderr)
    manifest.update(status="running", command=[sys.executable, "-m", "suite", *sys.argv[1:]])
    manifest.setdefault("executors", []).append(executor["manifest"])
    write_manifest(run_dir, manifest)
    context = {"run_id": run_id, "preset": preset.name, "git_commit": env["git_commit"],
               "hostname": env["hostname"], "device_name": env["device_name"],
               "torch_threads": executor["threads"] or env["torch_threads"], "executor": executor["label"]}
    print(f"run {run_id}: {len(remaining)} cells on {device} ({env['device_name']}), preset {preset.name}, "
          f"isolation {options['isolation']}, executor {executor['label']} -> {run_dir}", file=sys.stderr)
    progress = Progress(len(remaining))
    try:
        with RecordWriter(run_dir) as writer:
            if options["isolation"] == "process":
                executor_options.run(executor, remaining, device, context, writer, progress, settings, timeout_s)
            else:
                local.run(remaining, device, context, writer, progress)
            if options["find_max_len"]:
                from suite.executors import max_len

                probe_models = build_plan(preset, models=options["models"], kinds=("perf",), device=device,
                                          perf_seq_lens=[options["max_len_start"]])
                for spec in dict.fromkeys(cell.model for cell in probe_models):
                    boundary = max_len.search(spec, preset, device, context, writer, done, settings, timeout_s,
                                              options["max_len_start"], options["max_len_limit"],
                                              seed=options["seeds"][0], progress=progress)
                    print(f"\n{spec}: max_seq_len {boundary['max_seq_len']} (first failing: "
                          f"{boundary['first_failing_len']} {boundary['first_failing_status'] or ''})",
                          file=sys.stderr)
    except (KeyboardInterrupt, isolated.RunInterrupted):
        progress.close()
        manifest.update(status="interrupted")
        write_manifest(run_dir, manifest)
        print(f"interrupted: the records written so far are kept; finish with:\n"
              f"  python -m suite run --resume --out {run_dir}", file=sys.stderr)
        return 130
    summary = progress.close()
    records = read_records(run_dir)
    manifest.update(status="finished", finished=datetime.datetime.now(datetime.timezone.utc).isoformat(),
                    summary=summary, backends=backends_seen(records, device))
    write_manifest(run_dir, manifest)
    print(f"records: {run_dir / 'records.jsonl'}")
    if not args.no_report:
        from suite.report import write_report

        path = write_report(run_dir, args.report or REPO_ROOT / "reports" / f"{run_id}.html")
        print(f"report: {path}")
    return 0


def backends_seen(records, device: str) -> dict:
    """spec → the backend that ran (and why faster ones were passed over), or why none could."""
    from suite.registry import passed_over

    seen = {}
    for record in records:
        if record["status"] == "skipped":
            seen.setdefault(record["model"], f"skipped: {record['error']}")
        elif record.get("backend") and record["model"] not in seen:
            reasons = passed_over(record["model"], device)
            seen[record["model"]] = record["backend"] + (f" ({'; '.join(reasons)})" if reasons else "")
    return seen


def command_list(args) -> int:
    from suite.measure import environment
    from suite.presets import PRESETS
    from suite.registry import get_family, get_task, model_family_names, task_description, task_names

    load_plugins(args.plugin)
    device = environment.resolve_device(args.device)
    families = []
    for name in model_family_names():
        family = get_family(name)
        backends = [{"backend": backend, "available": family.probe(backend, device) is None,
                     "reason": family.probe(backend, device)} for backend in family.backends]
        families.append({"family": name, "description": family.description, "options": family.defaults,
                         "backends": backends})
    tasks = [{"task": name, "description": task_description(name), "params": get_task(name).params()}
             for name in task_names()]
    presets = [{"preset": p.name, "description": p.description, "device": p.device} for p in PRESETS.values()]
    if args.json:
        print(json.dumps({"device": device, "families": families, "tasks": tasks, "presets": presets}, indent=2))
        return 0
    print(f"model families (backends on {device}; auto = first available):")
    for family in families:
        print(f"  {family['family']:<12} {family['description']}")
        for backend in family["backends"]:
            mark = "yes" if backend["available"] else f"no  ({backend['reason']})"
            print(f"      {family['family']}:{backend['backend']:<10} {mark}")
    print("tasks:")
    for task in tasks:
        print(f"  {task['task']:<15} {task['description']}  {task['params']}")
    print("presets:")
    for preset in presets:
        print(f"  {preset['preset']:<10} [{preset['device']}] {preset['description']}")
    return 0


def command_report(args) -> int:
    from suite.report import write_report

    from suite.records.schema import SCHEMA_VERSION
    from suite.records.store import read_records

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a run directory: pass the --out folder of a `suite run`")
    newest = max((record.get("schema_version") or 0 for record in read_records(run_dir, strict=True)), default=0)
    if newest > SCHEMA_VERSION:
        raise UsageError(f"{run_dir} holds records of schema_version {newest}, newer than this suite's "
                         f"{SCHEMA_VERSION}: upgrade the suite to report on it")
    path = write_report(run_dir, args.out or REPO_ROOT / "reports" / f"{run_dir.resolve().name}.html")
    print(f"report: {path}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from suite.records.store import StoreError

    handlers = {"run": command_run, "list": command_list, "report": command_report,
                **{name: importlib.import_module(module).command for name, (module, _) in COMMAND_MODULES.items()}}
    try:
        return handlers[args.command](args)
    except (UnknownName, UsageError, PluginError, StoreError, FileNotFoundError,
            executor_options.ExecutorUsageError, ResumeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # bad lengths, devices: raised with a message that says the fix
        print(f"error: {error}", file=sys.stderr)
        return 2
