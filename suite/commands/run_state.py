"""What defines a run and how a started one is found again: the options that
make its cells (new runs fill defaults; ``--resume`` takes them from the
manifest and refuses contradictions), the manifest of a new run, and the
records a resumed run already has.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path

from suite.errors import UsageError
from suite.settings import ChildSettings, RunOptions


class ResumeError(UsageError):
    """A run cannot be started or resumed as asked; the message says the fix."""


def run_options(args, run_dir: Path | None) -> RunOptions:
    """The options that define a run. A new run fills unset ones with defaults; ``--resume``
    takes them from the manifest and refuses options that contradict it."""
    given = {name: getattr(args, name) for name in RunOptions.names()}
    defaults = RunOptions().as_dict()
    if not args.resume:
        return RunOptions(**{name: defaults[name] if value is None else value for name, value in given.items()})
    from suite.records.store import read_manifest

    if not (run_dir / "manifest.json").is_file():
        if (run_dir / "records.jsonl").is_file() and (run_dir / "records.jsonl").stat().st_size:
            raise ResumeError(f"--resume: {run_dir} holds records but no manifest.json, so what made them is "
                              "unknown: choose a new --out")
        if not run_dir.is_dir():
            raise ResumeError(f"--resume: {run_dir} does not exist; start the run without --resume")
        recorded = {}  # a run stopped before its first write: it starts afresh with these options
    else:
        recorded = read_manifest(run_dir).get("options") or {}
    for name, value in given.items():
        if value is not None and name in recorded and value != recorded[name]:
            flag = "--" + name.replace("_", "-")
            raise ResumeError(f"--resume: the run in {run_dir} was made with {flag} {recorded[name]!r}, this command "
                              f"says {value!r}; resume with the same options (or none) or choose a new --out")
    return RunOptions(**{name: recorded.get(name, defaults[name]) if value is None else value
                         for name, value in given.items()})


def resume_state(run_dir: Path, preset) -> tuple[dict, dict]:
    """The manifest of the run to finish and its records by cell key (a torn tail cut off first)."""
    from suite.records.store import read_manifest, read_records, repair_torn_tail

    manifest = read_manifest(run_dir)
    current = json.loads(json.dumps(preset.as_dict()))  # as stored: tuples → lists
    defaults = json.loads(json.dumps(dataclasses.asdict(type(preset)(name=preset.name, description=""))))
    stored = manifest.get("preset_config") or {}
    # a field added to Preset since the run began counts as unchanged while it holds its default
    stored = {**{k: v for k, v in current.items() if k not in stored and v == defaults.get(k)}, **stored}
    if stored != current:
        raise ResumeError(f"--resume: preset {preset.name!r} has changed since the run in {run_dir} began; "
                         "its cells would not match: choose a new --out")
    done = {}
    if not (run_dir / "records.jsonl").is_file():  # stopped before its first record
        return manifest, done
    repair_torn_tail(run_dir)
    for record in read_records(run_dir, strict=True):
        done[record.get("cell_key")] = record
        if record.get("eval_len") is not None:  # an extrapolation cell: remember every length it has
            done[(record.get("cell_key"), record["eval_len"])] = record
    return manifest, done


def read_environment(device: str, options: RunOptions, settings: ChildSettings) -> dict:
    """Versions and device; read in a child when cells run in children, so the driver never touches CUDA."""
    from suite.measure import environment
    from suite.executors import isolated

    if options.isolation != "process":
        return environment.collect(device)
    env, failure = isolated.call_in_child(environment.collect, (device,), settings, 300)
    if failure:
        raise ResumeError(f"could not read the environment in a child process: {failure[1]}")
    return env


def new_manifest(run_id: str, preset, options: RunOptions, cells, env: dict) -> dict:
    return {
        "run_id": run_id, "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "preset": preset.name, "preset_config": preset.as_dict(), "environment": env, "options": options.as_dict(),
        "plan": {"accuracy_cells": sum(c.kind == "accuracy" for c in cells),
                 "perf_cells": sum(c.kind == "perf" for c in cells),
                 "models": list(dict.fromkeys(c.model for c in cells)),
                 "tasks": list(dict.fromkeys(c.task for c in cells if c.task)),
                 "seq_lens": sorted({c.seq_len for c in cells if c.kind == "accuracy"}),
                 "perf_seq_lens": sorted({c.seq_len for c in cells if c.kind == "perf"}),
                 "seeds": list(options.seeds)},
    }


def finish_run(args, run_dir: Path, manifest: dict, **fields) -> int:
    """Mark the run finished (with ``fields``), say where its records are, and write its report
    unless ``--no-report``: how ``run`` and ``bench`` end."""
    from suite.paths import REPO_ROOT
    from suite.records.store import write_manifest

    manifest.update(status="finished", finished=datetime.datetime.now(datetime.timezone.utc).isoformat(), **fields)
    write_manifest(run_dir, manifest)
    print(f"records: {run_dir / 'records.jsonl'}")
    if not args.no_report:
        from suite.report import write_report

        path = write_report(run_dir, args.report or REPO_ROOT / "reports" / f"{manifest['run_id']}.html")
        print(f"report: {path}")
    return 0
