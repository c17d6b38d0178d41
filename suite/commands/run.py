"""``python -m suite run``: plan, train and measure cells; write records and a report.

The run's options are a :class:`suite.plan.settings.RunOptions` (flags here, fields
there, checked by one ``validate()``); the executor's are an
:class:`suite.executors.options.ExecutorOptions`. Bad input raises a
:class:`suite.errors.UsageError` before anything is written.

Exit status (:data:`suite.progress.EXIT_CODES`): 0 when every cell has a result
(``ok``, or a measured ``oom``/``nan``, or ``skipped`` with its reason); 3 when
some cell ended in ``error`` or ``timeout`` (each printed with its one-line
error; the records, the report and ``--resume`` are as for any run); 2 on bad
input, nothing written; 130 when interrupted.
"""

from __future__ import annotations

import dataclasses
import datetime
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

# the `run` subcommand's flags, in their own module: cli.py and baseline.py call run.add_arguments
from suite.commands.run_arguments import add_arguments  # noqa: F401
from suite.commands.run_state import (
    Outputs,
    check_report_path,
    finish_run,
    read_environment,
    report_label,
    report_path,
    run_options,
)
from suite.devices import is_cuda
from suite.errors import UsageError
from suite.executors import RecordSink
from suite.executors import options as executor_options
from suite.executors.options import ExecutorPlan
from suite.plan.overrides import apply_overrides, preset_from_file
from suite.paths import REPO_ROOT
from suite.plugins import load_plugins
from suite.plan.presets import Preset
from suite.plan.settings import ChildSettings, Dispatch, RunContext, RunOptions, check_mem_limit
from suite.records.manifest import check_preset_unchanged, new_manifest, open_run
from suite.records.store import MANIFEST


@dataclass(frozen=True)
class RunSetup:
    """What a run is made of once its flags are read (once, by :func:`resolve`): the options that
    define its cells (validated), its preset, device and outputs, how its cells are spread and how
    each cell's process is set up."""

    options: RunOptions
    preset: Preset
    device: str
    outputs: Outputs
    executor: ExecutorPlan
    child: ChildSettings


def resolve(args) -> tuple[RunOptions, str, Preset, Outputs]:
    """The run's options (merged with the manifest on ``--resume``, then validated once), its
    device, its preset (with the options' overrides) and its outputs."""
    from suite.measure.environment import resolve_device
    from suite.plan.presets import default_preset_name, get_preset

    outputs = Outputs.from_args(args)
    if outputs.resume and not outputs.out:
        raise UsageError("--resume needs --out: the run directory to finish")
    run_dir = Path(outputs.out) if outputs.out else None
    options = run_options(args, run_dir)
    load_plugins(options.plugin)
    device = resolve_device(options.device)
    if options.config:
        preset = preset_from_file(options.config)
    else:
        preset = get_preset(options.preset or default_preset_name(device))
    preset = apply_overrides(preset, options.overrides)
    if not outputs.resume or not (run_dir / MANIFEST).is_file():  # a preset may name its models, kinds, seeds
        defaults = RunOptions()
        options.models = args.models if args.models is not None else list(preset.models) or defaults.models
        options.kinds = args.kinds if args.kinds is not None else list(preset.kinds) or defaults.kinds
        options.seeds = args.seeds if args.seeds is not None else list(preset.seeds) or defaults.seeds
    options.validate()
    if options.perf_repeats is not None:
        preset = dataclasses.replace(preset, perf_repeats=options.perf_repeats)
    if options.tf32 is not None:
        preset = dataclasses.replace(preset, tf32=options.tf32 == "on")
    return options, device, preset, outputs


def plan_cells(preset, options: RunOptions, device: str, **overrides):
    from suite.plan.planning import build_plan

    return build_plan(
        preset,
        **{
            **dict(
                models=options.models,
                tasks=options.tasks,
                seq_lens=options.lengths,
                perf_seq_lens=options.perf_seq_lens,
                seeds=options.seeds,
                kinds=options.kinds,
                device=device,
                eval_lens=options.eval_lens,
                lrs=options.lrs,
                match=options.match,
            ),
            **overrides,
        },
    )


