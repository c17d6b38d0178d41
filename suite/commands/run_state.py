"""What defines a run and how a started one is found again: the options that
make its cells (new runs fill defaults; ``--resume`` takes them from the
manifest and refuses contradictions), the manifest of a new run (its
``command`` stays the one that started it; each ``--resume`` is appended to
``resumes``), the records a resumed run already has, and how a run ends: where
its report goes, checked before the first cell, and the report written whole
or not at all.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from suite.errors import UsageError
from suite.plan.settings import ChildSettings, RunOptions


class ResumeError(UsageError):
    """A run cannot be started or resumed as asked; the message says the fix."""


# The command-line flag of each RunOptions field whose flag is not ``--`` + its name with dashes.
FLAGS = {"overrides": "--set"}
REPEATED = ("overrides", "plugin")  # flags given once per value


def flag_of(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def as_typed(name: str, value) -> str:
    """A run option as it is written on the command line: ``--set a=1 --set b=2``, ``--models mingru,gru``,
    ``no --set`` for an empty or unset one."""
    flag = flag_of(name)
    if value is None or value is False or value == []:
        return f"no {flag}"
    if value is True:
        return flag
    if name in REPEATED:
        return " ".join(f"{flag} {shlex.quote(str(item))}" for item in value)
    if isinstance(value, (list, tuple)):
        return f"{flag} {','.join(str(item) for item in value)}"
    return f"{flag} {shlex.quote(str(value))}"


def invocation() -> list[str]:
    """This process's command line, as the manifest records it."""
    return [sys.executable, "-m", "suite", *sys.argv[1:]]


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
            raise ResumeError(
                f"--resume: {run_dir} holds records but no manifest.json, so what made them is "
                "unknown: choose a new --out"
            )
        if not run_dir.is_dir():
            raise ResumeError(f"--resume: {run_dir} does not exist; start the run without --resume")
        from suite.records.lock import left_by_a_run

        if not left_by_a_run(run_dir):
            raise ResumeError(
                f"--resume: {run_dir} never held a run (no manifest.json, no lock): check --out, "
                "or start the run without --resume"
            )
        recorded = {}  # a run stopped before its first write: it starts afresh with these options
    else:
        recorded = read_manifest(run_dir).get("options") or {}
    for name, value in given.items():
        if value is not None and name in recorded and value != recorded[name]:
            raise ResumeError(
                f"--resume: the run in {run_dir} was made with {as_typed(name, recorded[name])}, this "
                f"command says {as_typed(name, value)}; resume with the same options (or none) or "
                "choose a new --out"
            )
    return RunOptions(
        **{name: recorded.get(name, defaults[name]) if value is None else value for name, value in given.items()}
    )


def resume_state(run_dir: Path, preset) -> tuple[dict, dict]:
    """The manifest of the run to finish and its records by cell key (a torn tail cut off first)."""
    from suite.records.store import read_manifest, read_records, repair_torn_tail

    manifest = read_manifest(run_dir)
    current = json.loads(json.dumps(preset.as_dict()))  # as stored: tuples → lists
    defaults = json.loads(json.dumps(type(preset)(name=preset.name, description="").as_dict()))
    stored = manifest.get("preset_config") or {}
    # a field added to Preset since the run began counts as unchanged while it holds its default
    stored = {**{k: v for k, v in current.items() if k not in stored and v == defaults.get(k)}, **stored}
    if stored != current:
        raise ResumeError(
            f"--resume: preset {preset.name!r} has changed since the run in {run_dir} began; "
            "its cells would not match: choose a new --out"
        )
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
    """A new run's manifest; ``command`` is the command that started it, and stays that when the
    run is resumed (:func:`note_resume`)."""
    return {
        "run_id": run_id,
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "command": invocation(),
        "preset": preset.name,
        "preset_config": preset.as_dict(),
        "environment": env,
        "options": options.as_dict(),
        "plan": {
            "accuracy_cells": sum(c.kind == "accuracy" for c in cells),
            "perf_cells": sum(c.kind == "perf" for c in cells),
            "models": list(dict.fromkeys(c.model for c in cells)),
            "tasks": list(dict.fromkeys(c.task for c in cells if c.task)),
            "seq_lens": sorted({c.seq_len for c in cells if c.kind == "accuracy"}),
            "perf_seq_lens": sorted({c.seq_len for c in cells if c.kind == "perf"}),
            "seeds": list(options.seeds),
        },
    }


