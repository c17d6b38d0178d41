"""A run's analysis, built once: :func:`analyse` turns records and a manifest into every table and
judgement the report, ``compare``, ``history`` and the baseline check read, and
:func:`write_analysis` writes it as ``analysis.json`` beside ``records.jsonl``.

What it holds (:class:`RunAnalysis`; the JSON file's keys are documented in docs/analysis-json.md):

- the tables of :mod:`suite.analysis.tables` (accuracy, perf, max-len), :mod:`suite.analysis.summary`
  and :mod:`suite.analysis.speed` (the ``bench speed`` table), and the cells that did not finish ok;
- the verdicts: :func:`suite.analysis.questions.outcome_table` judged by
  :func:`suite.analysis.questions.verdicts` (solved, fails, undertrained, inconclusive, cut by time),
  computed once per run where the report used to recompute them per section;
- equal compute (:mod:`suite.analysis.equal_compute`): steps and seconds to the target, and the
  transformer-over-minGRU ratios;
- the paper comparisons of :mod:`suite.analysis.paper` (speed-ups, memory, selective copying by
  depth, energy) for runs of a ``paper-*`` preset;
- speed within the run: every ok timed cell's throughput over the reference model's
  (:func:`suite.analysis.speed.speed_ratios`) and the min-RNN speed-ups of ``bench speed``;
- hybrid stacks (:mod:`suite.analysis.hybrids`): each model's layers, where its attention sits, its
  accuracy, state bytes and throughput, and the cheapest stack that solves each task (runs with a
  mixed stack only);
- real data (:mod:`suite.analysis.real_data`): language models' test loss, steps and seconds to the
  best validation loss, overfitting, loss by position and the recall split with each model's gap to
  attention, the paper's Shakespeare numbers beside them, classification of a data set, and how the
  run's synthetic ranking agrees with its ranking by test loss (runs with real-data cells only);
- cell counts (one per ``cell_key``, :mod:`suite.analysis.cells`).

The file is versioned: ``analysis_version`` (this module's :data:`ANALYSIS_VERSION`, bumped when a
key changes meaning or goes), the records' ``schema_version`` it was built from, and the suite's
version. ``records_sha256`` is the digest of the ``records.jsonl`` it was built from: a reader
(:func:`load_analysis`) rebuilds the analysis when the records changed since (a resumed run
appended to them) instead of trusting a stale file. JSON has no NaN: a missing number is ``null``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from suite.analysis import cells as counting
from suite.analysis import paper, questions
from suite.analysis.cell_labels import probe_mask
from suite.analysis.equal_compute import compute_ratios, equal_compute_table
from suite.analysis.hybrids import cheapest_solvers, hybrid_table
from suite.analysis.json_values import json_rows, json_value
from suite.analysis.paper_depth import accuracy_by_layers, depth_effect, selective_copy_table
from suite.analysis.real_data_summary import real_data_tables
from suite.analysis.speed import SPEED_RATIOS, speed_ratios, speed_table, speedups
from suite.analysis.summary import summary_table
from suite.analysis.tables import accuracy_table, latest_records, load_results, max_len_table, perf_table
from suite.records.schema import SCHEMA_VERSION
from suite.records.store import read_manifest, records_path

ANALYSIS_VERSION = 1
ANALYSIS_FILE = "analysis.json"
SPEED_REFERENCE = "gru"  # the model every throughput is divided by (compare's default --reference)
RATIO_KEYS = ("cell_key", "kind", "model", "scope", "seq_len", "batch_size")


@dataclass
class RunAnalysis:
    """Everything judged about one run, as DataFrames for the report and :meth:`to_json` for files."""

    records: pd.DataFrame  # every record of the run (superseded ones too: the report's record table filters)
    manifest: dict
    accuracy: pd.DataFrame
    perf: pd.DataFrame
    max_len: pd.DataFrame
    summary: pd.DataFrame
    speed: pd.DataFrame
    speedups: pd.DataFrame
    outcomes: pd.DataFrame  # questions.verdicts(questions.outcome_table(records)): outcomes with their verdicts
    equal_compute: pd.DataFrame
    compute_ratios: list
    speed_ratios: pd.DataFrame  # one row per ok timed cell with a reference at its length and batch
    not_ok: pd.DataFrame
    status_counts: pd.DataFrame
    paper: dict = field(default_factory=dict)  # name -> DataFrame or list (paper-* presets only)
    hybrids: pd.DataFrame = field(default_factory=pd.DataFrame)  # hybrids.hybrid_table (runs with a mixed stack)
    hybrid_cheapest: pd.DataFrame = field(default_factory=pd.DataFrame)  # hybrids.cheapest_solvers
    real_data: dict = field(default_factory=dict)  # name -> DataFrame or dict (runs with real-data cells only)
    records_sha256: str | None = None

    @property
    def run_id(self) -> str | None:
        ids = self.records["run_id"].dropna().unique() if "run_id" in self.records else []
        return self.manifest.get("run_id") or (str(ids[0]) if len(ids) else None)

    def to_json(self) -> dict:
        """The ``analysis.json`` document (see docs/analysis-json.md)."""
        cells = counting.latest_cells(self.records)
        return {
            "analysis_version": ANALYSIS_VERSION,
            "schema_version": SCHEMA_VERSION,
            "suite_version": _suite_version(),
            "run_id": self.run_id,
            "written": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "records_sha256": self.records_sha256,
            "record_schema_versions": _record_versions(self.records),
            "cells": {
                "total": len(cells),
                "records": len(self.records),
                "by_status": {str(k): int(v) for k, v in cells["status"].value_counts().items()} if len(cells) else {},
                "by_kind_and_model": json_rows(self.status_counts),
            },
            "tables": {
                "accuracy": json_rows(self.accuracy),
                "perf": json_rows(self.perf),
                "max_len": json_rows(self.max_len),
                "summary": json_rows(self.summary),
                "speed": json_rows(self.speed),
                "not_ok": json_rows(self.not_ok),
            },
            "verdicts": verdict_entries(self.outcomes),
            "equal_compute": {"rows": json_rows(self.equal_compute), "ratios": ratio_entries(self.compute_ratios)},
            "paper": {
                name: json_rows(value) if isinstance(value, pd.DataFrame) else json_value(value)
                for name, value in self.paper.items()
            },
            "hybrids": {"rows": json_rows(self.hybrids), "cheapest": json_rows(self.hybrid_cheapest)},
            "real_data": {
                name: json_rows(value) if isinstance(value, pd.DataFrame) else json_value(value)
                for name, value in self.real_data.items()
            },
            "speed": {
                "reference": SPEED_REFERENCE,
                "ratios": json_rows(self.speed_ratios.reset_index(drop=True)),
                "speedups": json_rows(self.speedups),
            },
        }


def _suite_version() -> str | None:
    """The installed suite's version (``pyproject.toml``); None where the suite runs from a checkout
    that was never installed. Not ``suite.__version__``: importing the package loads the registry,
    and analysis never imports models."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("suite")
    except PackageNotFoundError:
        return None


