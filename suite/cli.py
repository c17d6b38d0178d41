"""``python -m suite run | list | report``.

Bad input (an unknown model, task or preset, a length a task cannot make, an
``--out`` that already holds a run) gets one line on stderr naming the problem
and the fix, exit code 2, and nothing is written.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import sys
from pathlib import Path

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


def load_plugins(paths) -> None:
    """Import each plugin file; it registers models/tasks with suite.register_model/register_task."""
    for path in paths or []:
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"--plugin {path}: no such file")
        spec = importlib.util.spec_from_file_location(f"suite_plugin_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise UsageError(f"--plugin {path} failed to import: {type(error).__name__}: {error}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m suite", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="plan, train and measure cells; write records and a report")
    run.add_argument("--models", type=csv_list, default=["all"], help="all, or specs family[:backend],...")
    run.add_argument("--tasks", type=csv_list, default=None, help="all, or task names (default: the preset's)")
    run.add_argument("--seq-lens", type=csv_ints, default=None, help="train lengths of accuracy cells")
    run.add_argument("--perf-seq-lens", type=csv_ints, default=None, help="lengths of perf cells")
    run.add_argument("--kinds", type=csv_list, default=["accuracy", "perf"], help="accuracy,perf")
    run.add_argument("--preset", default=None, help="tiny, smoke, cpu, cpu-full, standard (default: cpu or standard)")
    run.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    run.add_argument("--seeds", type=csv_ints, default=[0], help="e.g. 0,1,2")
    run.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    run.add_argument("--out", default=None, help="run directory (default: results/<run_id>)")
    run.add_argument("--report", default=None, help="report file (default: reports/<run_id>.html)")
    run.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    run.add_argument("--plugin", action="append", default=[], help="python file registering models/tasks")

    listing = commands.add_parser("list", help="families, backends (runnable here or why not), tasks, presets")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--device", default="auto")
    listing.add_argument("--plugin", action="append", default=[])

    report = commands.add_parser("report", help="write the HTML report of a run directory")
    report.add_argument("run_dir")
    report.add_argument("--out", default=None, help="report file (default: reports/<run dir name>.html)")
    return parser


def command_run(args) -> int:
    import torch

    from suite import environment
    from suite.executors import local
    from suite.plan import build_plan
    from suite.presets import default_preset_name, get_preset
    from suite.progress import Progress
    from suite.store import RecordWriter, prepare_run_dir, write_manifest

    load_plugins(args.plugin)
    device = environment.resolve_device(args.device)
    preset = get_preset(args.preset or default_preset_name(device))
    unknown_kinds = set(args.kinds) - {"accuracy", "perf"}
    if unknown_kinds:
        raise UsageError(f"unknown --kinds {', '.join(sorted(unknown_kinds))}: use accuracy, perf or both")
    cells = build_plan(preset, models=args.models, tasks=args.tasks, seq_lens=args.seq_lens,
                       perf_seq_lens=args.perf_seq_lens, seeds=args.seeds, kinds=args.kinds, device=device)
    if not cells:
        raise UsageError("the plan has no cells: check --kinds, --tasks and --seq-lens")
    if args.threads:
        torch.set_num_threads(args.threads)
    run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{preset.name}"
    run_dir = prepare_run_dir(args.out or REPO_ROOT / "results" / run_id)
    env = environment.collect(device)
    if preset.device == "cuda" and not device.startswith("cuda"):
        print(f"warning: preset {preset.name!r} is sized for a GPU; on {device} it will be slow", file=sys.stderr)
    manifest = {
        "run_id": run_id, "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "command": [sys.executable, "-m", "suite", *sys.argv[1:]], "preset": preset.name,
        "preset_config": preset.as_dict(), "environment": env, "status": "running", "plugins": args.plugin,
        "plan": {"accuracy_cells": sum(c.kind == "accuracy" for c in cells),
                 "perf_cells": sum(c.kind == "perf" for c in cells),
                 "models": list(dict.fromkeys(c.model for c in cells)),
                 "tasks": list(dict.fromkeys(c.task for c in cells if c.task)),
                 "seq_lens": sorted({c.seq_len for c in cells if c.kind == "accuracy"}),
                 "perf_seq_lens": sorted({c.seq_len for c in cells if c.kind == "perf"}),
                 "seeds": list(args.seeds)},
    }
    write_manifest(run_dir, manifest)
    context = {"run_id": run_id, "preset": preset.name, "git_commit": env["git_commit"], "hostname": env["hostname"]}
    print(f"run {run_id}: {len(cells)} cells on {device} ({env['device_name']}), preset {preset.name} -> {run_dir}",
          file=sys.stderr)
    progress = Progress(len(cells))
    with RecordWriter(run_dir) as writer:
        records = local.run(cells, device, context, writer, progress)
    summary = progress.close()
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
    from suite import environment
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

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a run directory: pass the --out folder of a `suite run`")
    path = write_report(run_dir, args.out or REPO_ROOT / "reports" / f"{run_dir.resolve().name}.html")
    print(f"report: {path}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from suite.store import StoreError

    handlers = {"run": command_run, "list": command_list, "report": command_report}
    try:
        return handlers[args.command](args)
    except (UnknownName, UsageError, StoreError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # bad lengths, devices: raised with a message that says the fix
        print(f"error: {error}", file=sys.stderr)
        return 2
