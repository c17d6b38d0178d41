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
from pathlib import Path

from suite.commands.arguments import csv_ints, csv_list, csv_positive_floats, csv_positive_ints, parse_bytes
from suite.commands.run_state import (
    check_report_path,
    finish_run,
    new_manifest,
    note_resume,
    read_environment,
    report_label,
    report_path,
    resume_state,
    run_options,
)
from suite.devices import is_cuda
from suite.errors import UsageError
from suite.executors import RecordSink
from suite.executors import options as executor_options
from suite.plan.overrides import apply_overrides, preset_from_file
from suite.paths import REPO_ROOT
from suite.plugins import load_plugins
from suite.plan.settings import ChildSettings, Dispatch, RunContext, RunOptions, check_mem_limit


def add_arguments(run) -> None:
    from suite.plan.presets import PRESETS

    # Options that define the run default to None here: --resume takes unset ones from the manifest.
    run.add_argument("--models", type=csv_list, default=None, help="all, or specs family[:backend],... (default: all)")
    run.add_argument("--tasks", type=csv_list, default=None, help="all, or task names (default: the preset's)")
    run.add_argument("--seq-lens", type=csv_positive_ints, default=None, help="train lengths of accuracy cells")
    run.add_argument(
        "--train-len",
        type=csv_positive_ints,
        default=None,
        help="one train length for accuracy cells (same as --seq-lens L)",
    )
    run.add_argument(
        "--eval-lens",
        type=csv_positive_ints,
        default=None,
        help="score each trained accuracy cell at these lengths, e.g. 64,128,256,512",
    )
    run.add_argument(
        "--lrs",
        type=csv_positive_floats,
        default=None,
        help="learning rates swept per accuracy cell; the best on the validation stream is kept",
    )
    run.add_argument(
        "--match",
        choices=("width", "params"),
        default=None,
        help="width: the preset's d_model for all (default); params: widths matched on parameters",
    )
    run.add_argument("--perf-seq-lens", type=csv_positive_ints, default=None, help="lengths of perf cells")
    run.add_argument(
        "--perf-repeats",
        type=int,
        default=None,
        help="timed repeats of each perf cell, replacing the preset's (e.g. a quick GPU check)",
    )
    run.add_argument(
        "--tf32",
        choices=("on", "off"),
        default=None,
        help="TF32 for fp32 matmuls and cuDNN on CUDA, set once per cell for every model (default: "
        "the preset's, off for fp32 presets)",
    )
    run.add_argument("--kinds", type=csv_list, default=None, help="accuracy,perf (default: both)")
    run.add_argument(
        "--preset",
        default=None,
        help=f"one of {', '.join(PRESETS)} (default: cpu, or standard on a GPU; `python -m suite list` describes them)",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="change one preset field, e.g. train_steps=500 or task_params.mqar.num_kv_pairs=8 "
        "(repeatable; see docs/presets.md)",
    )
    run.add_argument(
        "--config",
        default=None,
        metavar="FILE.toml",
        help='the preset from a TOML file of preset fields (base = "cpu" starts from one)',
    )
    run.add_argument("--device", default=None, help="auto, cpu or cuda[:N] (default: auto)")
    run.add_argument("--seeds", type=csv_ints, default=None, help="e.g. 0,1,2 (default: 0)")
    run.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    run.add_argument("--plugin", action="append", default=None, help="python file registering models/tasks")
    run.add_argument(
        "--isolation",
        choices=("process", "none"),
        default=None,
        help="process: every cell in its own child (default); none: all in this process",
    )
    run.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: the preset's)")
    run.add_argument("--mem-limit", type=parse_bytes, default=None, help="memory cap per cell's process, e.g. 2GiB")
    run.add_argument(
        "--find-max-len",
        action="store_true",
        default=None,
        help="per model, double the length from --max-len-start until a perf probe fails",
    )
    run.add_argument("--max-len-start", type=int, default=None, help="first length probed (default: 256)")
    run.add_argument("--max-len-limit", type=int, default=None, help="stop doubling past this (default: 1048576)")
    run.add_argument("--out", default=None, help="run directory (default: results/<run_id>)")
    run.add_argument("--resume", action="store_true", help="finish the run in --out: only cells without a record")
    run.add_argument(
        "--report",
        default=None,
        help="report file (default: report.html in --out; without --out, reports/<run_id>.html)",
    )
    run.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    executor_options.add_arguments(run)


def resolve(args, run_dir: Path | None):
    """The run's options (validated), its device and its preset (with the options' overrides)."""
    from suite.measure.environment import resolve_device
    from suite.plan.presets import default_preset_name, get_preset

    options = run_options(args, run_dir).validate()
    load_plugins(options.plugin)
    device = resolve_device(options.device)
    if options.config:
        preset = preset_from_file(options.config)
    else:
        preset = get_preset(options.preset or default_preset_name(device))
    preset = apply_overrides(preset, options.overrides)
    if not args.resume or not (run_dir / "manifest.json").is_file():  # a preset may name its own models and kinds
        defaults = RunOptions()
        options.models = args.models if args.models is not None else list(preset.models) or defaults.models
        options.kinds = args.kinds if args.kinds is not None else list(preset.kinds) or defaults.kinds
    options.validate()
    if options.perf_repeats is not None:
        preset = dataclasses.replace(preset, perf_repeats=options.perf_repeats)
    if options.tf32 is not None:
        preset = dataclasses.replace(preset, tf32=options.tf32 == "on")
    return options, device, preset


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


