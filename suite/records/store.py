"""The results store: ``records.jsonl`` (append-only) and ``manifest.json``.

Durability rules:

- One writer (the driver process) appends records. A record is written only
  when complete, as one ``write`` of one line, then flushed and ``fsync``-ed, so
  a crash can at worst leave a torn *last* line, which readers skip with a
  warning.
- ``manifest.json`` is replaced atomically (write a temporary file in the same
  folder, ``fsync``, ``os.replace``).
- Nothing already written is overwritten: opening a run directory that holds
  records for a new run is refused (see :func:`prepare_run_dir`).

Every record read goes through :func:`upgrade`, so readers (the tables, ``--resume``,
compare, the report) see the current schema's shape whatever version wrote it.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

from suite.errors import UsageError
from suite.records.schema import (
    ACCURACY_FIELDS,
    COMMON_FIELDS,
    PERF_FIELDS,
    RAW_TIMING_FIELDS,
    SPEED_FIELDS,
    validate,
)

RECORDS = "records.jsonl"
MANIFEST = "manifest.json"


class StoreError(UsageError):
    """A run directory or records file that cannot be used; the message says why and what to do."""


def _jsonable(value):
    """NaN/inf are not JSON: store them as null (a nan loss is said by ``status``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


class RecordWriter:
    """Appends validated records to ``<run_dir>/records.jsonl``, one durable line each."""

    def __init__(self, run_dir):
        self.path = Path(run_dir) / RECORDS
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")

    def append(self, record: dict) -> None:
        problems = validate(record)
        if problems:
            raise ValueError(f"refusing to store a malformed record: {'; '.join(problems)}")
        line = json.dumps(_jsonable(record), sort_keys=True, allow_nan=False) + "\n"
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def records_path(path) -> Path:
    """A run directory or a records file → the records file (which must exist)."""
    path = Path(path)
    candidate = path / RECORDS if path.is_dir() else path
    if not candidate.is_file():
        raise FileNotFoundError(
            f"no records at {candidate}: pass a run directory containing {RECORDS} "
            f"(written by `python -m suite run`) or the {RECORDS} file itself"
        )
    return candidate


def read_records(path, strict: bool = False) -> list[dict]:
    """Every record of a run directory or records file, in the order written.

    Blank lines are ignored. A torn last line (a run killed mid-write) is
    skipped with a warning. Other lines that are not JSON objects are garbage:
    with ``strict`` they raise :class:`StoreError` naming their line numbers (the
    CLI refuses to report on or resume such a file); without, they are skipped
    with one warning naming them, and the good lines are returned.
    """
    file = records_path(path)
    lines = [
        (number, line)
        for number, line in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), start=1)
        if line.strip()
    ]
    records, garbage = [], []
    for index, (number, line) in enumerate(lines):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"a record must be a JSON object, got {type(record).__name__}")
        except ValueError as error:
            if index == len(lines) - 1:
                warnings.warn(
                    f"{file}:{number}: skipping the last line, which does not parse "
                    f"(probably a write cut short): {error}",
                    stacklevel=2,
                )
            else:
                garbage.append(number)
            continue
        records.append(upgrade(record))
    if garbage:
        where = f"{file}:{','.join(map(str, garbage))}"
        if strict:
            raise StoreError(f"{where}: corrupt records (not JSON objects); fix or delete those lines")
        warnings.warn(f"{where}: skipping corrupt records (not JSON objects); the other lines are loaded", stacklevel=2)
    return records


_NOT_PERF_SINCE_4 = ("scope", "median_ms", "repeats", "bytes_per_s", "copy_bytes_per_s")
# version 7: one name per number; each (old, surviving) pair, by the kind of record that had it
RENAMED_IN_7 = {
    "speed": (("median_ms", "train_step_ms"), ("repeats", "timing_repeats")),
    "accuracy": (("train_steps", "steps_trained"), ("train_len", "seq_len")),
}
# the fields version 8 added to accuracy records: objective .. split_images
NEW_IN_8 = ACCURACY_FIELDS[ACCURACY_FIELDS.index("objective") : ACCURACY_FIELDS.index("split_images") + 1]
# the fields version 9 added to perf records: decode_method .. decode_graph_reason
NEW_IN_9 = PERF_FIELDS[PERF_FIELDS.index("decode_method") : PERF_FIELDS.index("decode_graph_reason") + 1]
NEW_IN_7 = {
    "perf": ("family_version", "task_version", *RAW_TIMING_FIELDS),
    "speed": ("family_version", "task_version", "train_step_raw_ms"),
}


