"""suite.analysis.runs: one side of a comparison loaded from a run folder (records, manifest, analysis)."""

import shutil
from pathlib import Path

import pytest

from suite.analysis.runs import CompareError, Run, backends_by_model, load_run
from tests.suite.report.test_report import BACKENDS, make_record, manifest, write_run

ROOT = Path(__file__).resolve().parents[3]


def test_load_run_reads_records_manifest_and_provenance(tmp_path):
    records = [
        make_record("accuracy", "mingru", "mqar", 64),
        make_record("perf", "mamba", "mqar", 128),
        make_record("perf", "gru:loop", "mqar", 128, status="oom", error="out of memory"),
    ]
    run = load_run(write_run(tmp_path, records))
    assert isinstance(run, Run)
    assert run.label == manifest()["run_id"]
    assert len(run.records) == 3
    assert run.analysis and run.analysis_source
    facts = run.provenance()
    assert facts["device_name"] == "Synthetic CPU"
    assert facts["preset"] == "tiny-test"
    assert facts["git_dirty"] is True
    assert facts["backends"] == {"mingru": BACKENDS["mingru"], "mamba": BACKENDS["mamba"]}  # ok cells only


def test_load_run_without_manifest_labels_by_the_records_run_id(tmp_path):
    run = load_run(write_run(tmp_path, [make_record("accuracy", "mingru", "mqar", 64)], with_manifest=False))
    assert run.manifest == {}
    assert run.label == "test-run-0001"
    assert run.provenance()["preset"] == "tiny-test"


def test_load_run_of_a_committed_example(tmp_path):
    run_dir = shutil.copytree(ROOT / "reports/examples/cpu-default", tmp_path / "run")
    run = load_run(run_dir)
    assert "transformer" in set(run.records["model"])
    assert set(backends_by_model(run.records)) == set(run.records["model"])


def test_load_run_refuses_a_run_without_keyed_records(tmp_path):
    record = make_record("accuracy", "mingru", "mqar", 64)
    record["cell_key"] = None
    with pytest.raises(CompareError, match="holds no records"):
        load_run(write_run(tmp_path, [record]))