def start(args, run_id: str, run_dir: Path, preset, options: RunOptions, cells, device, settings: ChildSettings):
    """Under the run directory's lock: the manifest, cells still to run and records already there.

    A new run writes its manifest (status ``starting``) before anything else, so a run killed
    at any moment can be resumed; the environment, read in a child, is added after."""
    from suite.measure.cell import is_recorded
    from suite.records.store import MANIFEST, prepare_run_dir, write_manifest

    if args.resume and (run_dir / MANIFEST).is_file():
        manifest, done = resume_state(run_dir, preset)
        note_resume(manifest)
        remaining = [cell for cell in cells if not is_recorded(cell, done)]
        print(
            f"resuming {manifest['run_id']}: {len(cells) - len(remaining)} of {len(cells)} cells already recorded",
            file=sys.stderr,
        )
        if not manifest.get("environment"):  # killed while starting
            manifest["environment"] = read_environment(device, options, settings)
        return manifest, remaining, done
    if args.resume:
        print(
            f"resuming: {run_dir} holds no manifest yet (a run stopped in its first moment): starting it afresh",
            file=sys.stderr,
        )
    prepare_run_dir(run_dir)
    manifest = new_manifest(run_id, preset, options, cells, None)
    write_manifest(run_dir, {**manifest, "status": "starting"})
    manifest["environment"] = read_environment(device, options, settings)
    return manifest, cells, {}


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


def check_outputs(args, run_dir: Path, run_id: str) -> None:
    """Refuse a report path that cannot be written before any cell runs."""
    if args.no_report:
        return
    check_report_path(report_path(args, run_id), *report_label(args, run_id), run_dir)


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


def execute(plan, options: RunOptions, preset, remaining, dispatch: Dispatch, sink: RecordSink, done: dict) -> None:
    from suite.executors import local

    if options.isolation == "process":
        executor_options.run(plan, remaining, dispatch, sink)
    else:
        local.run(remaining, dispatch, sink)
    if options.find_max_len:
        find_max_lens(preset, options, dispatch, sink, done)


def command(args) -> int:
    from suite.records.lock import RunLock

    if args.resume and not args.out:
        raise UsageError("--resume needs --out: the run directory to finish")
    options, device, preset = resolve(args, Path(args.out) if args.out else None)
    cells = plan_cells(preset, options, device)
    if not cells and not options.find_max_len:
        raise UsageError("the plan has no cells: check --kinds, --tasks and --seq-lens")
    plan = executor_options.plan_executor(executor_options.ExecutorOptions.from_args(args), options, device, cells)
    settings = ChildSettings(
        plugins=tuple(options.plugin), threads=plan.threads, mem_limit_bytes=options.mem_limit
    ).validate()
    if options.mem_limit is not None and options.isolation == "process":
        from suite.executors.isolated import child_base_bytes

        check_mem_limit(options.mem_limit, child_base_bytes())
    check_plugin_contract(options)
    run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{preset.name}"
    run_dir = Path(args.out) if args.out else REPO_ROOT / "results" / run_id
    check_outputs(args, run_dir, run_id)
    with RunLock(run_dir):
        manifest, remaining, done = start(args, run_id, run_dir, preset, options, cells, device, settings)
        return execute_run(args, run_dir, manifest, (preset, options, plan, settings), remaining, done, device)


def execute_run(args, run_dir: Path, manifest: dict, how: tuple, remaining, done: dict, device: str) -> int:
    """Run the remaining cells into ``run_dir`` (its lock held) and finish the manifest."""
    from suite.executors import isolated
    from suite.progress import Progress
    from suite.records.store import RecordWriter, write_manifest

    preset, options, plan, settings = how
    env = manifest["environment"]
    if preset.device == "cuda" and not is_cuda(device):
        print(f"warning: preset {preset.name!r} is sized for a GPU; on {device} it will be slow", file=sys.stderr)
    manifest.update(status="running")
    manifest.setdefault("executors", []).append(plan.manifest())
    write_manifest(run_dir, manifest)
    context = RunContext(
        run_id=manifest["run_id"],
        preset=preset.name,
        git_commit=env["git_commit"],
        hostname=env["hostname"],
        device_name=env["device_name"],
        torch_threads=plan.threads or env["torch_threads"],
        executor=plan.label,
    )
    dispatch = Dispatch(device, context, settings, options.cell_timeout or preset.cell_timeout_s).validate()
    report = "no report" if args.no_report else f"report {report_path(args, manifest['run_id'])}"
    print(
        f"run {context.run_id}: {len(remaining)} cells on {device} ({env['device_name']}), preset {preset.name}, "
        f"isolation {options.isolation}, executor {plan.label} -> {run_dir} ({report})",
        file=sys.stderr,
    )
    progress = Progress(len(remaining))
    try:
        with RecordWriter(run_dir) as writer:
            execute(plan, options, preset, remaining, dispatch, RecordSink(writer, progress), done)
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
    return finish(args, run_dir, manifest, summary, device) or progress.exit_status()


def finish(args, run_dir: Path, manifest: dict, summary: str, device: str) -> int:
    from suite.records.store import read_records

    return finish_run(args, run_dir, manifest, summary=summary, backends=backends_seen(read_records(run_dir), device))


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