def upgrade(record: dict) -> dict:
    """``record`` in the shape of the current schema, whatever version wrote it (``schema_version``
    still says which; upgrading twice changes nothing). Version 4 gave ``suite bench speed`` its own kind:

    - a perf record with a ``scope`` (``bench speed`` before version 4) becomes a ``"speed"``
      record: the common fields and :data:`~suite.records.schema.SPEED_FIELDS` (it carried its
      median and count twice, as ``median_ms``/``repeats`` and ``train_step_ms``/``timing_repeats``);
    - any other perf record of an older version loses the fields perf records no longer have
      (``scope``, ``median_ms``, ``repeats``, ``bytes_per_s``, ``copy_bytes_per_s``); a
      ``median_ms``/``repeats`` without ``train_step_ms``/``timing_repeats`` fills them.

    A record written before the ``plugin`` field existed gets ``plugin: None`` (not recorded).
    Version 5 added the early-stopping fields of accuracy records; an older accuracy record
    lacks them, and readers take that as "not recorded" (its verdicts cannot say ``fails``).
    Version 6 renamed the wall-clock stop (:func:`time_limit_from_budget`). Version 7
    (:func:`one_name_per_number`) keeps one name per number and adds the raw timings and the
    family's and task's versions, None in older records (not recorded). Version 8
    (:func:`objective_before_8`) adds language models: an older accuracy record's ``objective`` is
    ``"accuracy"`` (no other existed) and its language-model and data fields are None. Version 9
    (:func:`decode_method_before_9`) adds CUDA-graph decode: an older perf record decoded eagerly.
    """
    if "plugin" not in record:
        record = {**record, "plugin": None}
    version = record.get("schema_version")
    if record.get("kind") == "accuracy" and "time_budget_s" in record:
        record = time_limit_from_budget(record)
    if record.get("kind") == "perf" and not (isinstance(version, int) and version >= 4):
        record = perf_before_4(record)
    return decode_method_before_9(objective_before_8(one_name_per_number(record)))


def decode_method_before_9(record: dict) -> dict:
    """A perf record of a version before 9 with the fields version 9 added: every decode then was the
    eager loop, so one that was timed has ``decode_method`` ``"eager"`` and its decode figures are also
    the eager ones (``decode_ms_per_token_eager``, ``decode_ms_per_token_batch1_eager``); the graph's
    fields and ``decode_graph_reason`` are None (not recorded). Any other record unchanged."""
    version = record.get("schema_version")
    if record.get("kind") != "perf" or (isinstance(version, int) and version >= 9):
        return record
    timed = record.get("decode_ms_per_token") is not None
    filled = {
        "decode_method": "eager" if timed else None,
        "decode_ms_per_token_eager": record.get("decode_ms_per_token"),
        "decode_ms_per_token_batch1_eager": record.get("decode_ms_per_token_batch1"),
    }
    if all(name in record for name in NEW_IN_9) and all(record[name] == value for name, value in filled.items()):
        return record
    upgraded = {**dict.fromkeys(NEW_IN_9), **record}
    for name, value in filled.items():
        if upgraded[name] is None:
            upgraded[name] = value
    return upgraded


def objective_before_8(record: dict) -> dict:
    """An accuracy record of a version before 8 with the fields version 8 added (see :func:`upgrade`);
    any other record unchanged."""
    version = record.get("schema_version")
    if record.get("kind") != "accuracy" or (isinstance(version, int) and version >= 8) or "objective" in record:
        return record
    return {**dict.fromkeys(NEW_IN_8), **record, "objective": "accuracy"}


def perf_before_4(record: dict) -> dict:
    """A perf record of a version before 4: a ``bench speed`` timing (it has a ``scope``) becomes a
    speed record, any other loses the bench's fields (see :func:`upgrade`)."""
    if record.get("scope") is not None:
        speed = {name: record[name] for name in record if name in COMMON_FIELDS or name == "error_traceback"}
        speed.update({name: record.get(name) for name in SPEED_FIELDS}, kind="speed")
        for old, new in RENAMED_IN_7["speed"]:
            if speed.get(new) is None:
                speed[new] = record.get(old)
        return speed
    perf = {name: value for name, value in record.items() if name not in _NOT_PERF_SINCE_4}
    for new, old in (("train_step_ms", "median_ms"), ("timing_repeats", "repeats")):
        if perf.get(new) is None and record.get(old) is not None:
            perf[new] = record[old]
    return perf


