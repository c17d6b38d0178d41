"""``python -m suite bench speed``: is minGRU faster than cuDNN's GRU here, and by how much?

Times one training step (forward + loss + backward) of every min-RNN scan
backend, the classic RNNs (``nn.GRU``/``nn.LSTM``: cuDNN on CUDA, ATen on CPU)
and their sequential baselines (``gru:loop``/``lstm:loop``: ``nn.GRUCell`` /
``nn.LSTMCell`` stepped in Python, the paper's comparison), Mamba, Mamba-2 and
the Transformer, per length, at two scopes (the mixer alone, the whole model),
plus the scans' bandwidth against a copy, and at mixer scope each min-RNN
family's input projections alone (``mingru:projections``: the floor its step
cannot go below; the summary prints each mixer's step over it). How each
number is taken: :mod:`suite.measure.speed`.

A bench is a run like ``suite run``'s: each subject is a speed cell, and every
subject of one length and scope is one *unit*, timed interleaved in its own child
process (:mod:`suite.measure.speed_units`, :mod:`suite.executors.isolated`), one
unit at a time (timings taken side by side would disturb each other). The run
directory is locked for the whole bench (a second bench into the same ``--out``
is refused, exit 2), every record passes through the run's record sink, and
``--resume`` re-times only the units without a record of every subject.

Output: ``records.jsonl`` (``kind: speed``, with ``scope``, ``train_step_ms``,
``iqr_ms``, ``timing_repeats``, ``train_step_raw_ms``) and ``manifest.json`` in
``--out``, the speed ratios measured in this run on stdout and in the manifest,
and an HTML report. Exit status as ``run``'s (:data:`suite.progress.EXIT_CODES`).
"""

from __future__ import annotations

import dataclasses
import datetime
import shlex
import sys
from pathlib import Path

from suite.commands.bench_options import DEFAULT_MODELS, BenchOptions, add_arguments, check_fits
from suite.commands.run_state import (
    Outputs,
    check_report_path,
    finish_run,
    read_environment,
    report_label,
    report_path,
)
from suite.errors import UsageError
from suite.paths import REPO_ROOT
from suite.plan.settings import ChildSettings, Dispatch, RunContext
from suite.records.manifest import merge_options, new_manifest, open_run

__all__ = ["DEFAULT_MODELS", "add_arguments", "command"]
PRESET = "bench-speed"  # the records' and the manifest's preset


def resolve(args) -> tuple[BenchOptions, str, Outputs]:
    """The bench's options (merged with the manifest on ``--resume``, validated once, ``dtype``
    resolved for the device), its device and its outputs."""
    from suite.measure.environment import resolve_device
    from suite.plan.presets import resolve_dtype

    outputs = Outputs.from_args(args)
    if outputs.resume and not outputs.out:
        raise UsageError("--resume needs --out: the bench directory to finish")
    run_dir = Path(outputs.out) if outputs.out else None
    if outputs.resume:
        check_is_a_bench(run_dir)
    given = {name: getattr(args, name) for name in BenchOptions.names()}
    merged = merge_options(given, BenchOptions().as_dict(), run_dir, outputs.resume)
    options = BenchOptions(**merged).validate()
    device = resolve_device(options.device)
    options = dataclasses.replace(options, dtype=resolve_dtype(options.dtype, device))
    check_fits(options, device)
    return options, device, outputs


def check_is_a_bench(run_dir: Path) -> None:
    """``--resume`` finishes a bench, not a ``suite run``: their options and cells differ."""
    from suite.records.manifest import ResumeError
    from suite.records.store import MANIFEST, read_manifest

    if (run_dir / MANIFEST).is_file() and read_manifest(run_dir).get("preset") != PRESET:
        raise ResumeError(
            f"--resume: {run_dir} holds a `suite run`, not a bench: finish it with python -m suite run --resume "
            f"--out {shlex.quote(str(run_dir))}"
        )


def plan(options: BenchOptions) -> list:
    """The bench's units (:func:`suite.measure.speed_units.plan_units`)."""
    from suite.measure.speed_units import plan_units
    from suite.plan.cells import SpeedTiming

    timing = SpeedTiming(
        dtype=options.dtype,
        warmup=options.warmup,
        repeats=options.repeats,
        min_time_s=options.min_time_s,
        tf32=options.tf32 == "on",
    )
    return plan_units(
        options.models, options.scopes, options.seq_lens, options.batch_size, options.d_model, options.seed, timing
    )


