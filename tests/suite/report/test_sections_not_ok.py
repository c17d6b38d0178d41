"""suite.report.sections.not_ok: the table of cells that did not finish ok."""

from pathlib import Path

import pytest

from suite.report.sections.not_ok import not_ok_section
from tests.suite.report.test_report import make_record, write_run
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


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