def one_name_per_number(record: dict) -> dict:
    """A record of a version before 7 in version 7's names: a speed record's ``median_ms`` and
    ``repeats`` become ``train_step_ms`` and ``timing_repeats`` (perf's names for the same
    numbers); an accuracy record's ``train_steps`` becomes ``steps_trained`` and its ``train_len``
    (always its ``seq_len``) goes. Fields version 7 added (the raw timings, ``family_version``,
    ``task_version``) are None: not recorded. Records of version 7 or later are unchanged."""
    version = record.get("schema_version")
    if isinstance(version, int) and version >= 7:
        return record
    kind = record.get("kind")
    renamed = RENAMED_IN_7.get(kind, ())
    added = NEW_IN_7.get(kind, ("family_version", "task_version"))
    if not any(old in record for old, _ in renamed) and all(name in record for name in added):
        return record
    upgraded = {name: value for name, value in record.items() if name not in {old for old, _ in renamed}}
    for old, new in renamed:
        if upgraded.get(new) is None and record.get(old) is not None:
            upgraded[new] = record[old]
    for name in added:
        upgraded.setdefault(name, None)
    return upgraded


def time_limit_from_budget(record: dict) -> dict:
    """An accuracy record of version 5: its wall-clock ``time_budget_s`` was a guard all along (its
    result depended on the machine's load), so it becomes ``time_limit_s``, a ``time_budget`` stop
    becomes ``time_limit`` and ``cut_by_time`` says whether it fired (version 6)."""
    upgraded = {name: value for name, value in record.items() if name not in ("time_budget_s", "time_budget_key")}
    cut = record.get("stop_reason") == "time_budget"
    upgraded.update(
        time_limit_s=record.get("time_budget_s"),
        stop_reason="time_limit" if cut else record.get("stop_reason"),
        cut_by_time=cut if record.get("stop_reason") else None,
    )
    return upgraded


def repair_torn_tail(run_dir) -> bool:
    """Cut a torn last line (a write killed mid-line) off ``records.jsonl`` before
    appending to it again; returns whether anything was cut. Complete lines are kept."""
    path = Path(run_dir) / RECORDS
    if not path.is_file():
        return False
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep == len(data):
        return False
    warnings.warn(f"{path}: cutting a torn last line of {len(data) - keep} bytes before resuming", stacklevel=2)
    with open(path, "r+b") as file:
        file.truncate(keep)
        file.flush()
        os.fsync(file.fileno())
    return True


def write_manifest(run_dir, manifest: dict) -> Path:
    """Atomically replace ``<run_dir>/manifest.json``."""
    path = Path(run_dir) / MANIFEST
    temporary = path.with_name(f".{MANIFEST}.tmp-{os.getpid()}")
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(_jsonable(manifest), file, indent=2, sort_keys=True)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    return path


def read_manifest(run_dir) -> dict:
    """The run's ``manifest.json`` (``run_dir`` may also be its records file)."""
    run_dir = Path(run_dir)
    path = (run_dir if run_dir.is_dir() else run_dir.parent) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no manifest at {path}: it is written by `python -m suite run` at the start of a run")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise StoreError(f"{path}: not valid JSON: {error}") from None


def prepare_run_dir(run_dir) -> Path:
    """Create ``run_dir`` for a new run; refuse one that already holds records."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise StoreError(f"--out {run_dir} is a file, not a directory: choose another --out")
    if (run_dir / RECORDS).exists() and (run_dir / RECORDS).stat().st_size > 0:
        raise StoreError(
            f"--out {run_dir} already holds records from an earlier run: choose a new --out, "
            "or add --resume to finish that run (nothing there was changed)"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise StoreError(f"--out {run_dir} cannot be written ({error.strerror}): choose a writable folder") from None
    return run_dir


def check_readable(path) -> None:
    """Refuse, in one line, a run whose records this suite cannot read faithfully: no records (a
    folder that is not a run, or a run stopped before its first record), lines that are not
    records (a torn last line aside) or records of a newer schema. ``report`` and ``compare`` (and
    ``history``) all apply it."""
    from suite.records.schema import SCHEMA_VERSION

    path = Path(path)
    if not (path / RECORDS if path.is_dir() else path).is_file():
        where = f"{path} holds no {RECORDS}" if path.is_dir() else f"{path} does not exist"
        raise StoreError(
            f"{where}: pass the --out folder of a `python -m suite run` or `bench speed` that "
            f"finished at least one cell, or its {RECORDS}"
        )
    records = read_records(path, strict=True)
    if not records:
        raise StoreError(
            f"{path} holds no records yet: wait for its first cell to finish or resume it "
            "(`python -m suite run ... --resume`), or pass a run that finished at least one cell"
        )
    newest = max(record.get("schema_version") or 0 for record in records)
    if newest > SCHEMA_VERSION:
        raise StoreError(
            f"{path} holds records of schema_version {newest}, newer than this suite's "
            f"{SCHEMA_VERSION}: upgrade the suite to read it"
        )
