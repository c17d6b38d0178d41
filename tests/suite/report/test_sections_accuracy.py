"""suite.report.sections.accuracy: per task, the accuracy heatmap and table of the run's analysis."""

from pathlib import Path

import pytest

from suite.report.sections.accuracy import ACCURACY_HEADERS, accuracy_section
from tests.suite.report.test_report import make_record, write_run
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example():
    return inputs_of(ROOT / "reports/examples/cpu-default")


def test_accuracy_section_has_a_block_per_task_with_models_and_chance(example):
    made = accuracy_section(example)
    assert (made.id, made.title) == ("accuracy", "Accuracy")
    body = str(made.body)
    for task in ("mqar", "selective-copy", "needle"):
        assert f"<h3>{task} (chance = " in body
    assert "mqar (chance = 0.0625)" in body
    assert "data:image/png;base64," in body  # the heatmap
    assert "transformer" in body and "mamba2" in body
    accuracy = example.analysis.accuracy
    first = accuracy.iloc[0]
    assert f"{first['accuracy']:.3f}" in body
    assert all(header in body for header in ACCURACY_HEADERS)
    assert (
        "keys recur in the filler" in body and "at vocabulary 32" in body
    )  # cpu-default's MQAR (vocab 32) warns about its filler-key regime


def test_accuracy_section_without_accuracy_cells_says_so(tmp_path):
    run = write_run(tmp_path, [make_record("perf", "mingru", "mqar", 128)])
    body = str(accuracy_section(inputs_of(run)).body)
    assert "this run has no accuracy cells" in body
    assert "<h3>" not in body


def test_accuracy_section_shows_a_failed_cell_with_its_status(tmp_path):
    records = [
        make_record("accuracy", "mingru", "copy", 64),
        make_record("accuracy", "mamba", "copy", 64, status="oom", error="out of memory at T=64"),
    ]
    body = str(accuracy_section(inputs_of(write_run(tmp_path, records))).body)
    assert "copy (chance = 0.0625)" in body
    assert "oom" in body and "out of memory at T=64" in body