def plan_summary(cells, options: RunOptions) -> dict:
    """The manifest's ``plan``: what the cells of the run are, in counts and names."""
    return {
        "accuracy_cells": sum(c.kind == "accuracy" for c in cells),
        "perf_cells": sum(c.kind == "perf" for c in cells),
        "models": list(dict.fromkeys(c.model for c in cells)),
        "tasks": list(dict.fromkeys(c.task for c in cells if c.task)),
        "seq_lens": sorted({c.seq_len for c in cells if c.kind == "accuracy"}),
        "perf_seq_lens": sorted({c.seq_len for c in cells if c.kind == "perf"}),
        "seeds": list(options.seeds),
    }


def start(setup: RunSetup, run_id: str, run_dir: Path, cells):
    """Under the run directory's lock: the manifest, cells still to run and records already there
    (:func:`suite.records.manifest.open_run`)."""
    from suite.measure.cell import is_recorded

    preset, options = setup.preset, setup.options
    unchanged = type(preset)(name=preset.name, description="").as_dict()
    manifest, done = open_run(
        run_dir,
        setup.outputs.resume,
        fresh=lambda: new_manifest(
            run_id, preset.name, preset.as_dict(), options.as_dict(), plan_summary(cells, options)
        ),
        environment=lambda: read_environment(setup.device, options.isolation, setup.child),
        check=lambda old: check_preset_unchanged(old, preset.name, preset.as_dict(), unchanged, run_dir),
    )
    remaining = [cell for cell in cells if not is_recorded(cell, done)]
    if manifest.get("resumes"):
        print(
            f"resuming {manifest['run_id']}: {len(cells) - len(remaining)} of {len(cells)} cells already recorded",
            file=sys.stderr,
        )
    return manifest, remaining, done


def check_plugin_contract(options: RunOptions) -> None:
    """Build every model and task the plugins register, tiny, and check them against the
    contract (``suite.measure.contract``) before any cell runs: a broken plugin costs one line,
    not a grid of error records. In a child, so the driver never builds a model."""
    if not options.plugin:
        return
    from suite.measure.contract import plugin_problems

    if options.isolation == "process":
        from suite.executors.isolated import call_in_child

        problems, failure = call_in_child(plugin_problems, (list(options.plugin),), ChildSettings(), 300)
        problems = [f"the plugin check's process failed: {failure[1]}"] if failure else problems
    else:
        problems = plugin_problems(list(options.plugin))
    if problems:
        raise UsageError("; ".join(problems) + " (the plugin contract: docs/models-and-plugins.md)")


def check_outputs(outputs: Outputs, run_dir: Path, run_id: str) -> None:
    """Refuse a report path that cannot be written before any cell runs."""
    if outputs.no_report:
        return
    check_report_path(report_path(outputs, run_id), *report_label(outputs, run_id), run_dir)


def find_max_lens(preset, options: RunOptions, dispatch: Dispatch, sink: RecordSink, done: dict) -> None:
    from suite.executors import max_len

    probes = plan_cells(
        preset,
        options,
        dispatch.device,
        kinds=("perf",),
        perf_seq_lens=[options.max_len_start],
        tasks=None,
        seq_lens=None,
        eval_lens=None,
        lrs=None,
    )
    for spec in dict.fromkeys(cell.model for cell in probes):
        boundary = max_len.search(
            spec, preset, dispatch, sink, done, options.max_len_start, options.max_len_limit, seed=options.seeds[0]
        )
        print(
            f"\n{spec}: max_seq_len {boundary['max_seq_len']} (first failing: "
            f"{boundary['first_failing_len']} {boundary['first_failing_status'] or ''})",
            file=sys.stderr,
        )


def execute(setup: RunSetup, remaining, dispatch: Dispatch, sink: RecordSink, done: dict) -> None:
    from suite.executors import local

    if setup.options.isolation == "process":
        executor_options.run(setup.executor, remaining, dispatch, sink)
    else:
        local.run(remaining, dispatch, sink)
    if setup.options.find_max_len:
        find_max_lens(setup.preset, setup.options, dispatch, sink, done)


