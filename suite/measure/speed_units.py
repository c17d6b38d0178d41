"""``bench speed``'s units: what one executor job times, and the records it gives.

A *unit* is every subject of one length and one scope (``mixer``, ``model`` or ``scan``). Its
subjects are timed interleaved in one process (:func:`suite.measure.speed.time_interleaved`):
interleaving is the timing method, so a drift of the machine hits every subject of a unit alike,
and the ratios the bench reports are taken within a unit. So the unit, not the subject, is what an
executor runs (:mod:`suite.executors.jobs`): in its own child process under the run's lock, its
records handed to the run's record sink, one per subject. ``--resume`` re-times a unit unless every
one of its subjects has a record (:meth:`SpeedUnit.is_recorded`).

Each subject is a :class:`suite.plan.cells.SpeedCell`, planned here in the driver before anything
runs (:func:`plan_units`): its key is its record's ``cell_key``, whether the subject was timed,
failed to build or its unit's process died. A subject's ``model_config`` is what it is built with:
the options come from the same functions the builders use (:func:`suite.measure.speed.mixer_options`,
:func:`~suite.measure.speed.model_options`).

This module imports torch only inside the functions that run a unit (in the child).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from suite.plan.cells import SpeedCell, SpeedTiming, SubjectConfig
from suite.plan.settings import RunContext

SCOPES = ("mixer", "model", "scan")


@dataclass(frozen=True)
class SpeedUnit:
    """Every subject of one length and scope, timed interleaved in one process (one executor job)."""

    scope: str
    seq_len: int
    cells: tuple[SpeedCell, ...]

    @property
    def timing(self) -> SpeedTiming:
        return self.cells[0].timing

    @property
    def shape(self) -> tuple:
        """``(seq_len, batch, d_model, dtype, seed)`` of every subject of the unit."""
        first = self.cells[0]
        return self.seq_len, first.batch_size, first.subject.d_model, self.timing.dtype, first.seed

    def label(self) -> str:
        return f"speed {self.scope} T={self.seq_len} ({len(self.cells)} subjects)"

    def is_recorded(self, done: dict) -> bool:
        """Whether a resumed bench has a record of every subject of the unit (else it is re-timed whole)."""
        return all(cell.key in done for cell in self.cells)


def _mixer_configs(models, seq_len: int, d_model: int) -> list[tuple[str, SubjectConfig]]:
    """Each min-RNN family's projections alone (the floor of its step), then every model's mixer."""
    from suite.measure.speed import PROJECTIONS, SCAN_FAMILIES, mixer_options
    from suite.registry import parse_spec

    configs = []
    for family in dict.fromkeys(spec.partition(":")[0] for spec in models):
        if family in dict(SCAN_FAMILIES):
            config = SubjectConfig(scope="mixer", d_model=d_model, n_layers=1, projections_of=family)
            configs.append((f"{family}:{PROJECTIONS}", config))
    for spec in models:
        options = mixer_options(parse_spec(spec)[0], seq_len)
        configs.append((spec, SubjectConfig(scope="mixer", d_model=d_model, n_layers=1, options=options)))
    return configs


def _model_configs(models, seq_len: int, d_model: int) -> list[tuple[str, SubjectConfig]]:
    from suite.measure.speed import MODEL_LAYERS, MODEL_VOCAB_SIZE, model_options
    from suite.registry import parse_spec

    return [
        (
            spec,
            SubjectConfig(
                scope="model",
                d_model=d_model,
                n_layers=MODEL_LAYERS,
                vocab_size=MODEL_VOCAB_SIZE,
                options=model_options(parse_spec(spec)[0], seq_len),
            ),
        )
        for spec in models
    ]


def _scan_configs(d_model: int, dtype: str) -> list[tuple[str, SubjectConfig]]:
    """Every min-RNN scan backend of each family, then the copy of the same bytes."""
    from models.scans import gated
    from suite.measure.speed import SCAN_FAMILIES, scan_input_dtype

    configs = []
    for family, _ in SCAN_FAMILIES:
        for backend in gated.BACKENDS:
            counted = "kernel" if backend == "triton" else "floor"
            config = SubjectConfig(
                scope="scan",
                d_model=d_model,
                hidden=d_model,
                input_dtype=scan_input_dtype(dtype),
                bytes_counted=counted,
            )
            configs.append((f"{family}:{backend}", config))
        configs.append((f"copy:{family}", SubjectConfig(scope="scan", d_model=d_model, copy_of=family)))
    return configs


def plan_units(
    models, scopes, seq_lens, batch_size: int, d_model: int, seed: int, timing: SpeedTiming
) -> list[SpeedUnit]:
    """The units of a bench, length by length, each length's scopes in the order given."""
    units = []
    for seq_len in seq_lens:
        for scope in scopes:
            if scope == "scan":
                configs = _scan_configs(d_model, timing.dtype)
            else:
                configs = {"mixer": _mixer_configs, "model": _model_configs}[scope](models, seq_len, d_model)
            cells = tuple(
                SpeedCell(
                    spec=spec,
                    scope=scope,
                    subject=config,
                    seq_len=int(seq_len),
                    batch_size=batch_size,
                    seed=seed,
                    timing=timing,
                )
                for spec, config in configs
            )
            units.append(SpeedUnit(scope, int(seq_len), cells))
    return units


