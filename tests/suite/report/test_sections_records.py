"""suite.report.sections.records: the sortable table of every record, the latest per identity."""

from pathlib import Path

import pytest

from suite.report.sections.records import RECORD_COLUMNS, records_section
from tests.suite.report.test_report import make_record, write_run
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example():
    return inputs_of(ROOT / "reports/examples/cpu-default")


def test_records_section_of_the_example_counts_records_and_cells(example):
    made = records_section(example)
    assert (made.id, made.title) == ("records", "All records")
    body = str(made.body)
    assert f"{len(example.records)} records of" in body
    assert 'id="records"' in body and "sortable" in body
    assert all(f"<th>{header}</th>" in body for header in ("kind", "model", "train tok/s", "accuracy"))
    assert "transformer" in body


def test_records_section_keeps_the_latest_record_and_escapes(tmp_path):
    records = [
        make_record("accuracy", "mingru", "mqar", 64, accuracy=0.125),
        make_record("accuracy", "mingru", "mqar", 64, accuracy=0.875),
        make_record("accuracy", "mamba", "mqar", 64, status="error", error="<script>x</script>"),
    ]
    body = str(records_section(inputs_of(write_run(tmp_path, records))).body)
    assert "2 records of 2 cells" in body
    assert "0.875" in body and "0.125" not in body
    assert "<script>x</script>" not in body and "&lt;script&gt;" in body
    assert "None" not in body  # an empty text field shows empty
    assert set(RECORD_COLUMNS.values()) >= {"seq len", "wall s"}