def command(args) -> int:
    from suite.records.lock import RunLock

    options, device, preset, outputs = resolve(args)
    cells = plan_cells(preset, options, device)
    if not cells and not options.find_max_len:
        raise UsageError("the plan has no cells: check --kinds, --tasks and --seq-lens")
    plan = executor_options.plan_executor(executor_options.ExecutorOptions.from_args(args), options, device, cells)
    child = ChildSettings(plugins=tuple(options.plugin), threads=plan.threads, mem_limit_bytes=options.mem_limit)
    setup = RunSetup(options, preset, device, outputs, plan, child.validate())
    if options.mem_limit is not None and options.isolation == "process":
        from suite.executors.isolated import child_base_bytes

        check_mem_limit(options.mem_limit, child_base_bytes())
    check_plugin_contract(options)
    run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{preset.name}"
    run_dir = Path(outputs.out) if outputs.out else REPO_ROOT / "results" / run_id
    check_outputs(outputs, run_dir, run_id)
    with RunLock(run_dir):
        manifest, remaining, done = start(setup, run_id, run_dir, cells)
        return execute_run(setup, run_dir, manifest, remaining, done)


def dispatch_of(setup: RunSetup, manifest: dict) -> Dispatch:
    """What every executor needs besides the cells: the device, the run-level fields of every
    record, the child set-up and the cell timeout."""
    env = manifest["environment"]
    context = RunContext(
        run_id=manifest["run_id"],
        preset=setup.preset.name,
        git_commit=env["git_commit"],
        hostname=env["hostname"],
        device_name=env["device_name"],
        torch_threads=setup.executor.threads or env["torch_threads"],
        executor=setup.executor.label,
    )
    timeout_s = setup.options.cell_timeout or setup.preset.cell_timeout_s
    return Dispatch(setup.device, context, setup.child, timeout_s).validate()


def execute_run(setup: RunSetup, run_dir: Path, manifest: dict, remaining, done: dict) -> int:
    """Run the remaining cells into ``run_dir`` (its lock held) and finish the manifest."""
    from suite.executors import isolated
    from suite.progress import Progress
    from suite.records.store import RecordWriter, write_manifest

    preset, device, outputs = setup.preset, setup.device, setup.outputs
    if preset.device == "cuda" and not is_cuda(device):
        print(f"warning: preset {preset.name!r} is sized for a GPU; on {device} it will be slow", file=sys.stderr)
    manifest.update(status="running")
    manifest.setdefault("executors", []).append(setup.executor.manifest())
    write_manifest(run_dir, manifest)
    dispatch = dispatch_of(setup, manifest)
    report = "no report" if outputs.no_report else f"report {report_path(outputs, manifest['run_id'])}"
    print(
        f"run {manifest['run_id']}: {len(remaining)} cells on {device} ({manifest['environment']['device_name']}), "
        f"preset {preset.name}, isolation {setup.options.isolation}, executor {setup.executor.label} -> {run_dir} "
        f"({report})",
        file=sys.stderr,
    )
    progress = Progress(len(remaining))
    try:
        with RecordWriter(run_dir) as writer:
            execute(setup, remaining, dispatch, RecordSink(writer, progress), done)
    except (KeyboardInterrupt, isolated.RunInterrupted):
        progress.close()
        manifest.update(status="interrupted")
        write_manifest(run_dir, manifest)
        print(
            f"interrupted: the records written so far are kept; finish with python -m suite run --resume "
            f"--out {shlex.quote(str(run_dir))}",
            file=sys.stderr,
        )
        return 130
    summary = progress.close()
    # the report is written whatever the cells did; then the exit status says whether any failed
    return finish(outputs, run_dir, manifest, summary, device) or progress.exit_status()


def finish(outputs: Outputs, run_dir: Path, manifest: dict, summary: str, device: str) -> int:
    from suite.records.store import read_records

    backends = backends_seen(read_records(run_dir), device)
    return finish_run(outputs, run_dir, manifest, summary=summary, backends=backends)


def backends_seen(records, device: str) -> dict:
    """spec → the backend that ran (and why faster ones were passed over), or why none could."""
    from suite.stacks import passed_over

    seen = {}
    for record in records:
        if record["status"] == "skipped":
            seen.setdefault(record["model"], f"skipped: {record['error']}")
        elif record.get("backend") and record["model"] not in seen:
            reasons = passed_over(record["model"], device)
            seen[record["model"]] = record["backend"] + (f" ({'; '.join(reasons)})" if reasons else "")
    return seen