def _failed(cell: SpeedCell, error: BaseException):
    from suite.measure.cell import classify, one_line
    from suite.measure.speed import PROJECTIONS, Subject

    backend = PROJECTIONS if cell.subject.projections_of else None
    if cell.scope == "scan" and not cell.subject.copy_of:
        backend = cell.model.partition(":")[2]
    return Subject(cell.model, cell.scope, status=classify(error), error=one_line(error), backend=backend)


def build_subjects(unit: SpeedUnit, device: str) -> list:
    """The unit's subjects, one per cell in the unit's order; a subject that cannot be built (an
    unavailable backend, OOM while allocating) is a failed one, recorded like the others."""
    from suite.measure import speed

    seq_len, batch, d_model, dtype, seed = unit.shape
    shape = (seq_len, batch, d_model, device, dtype, seed)
    if unit.scope == "scan":
        try:
            built = {subject.spec: subject for subject in speed.scan_subjects(*shape)}
        except Exception as error:  # OOM while allocating the projections: a record per scan subject
            return [_failed(cell, error) for cell in unit.cells]
        return [built[cell.model] for cell in unit.cells]
    subjects = []
    for cell in unit.cells:
        try:
            if cell.subject.projections_of:
                subjects.append(speed.projections_subject(cell.subject.projections_of, *shape))
            else:
                build = speed.mixer_subject if unit.scope == "mixer" else speed.model_subject
                subjects.append(build(cell.model, *shape))
        except Exception as error:  # unavailable backend, OOM while building: a record each
            subjects.append(_failed(cell, error))
    return subjects


def to_record(subject, cell: SpeedCell, device: str, context: RunContext) -> dict:
    """The ``speed`` record of one timed subject (see :mod:`suite.measure.speed`)."""
    from suite.measure.cell import record_header
    from suite.measure.timing import numerics_fields

    record = record_header(cell, device, context)
    record.update(
        backend=subject.backend,
        status=subject.status,
        error=subject.error,
        params=subject.params,
        state_bytes=subject.state_bytes,
        wall_s=sum(subject.timing.seconds),
        scope=cell.scope,
        **numerics_fields(),
    )
    timing = subject.timing
    if subject.status == "ok" and timing.repeats:
        median_ms = timing.median_ms
        record.update(**timing.step_fields(), **subject.noise)
        if cell.scope == "scan":
            record["bytes_per_s"] = subject.bytes_moved / (median_ms / 1000)
        else:
            record["train_tokens_per_s"] = cell.batch_size * cell.seq_len / (median_ms / 1000)
    elif subject.status == "ok":
        record.update(status="error", error="no timed repeat completed")
    return record


def fill_copy_bandwidth(records: list[dict]) -> None:
    """Give each scan record of ``records`` (one unit's) the ``copy_bytes_per_s`` of the copy timed beside it."""
    copies = {
        (r["model_config"]["copy_of"], r["seq_len"]): r["bytes_per_s"]
        for r in records
        if r.get("scope") == "scan" and r.get("backend") == "copy" and r.get("bytes_per_s")
    }
    for record in records:
        if record.get("scope") == "scan" and record.get("backend") != "copy" and record.get("bytes_per_s"):
            record["copy_bytes_per_s"] = copies.get((record["family"], record["seq_len"]))


def run_unit(unit: SpeedUnit, device: str, context: RunContext | None = None) -> list[dict]:
    """Build the unit's subjects, time them interleaved and return one record per subject (in the
    child; a failing subject is a record, the others are timed)."""
    import torch

    from suite.devices import is_cuda
    from suite.measure import environment
    from suite.measure.cell import classify, one_line
    from suite.measure.speed import time_interleaved
    from suite.measure.timing import apply_numerics

    context = context or RunContext()
    apply_numerics(tf32=unit.timing.tf32)  # the numerics of every cell of `suite run`
    timing = unit.timing
    subjects = build_subjects(unit, device)
    time_interleaved(subjects, device, timing.warmup, timing.repeats, classify, one_line, timing.min_time_s)
    where = {
        "torch_threads": torch.get_num_threads(),
        "device_name": environment.device_name(device),
        "hostname": socket.gethostname(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES") if is_cuda(device) else None,
    }
    records = [{**to_record(subject, cell, device, context), **where} for subject, cell in zip(subjects, unit.cells)]
    fill_copy_bandwidth(records)
    del subjects
    if is_cuda(device):
        torch.cuda.empty_cache()
    return records


def unit_failure_records(
    unit: SpeedUnit, device: str, context: RunContext, status: str, error: str, wall_s: float
) -> list[dict]:
    """The records of a unit whose process never returned any (a timeout, a crash, a kill): one per subject."""
    from suite.measure.cell import record_header

    records = []
    for cell in unit.cells:
        record = record_header(cell, device, context)
        record.update(status=status, error=error, wall_s=wall_s, scope=cell.scope)
        records.append(record)
    return records
