"""What defines a run and how a started one is found again, for ``run`` and ``bench`` alike.

- The options that define a run's cells (:func:`merge_options`): a new run fills
  unset ones with defaults; ``--resume`` takes them from the manifest and
  refuses, in one line, options that contradict it.
- The manifest of a new run (:func:`new_manifest`): its ``command`` stays the
  one that started it; each ``--resume`` is appended to ``resumes``
  (:func:`note_resume`).
- How a run is opened under its lock (:func:`open_run`): a new run writes its
  manifest (status ``starting``) before anything else, so a run killed at any
  moment can be resumed; a resumed one gets back its manifest and the records it
  already has, by cell key (:func:`recorded_by_key`, a torn last line cut off
  first).

Everything here is plain data: the commands turn their flags into the ``given``
and ``defaults`` dictionaries, and the plan's configuration into
``preset_config``.
"""

from __future__ import annotations

import datetime
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from suite.errors import UsageError
from suite.records.store import (
    MANIFEST,
    RECORDS,
    prepare_run_dir,
    read_manifest,
    read_records,
    repair_torn_tail,
    write_manifest,
)

# The command-line flag of each option whose flag is not ``--`` + its name with dashes.
FLAGS = {"overrides": "--set"}
REPEATED = ("overrides", "plugin")  # flags given once per value


class ResumeError(UsageError):
    """A run cannot be started or resumed as asked; the message says the fix."""


def flag_of(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def as_typed(name: str, value) -> str:
    """An option as it is written on the command line: ``--set a=1 --set b=2``, ``--models mingru,gru``,
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


def _recorded_options(run_dir: Path) -> dict:
    """The options a run to be resumed was started with; ``{}`` for a run stopped before its manifest."""
    from suite.records.lock import left_by_a_run

    if (run_dir / MANIFEST).is_file():
        return read_manifest(run_dir).get("options") or {}
    if (run_dir / RECORDS).is_file() and (run_dir / RECORDS).stat().st_size:
        raise ResumeError(
            f"--resume: {run_dir} holds records but no manifest.json, so what made them is unknown: choose a new --out"
        )
    if not run_dir.is_dir():
        raise ResumeError(f"--resume: {run_dir} does not exist; start the run without --resume")
    if not left_by_a_run(run_dir):
        raise ResumeError(
            f"--resume: {run_dir} never held a run (no manifest.json, no lock): check --out, "
            "or start the run without --resume"
        )
    return {}  # a run stopped before its first write: it starts afresh with these options


def merge_options(given: dict, defaults: dict, run_dir: Path | None, resume: bool) -> dict:
    """The options that define a run, from ``given`` (None: not given on the command line).

    A new run fills unset ones from ``defaults``; ``--resume`` takes them from the manifest in
    ``run_dir`` and refuses a given option that contradicts it."""
    if not resume:
        return {name: defaults[name] if value is None else value for name, value in given.items()}
    recorded = _recorded_options(Path(run_dir))
    for name, value in given.items():
        if value is not None and name in recorded and value != recorded[name]:
            raise ResumeError(
                f"--resume: the run in {run_dir} was made with {as_typed(name, recorded[name])}, this "
                f"command says {as_typed(name, value)}; resume with the same options (or none) or "
                "choose a new --out"
            )
    return {name: recorded.get(name, defaults[name]) if value is None else value for name, value in given.items()}


def check_preset_unchanged(manifest: dict, name: str, current: dict, defaults: dict, run_dir: Path) -> None:
    """Refuse to resume a run whose preset has changed since it began (its cells would not match).
    A field added to the preset since then counts as unchanged while it holds its default."""
    current = json.loads(json.dumps(current))  # as stored: tuples → lists
    defaults = json.loads(json.dumps(defaults))
    stored = manifest.get("preset_config") or {}
    stored = {**{k: v for k, v in current.items() if k not in stored and v == defaults.get(k)}, **stored}
    if stored != current:
        raise ResumeError(
            f"--resume: preset {name!r} has changed since the run in {run_dir} began; "
            "its cells would not match: choose a new --out"
        )


def recorded_by_key(run_dir: Path) -> dict:
    """The records a run already has, by ``cell_key``, and for a record with an ``eval_len`` also by
    ``(cell_key, eval_len)``; a torn last line (a kill mid-write) is cut off first."""
    done = {}
    if not (run_dir / RECORDS).is_file():  # stopped before its first record
        return done
    repair_torn_tail(run_dir)
    for record in read_records(run_dir, strict=True):
        done[record.get("cell_key")] = record
        if record.get("eval_len") is not None:  # an extrapolation cell: remember every length it has
            done[(record.get("cell_key"), record["eval_len"])] = record
    return done


def new_manifest(run_id: str, preset: str, preset_config: dict | None, options: dict, plan: dict) -> dict:
    """A new run's manifest (``run`` and ``bench``); ``command`` is the command that started it, and
    stays that when the run is resumed (:func:`note_resume`). ``environment`` is added by
    :func:`open_run`, read where the cells run."""
    return {
        "run_id": run_id,
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "command": invocation(),
        "preset": preset,
        "preset_config": preset_config,
        "environment": None,
        "options": options,
        "plan": plan,
    }


def note_resume(manifest: dict) -> None:
    """Record this ``--resume`` in the manifest: ``command`` stays the command that started the run,
    ``resumes`` gains this one and when it began."""
    manifest.setdefault("command", invocation())  # a run killed before it recorded its command
    manifest.setdefault("resumes", []).append(
        {"command": invocation(), "at": datetime.datetime.now(datetime.UTC).isoformat()}
    )


def open_run(
    run_dir: Path,
    resume: bool,
    fresh: Callable[[], dict],
    environment: Callable[[], dict],
    check: Callable[[dict], None] | None = None,
) -> tuple[dict, dict]:
    """Under the run directory's lock (:mod:`suite.records.lock`): the run's manifest and the records
    it already has by cell key (``{}`` for a new run).

    ``fresh()`` makes a new run's manifest, written (status ``starting``) before anything else;
    ``environment()`` reads versions and device, added after (a run killed while starting gets it
    on resume). ``check(manifest)`` refuses a run that cannot be resumed as asked."""
    run_dir = Path(run_dir)
    if resume and (run_dir / MANIFEST).is_file():
        manifest = read_manifest(run_dir)
        if check is not None:
            check(manifest)
        note_resume(manifest)
        done = recorded_by_key(run_dir)
        if not manifest.get("environment"):  # killed while starting
            manifest["environment"] = environment()
        return manifest, done
    if resume:
        print(
            f"resuming: {run_dir} holds no manifest yet (a run stopped in its first moment): starting it afresh",
            file=sys.stderr,
        )
    prepare_run_dir(run_dir)
    manifest = fresh()
    write_manifest(run_dir, {**manifest, "status": "starting"})
    manifest["environment"] = environment()
    return manifest, {}
