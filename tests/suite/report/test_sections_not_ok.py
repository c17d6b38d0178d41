"""suite.report.sections.not_ok: the table of cells that did not finish ok."""

from pathlib import Path

import pytest

from suite.analysis.run_analysis import analyse
from suite.analysis.tables import load_results
from suite.records.store import read_manifest
from suite.report.html import ReportInputs
from suite.report.palette import model_palette
from suite.report.sections.not_ok import not_ok_section
from tests.suite.report.test_report import make_record, write_run

ROOT = Path(__file__).resolve().parents[3]


def inputs_of(run_dir, manifest_problem=None):
    """The section builders' inputs for the run in ``run_dir``, its analysis built from the records."""
    records = load_results(run_dir)
    try:
        manifest = read_manifest(run_dir)
    except FileNotFoundError:
        manifest = {}
    palette = model_palette(records["model"])
    return ReportInputs(records, manifest, manifest_problem, palette, analyse(records, manifest))


@pytest.fixture(scope="module")
def example():
    return inputs_of(ROOT / "reports/examples/cpu-default")


def test_not_ok_section_of_an_all_ok_run_says_so(example):
    made = not_ok_section(example)
    assert (made.id, made.title) == ("not-ok", "Cells that did not finish ok")
    assert "Every cell finished ok." in made.body
    assert "<table" not in made.body


def test_not_ok_section_lists_each_failed_cell(tmp_path):
    records = [
        make_record("accuracy", "mingru", "mqar", 64),
        make_record("perf", "gru:loop", "mqar", 1024, status="timeout", error="cell exceeded <600> s"),
        make_record("accuracy", "mamba", "copy", 256, status="oom", error="out of memory"),
    ]
    body = str(not_ok_section(inputs_of(write_run(tmp_path, records))).body)
    assert "<table" in body
    assert "gru:loop" in body and "timeout" in body and "cell exceeded &lt;600&gt; s" in body
    assert "mamba" in body and "oom" in body
    assert "mingru" not in body
    assert "Every cell finished ok." not in body