def _record_versions(records: pd.DataFrame) -> list[int]:
    """The distinct ``schema_version`` of the records (older records are read in the current shape)."""
    versions = pd.to_numeric(records.get("schema_version", pd.Series(dtype=float)), errors="coerce").dropna()
    return sorted(int(v) for v in versions.unique())


def verdict_entries(outcomes: pd.DataFrame) -> list[dict]:
    """The verdict table as JSON rows, each with its ``verdict_kind``
    (:func:`suite.analysis.questions.verdict_kind`)."""
    rows = json_rows(outcomes)
    for row in rows:
        row["verdict_kind"] = questions.verdict_kind(row.get("verdict"))
    return rows


def ratio_entries(entries: list) -> list[dict]:
    """:func:`suite.analysis.equal_compute.compute_ratios` as JSON: the two rows are named by their
    model (the rows themselves are in ``equal_compute.rows``)."""
    out = []
    for entry in entries:
        plain = {k: v for k, v in entry.items() if k not in ("family_row", "reference_row")}
        plain["family_model"] = None if entry["family_row"] is None else entry["family_row"]["model"]
        plain["reference_model"] = None if entry["reference_row"] is None else entry["reference_row"]["model"]
        out.append({k: json_value(v) for k, v in plain.items()})
    return out


def _is_paper_run(records: pd.DataFrame, manifest: dict) -> bool:
    preset = manifest.get("preset") or ""
    if not preset and "preset" in records:
        preset = next((p for p in records["preset"].dropna().astype(str)), "")
    return str(preset).startswith("paper-")


def paper_tables(records: pd.DataFrame) -> dict:
    """The paper comparisons of :mod:`suite.analysis.paper` (a ``paper-*`` run's)."""
    return {
        "speedups": paper.speedup_table(records),
        "memory": paper.memory_table(records),
        "selective_copy": selective_copy_table(records),
        "accuracy_by_layers": accuracy_by_layers(records),
        "depth_effect": depth_effect(records),
        "energy": paper.energy_table(records),
    }