def plan_summary(units: list, options: BenchOptions) -> dict:
    """The manifest's ``plan``: units and speed cells, models, scopes and lengths."""
    return {
        "units": len(units),
        "speed_cells": sum(len(unit.cells) for unit in units),
        "models": list(options.models),
        "scopes": list(options.scopes),
        "seq_lens": list(options.seq_lens),
        "seeds": [options.seed],
    }


def command(args) -> int:
    from suite.records.lock import RunLock

    options, device, outputs = resolve(args)
    run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{PRESET}"
    run_dir = Path(outputs.out) if outputs.out else REPO_ROOT / "results" / run_id
    if not outputs.no_report:
        check_report_path(report_path(outputs, run_id), *report_label(outputs, run_id), run_dir)
    units = plan(options)
    child = ChildSettings(threads=options.threads).validate()
    with RunLock(run_dir):
        manifest, done = open_run(
            run_dir,
            outputs.resume,
            fresh=lambda: new_manifest(run_id, PRESET, None, options.as_dict(), plan_summary(units, options)),
            environment=lambda: read_environment(device, "process", child),
        )
        remaining = [unit for unit in units if not unit.is_recorded(done)]
        if manifest.get("resumes"):
            print(
                f"resuming {manifest['run_id']}: {len(units) - len(remaining)} of {len(units)} units already recorded",
                file=sys.stderr,
            )
        return time_units(outputs, run_dir, manifest, remaining, Dispatch(device, settings=child))


def dispatch_of(manifest: dict, dispatch: Dispatch) -> Dispatch:
    """``dispatch`` with the run-level fields of every record; no timeout (a unit takes what it takes)."""
    env = manifest["environment"]
    context = RunContext(
        run_id=manifest["run_id"],
        preset=PRESET,
        git_commit=env["git_commit"],
        hostname=env["hostname"],
        device_name=env["device_name"],
        torch_threads=dispatch.settings.threads or env["torch_threads"],
        executor="local",
    )
    return dataclasses.replace(dispatch, context=context).validate()


def executor_note(threads: int | None) -> dict:
    """The manifest's ``executors`` entry of this start: local, one unit at a time."""
    return {
        "executor": "local",
        "label": "local",
        "torch_threads": threads,
        "started": datetime.datetime.now(datetime.UTC).isoformat(),
        "cells_at_once": 1,
        "timed_cells_shared_cores": False,
    }


def time_units(outputs: Outputs, run_dir: Path, manifest: dict, remaining: list, dispatch: Dispatch) -> int:
    """Time the remaining units into ``run_dir`` (its lock held), one child each, then finish the bench."""
    from suite.executors import RecordSink, isolated
    from suite.progress import Progress
    from suite.records.store import RecordWriter, write_manifest

    manifest.update(status="running")
    manifest.setdefault("executors", []).append(executor_note(dispatch.settings.threads))
    write_manifest(run_dir, manifest)
    dispatch = dispatch_of(manifest, dispatch)
    options = manifest["options"]
    report = "no report" if outputs.no_report else f"report {report_path(outputs, manifest['run_id'])}"
    print(
        f"bench speed {manifest['run_id']}: {len(remaining)} units on {dispatch.device} "
        f"({dispatch.context.device_name}), {options['dtype']}, B={options['batch_size']} D={options['d_model']} "
        f"-> {run_dir} ({report})",
        file=sys.stderr,
    )
    progress = Progress(sum(len(unit.cells) for unit in remaining))
    try:
        with RecordWriter(run_dir) as writer:
            isolated.run(remaining, dispatch, RecordSink(writer, progress))
    except (KeyboardInterrupt, isolated.RunInterrupted):
        progress.close()
        manifest.update(status="interrupted")
        write_manifest(run_dir, manifest)
        print(
            f"interrupted: the records written so far are kept; finish with python -m suite bench speed --resume "
            f"--out {shlex.quote(str(run_dir))}",
            file=sys.stderr,
        )
        return 130
    progress.close()
    return finish(outputs, run_dir, manifest) or progress.exit_status()


def finish(outputs: Outputs, run_dir: Path, manifest: dict) -> int:
    """Print the bench's figures, keep its speed ratios in the manifest and write its report."""
    from suite.commands.bench_summary import print_summary, projection_overheads, speedups_of
    from suite.records.store import read_records

    latest = {record["cell_key"]: record for record in read_records(run_dir) if record["kind"] == "speed"}
    records = list(latest.values())  # a unit re-timed on resume: its latest records
    ratios = speedups_of(records)
    print_summary(records, ratios)
    overheads = projection_overheads(records)
    return finish_run(outputs, run_dir, manifest, speed_ratios=ratios, projection_overheads=overheads)