def note_resume(manifest: dict) -> None:
    """Record this ``--resume`` in the manifest: ``command`` stays the command that started the run,
    ``resumes`` gains this one and when it began."""
    manifest.setdefault("command", invocation())  # a run killed before it recorded its command
    manifest.setdefault("resumes", []).append(
        {"command": invocation(), "at": datetime.datetime.now(datetime.UTC).isoformat()}
    )


def report_label(args, run_id: str) -> tuple[str, str]:
    """How the report path is named in a refusal, and the fix (``run`` and ``bench``)."""
    path = report_path(args, run_id)
    if args.report:
        return f"--report {path}", "choose another --report, or --no-report"
    if args.out:
        return f"--out {args.out}", "choose another --out"
    return f"the report {path}", "choose a --report, or --no-report"


def report_path(args, run_id: str) -> Path:
    """Where the report goes: ``--report``, else ``report.html`` in ``--out``, else ``reports/<run_id>.html``."""
    from suite.paths import REPO_ROOT

    if args.report:
        return Path(args.report)
    if args.out:
        return Path(args.out) / "report.html"
    return REPO_ROOT / "reports" / f"{run_id}.html"


PROTECTED = ("records.jsonl", "manifest.json", ".lock")  # a run directory's own files: never a report


def check_report_path(path, label: str, fix: str, run_dir=None) -> None:
    """Refuse, in one line, a report path that cannot be written, or whose writing would destroy a
    file that is not a report, before anything runs. ``label`` names the path as the user gave it
    (``--report FILE``); ``fix`` says what to do instead. The folder is probed by creating (and
    removing) a file in it: permission bits do not say it (root may write anywhere, but not in ``/proc``)."""
    path = Path(path)

    def refuse(why: str):
        raise UsageError(f"{label} cannot be written ({why}): {fix}")

    if path.is_dir():
        refuse("it is a folder")
    if run_dir is not None and path.name in PROTECTED and path.parent.resolve() == Path(run_dir).resolve():
        refuse(f"it is the run's own {path.name}")
    if path.exists() and path.suffix.lower() not in (".html", ".htm"):
        refuse("it exists and is not an HTML report")
    if path.exists() and not os.access(path, os.W_OK):
        refuse("it is read-only")
    folder = next((parent for parent in path.parents if parent.exists()), Path("."))
    if not folder.is_dir():
        refuse(f"{folder} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        refuse(f"{folder} is not a writable folder: {error.strerror}")


def write_report_atomically(run_dir: Path, path: Path) -> Path:
    """Write the report to a temporary file beside ``path``, then rename it: an interrupted write
    leaves the report as it was (or none), never half a file."""
    from suite.report import write_report

    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write_report(run_dir, temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def finish_run(args, run_dir: Path, manifest: dict, **fields) -> int:
    """Mark the run finished (with ``fields``), say where its records are, and write its report
    unless ``--no-report``: how ``run`` and ``bench`` end."""
    from suite.records.store import write_manifest

    manifest.update(status="finished", finished=datetime.datetime.now(datetime.UTC).isoformat(), **fields)
    write_manifest(run_dir, manifest)
    print(f"records: {run_dir / 'records.jsonl'}")
    if not args.no_report:
        path = report_path(args, manifest["run_id"])
        try:
            write_report_atomically(run_dir, path)
        except KeyboardInterrupt:
            print(
                f"interrupted: records complete in {run_dir}; write the report with python -m suite report "
                f"{shlex.quote(str(run_dir))} --out {shlex.quote(str(path))}",
                file=sys.stderr,
            )
            return 130
        print(f"report: {path}")
    return 0