def timed_ratios(records: pd.DataFrame, reference: str = SPEED_REFERENCE) -> pd.DataFrame:
    """:func:`suite.analysis.speed.speed_ratios` of the latest records, each row with the keys that
    name its cell (:data:`RATIO_KEYS`) and whether it is a probe of ``run --find-max-len`` (timed
    once, up to the memory cap: ``history`` leaves those out)."""
    latest = latest_records(records)
    ratios = speed_ratios(latest, reference)
    if ratios.empty:
        return pd.DataFrame(columns=[*RATIO_KEYS, "max_len_probe", *SPEED_RATIOS, "noisy"])
    named = latest.loc[ratios.index].reindex(columns=list(RATIO_KEYS))
    named["max_len_probe"] = probe_mask(latest.loc[ratios.index]).astype(bool)
    return named.join(ratios)


def analyse(
    records: pd.DataFrame,
    manifest: dict | None = None,
    records_sha256: str | None = None,
    synthetic_records: pd.DataFrame | None = None,
) -> RunAnalysis:
    """The run's analysis from its records (:func:`suite.analysis.tables.load_results`) and manifest;
    ``synthetic_records`` (other runs') join the run's own synthetic cells in the real-data agreement."""
    manifest = manifest or {}
    outcomes = questions.verdicts(questions.outcome_table(records))
    compute = equal_compute_table(outcomes)
    speed = speed_table(records)
    accuracy, perf = accuracy_table(records), perf_table(records)
    stacks = hybrid_table(records, outcomes)
    return RunAnalysis(
        records=records,
        manifest=manifest,
        accuracy=accuracy,
        perf=perf,
        max_len=max_len_table(records),
        summary=summary_table(records, accuracy, perf),
        speed=speed,
        speedups=speedups(speed),
        outcomes=outcomes,
        equal_compute=compute,
        compute_ratios=compute_ratios(compute),
        speed_ratios=timed_ratios(records),
        not_ok=counting.not_ok_cells(records),
        status_counts=counting.status_counts(records),
        paper=paper_tables(records) if _is_paper_run(records, manifest) else {},
        records_sha256=records_sha256,
        hybrids=stacks,
        hybrid_cheapest=cheapest_solvers(stacks),
        real_data=real_data_tables(records, synthetic_records),
    )


def records_digest(run_dir) -> str:
    """SHA-256 of the run's ``records.jsonl``: what an ``analysis.json`` was built from."""
    return hashlib.sha256(records_path(run_dir).read_bytes()).hexdigest()


def analysis_path(run_dir) -> Path:
    """The run's ``analysis.json``: beside its records (``run_dir`` is a run directory or its records file)."""
    return records_path(run_dir).parent / ANALYSIS_FILE


def analyse_run(run_dir) -> RunAnalysis:
    """Load a run directory (or its records file) and analyse it; a missing or unreadable manifest
    leaves the manifest empty (the report says so in its header)."""
    records = load_results(run_dir)
    try:
        manifest = read_manifest(run_dir)
    except (FileNotFoundError, ValueError):
        manifest = {}
    return analyse(records, manifest, records_digest(run_dir))


def write_analysis(analysis: RunAnalysis, folder) -> Path:
    """Write ``analysis.json`` into ``folder`` (a run's: beside its records) and return its path."""
    path = Path(folder) / ANALYSIS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(analysis.to_json(), indent=1, allow_nan=False)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:  # a write cut short leaves the file as it was, never half of it
        temporary.write_text(text + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def load_analysis(run_dir) -> tuple[dict, str]:
    """The run's analysis as the JSON document, and where it came from: ``"analysis.json"`` when the
    file is present, of this :data:`ANALYSIS_VERSION` and built from the records as they are now;
    otherwise the analysis built now from the records (``"built from the records: <why>"``, e.g. a
    run written before analysis.json existed, as the committed examples are)."""
    path = analysis_path(run_dir)
    why = "no analysis.json"
    if path.is_file():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            why = f"analysis.json unreadable ({error})"
        else:
            if document.get("analysis_version") != ANALYSIS_VERSION:
                why = f"analysis.json is version {document.get('analysis_version')}, not {ANALYSIS_VERSION}"
            elif document.get("records_sha256") != records_digest(run_dir):
                why = "analysis.json is older than the records (they changed since it was written)"
            else:
                return document, ANALYSIS_FILE
    return analyse_run(run_dir).to_json(), f"built from the records: {why}"
