"""One side of a comparison (``compare``, ``history``, ``baseline check``): a run's latest records, its
manifest and its analysis (:func:`suite.analysis.run_analysis.load_analysis`: its ``analysis.json`` when
current, else built from the records), loaded under the rules of ``report`` (:func:`load_run`).
Reads records only (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from suite.analysis import tables as analysis
from suite.analysis.run_analysis import load_analysis
from suite.errors import UsageError
from suite.records.store import check_readable, read_manifest

PROVENANCE_KEYS = ("git_commit", "device_name", "torch_version", "torch_threads", "platform", "python")


class CompareError(UsageError):
    """Bad input to compare; the message names the problem and the fix."""


@dataclass
class Run:
    """One side of a comparison: its records (latest per cell) and manifest."""

    path: Path
    records: pd.DataFrame
    manifest: dict = field(default_factory=dict)
    analysis: dict = field(default_factory=dict)  # its analysis.json document (suite.analysis.run_analysis)
    analysis_source: str = ""  # "analysis.json", or why it was built from the records

    @property
    def label(self) -> str:
        return self.manifest.get("run_id") or analysis.join_distinct(self.records["run_id"]) or str(self.path)

    def provenance(self) -> dict:
        environment = self.manifest.get("environment") or {}
        facts = {key: environment.get(key) for key in PROVENANCE_KEYS}
        for key in ("git_commit", "device_name", "torch_version", "torch_threads"):
            if facts.get(key) is None:
                facts[key] = analysis.join_distinct(self.records[key]) or None
        facts["device"] = environment.get("device") or analysis.join_distinct(self.records["device"])
        facts["git_dirty"] = environment.get("git_dirty")
        facts["preset"] = self.manifest.get("preset") or analysis.join_distinct(self.records["preset"])
        facts["created"] = self.manifest.get("created")
        facts["backends"] = backends_by_model(self.records)
        return facts


def load_run(path) -> Run:
    path = Path(path)
    check_readable(path)  # the rules of `report`: it exists and holds records, no garbage lines, no newer schema
    records = analysis.latest_records(analysis.load_results(path))
    if records.empty or analysis.record_identity(records).isna().all():
        raise CompareError(f"{path} holds no records: pass a run that finished at least one cell")
    try:
        manifest = read_manifest(path)
    except (FileNotFoundError, ValueError):
        manifest = {}
    document, source = load_analysis(path)
    return Run(path, records, manifest, document, source)


def backends_by_model(records: pd.DataFrame) -> dict:
    ok = records[records["status"] == "ok"]
    return {model: analysis.join_distinct(group["backend"]) for model, group in ok.groupby("model")}
