"""suite.report.sections.status: cells per kind, model and status."""

from pathlib import Path

import pytest

from suite.report.sections.status import status_section
from tests.suite.report.test_report import make_record, write_run
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example():
    return inputs_of(ROOT / "reports/examples/cpu-default")


def test_status_section_of_the_example_counts_every_model(example):
    made = status_section(example)
    assert (made.id, made.title) == ("status", "Cells by status")
    body = str(made.body)
    assert "<table" in body and "A cell is one plan entry" in body
    counts = example.analysis.status_counts
    for model in counts["model"]:
        assert f">{model}<" in body
    assert "<td>accuracy</td><td>gru</td>" in body and "<td>perf</td><td>gru:loop</td>" in body
    assert int(counts["total"].sum()) == 48  # 21 trainings (63 records over evaluation lengths) + 27 perf cells
    assert "num status" not in body  # nothing failed


def test_status_section_marks_failed_counts(tmp_path):
    records = [
        make_record("accuracy", "mingru", "mqar", 64),
        make_record("accuracy", "mamba", "mqar", 64, status="oom", error="out of memory"),
    ]
    body = str(status_section(inputs_of(write_run(tmp_path, records))).body)
    assert "num status" in body  # the nonzero oom count is highlighted
    assert ">mamba<" in body and ">mingru<" in body
