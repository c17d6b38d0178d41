"""How a command's run begins and ends, on the command line's side: the flags that name its
outputs (:class:`Outputs`), the ``run`` flags turned into :class:`suite.plan.settings.RunOptions`
(merged with the manifest on ``--resume`` by :func:`suite.records.manifest.merge_options`), the
environment read where cells run, where the report goes (checked before the first cell), and the
report written whole or not at all. What defines a run, its manifest and resume are in
:mod:`suite.records.manifest`.
"""

from __future__ import annotations

import datetime
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from suite.errors import UsageError
from suite.plan.settings import ChildSettings, RunOptions
from suite.records.manifest import ResumeError, merge_options

__all__ = ["Outputs", "run_options", "read_environment", "finish_run"]


@dataclass(frozen=True)
class Outputs:
    """Where a run goes and whether it continues one (``--out``, ``--report``, ``--no-report``,
    ``--resume``): read from the flags once, then passed instead of them."""

    out: str | None = None
    report: str | None = None
    no_report: bool = False
    resume: bool = False

    @classmethod
    def from_args(cls, args) -> Outputs:
        return cls(args.out, args.report, bool(args.no_report), bool(getattr(args, "resume", False)))


def run_options(args, run_dir: Path | None) -> RunOptions:
    """The options that define a run, not yet validated. A new run fills unset ones with defaults;
    ``--resume`` takes them from the manifest and refuses options that contradict it."""
    given = {name: getattr(args, name) for name in RunOptions.names()}
    return RunOptions(**merge_options(given, RunOptions().as_dict(), run_dir, bool(args.resume)))


def read_environment(device: str, isolation: str, settings: ChildSettings) -> dict:
    """Versions and device; read in a child when cells run in children, so the driver never touches CUDA."""
    from suite.executors import isolated
    from suite.measure import environment

    if isolation != "process":
        return environment.collect(device)
    env, failure = isolated.call_in_child(environment.collect, (device,), settings, 300)
    if failure:
        raise ResumeError(f"could not read the environment in a child process: {failure[1]}")
    return env


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
    """Mark the run finished (with ``fields``), say where its records are, and write its report and
    ``analysis.json`` beside the records (only the analysis with ``--no-report``): how ``run`` and ``bench`` end."""
    from suite.records.store import write_manifest

    manifest.update(status="finished", finished=datetime.datetime.now(datetime.UTC).isoformat(), **fields)
    write_manifest(run_dir, manifest)
    print(f"records: {run_dir / 'records.jsonl'}")
    if args.no_report:  # the analysis is written either way: compare, history and CI read it
        from suite.analysis.run_analysis import analyse_run, write_analysis

        print(f"analysis: {write_analysis(analyse_run(run_dir), run_dir)}")
    else:
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
