"""suite.report.sections.curves: the accuracy-vs-length figure of the run's analysis."""

from pathlib import Path

import pytest

from suite.report.sections.curves import accuracy_curves_section
from tests.suite.report.test_report import make_record, write_run
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example():
    return inputs_of(ROOT / "reports/examples/cpu-default")


def test_curves_section_draws_the_accuracy_figure(example):
    made = accuracy_curves_section(example)
    assert (made.id, made.title) == ("accuracy-curves", "Accuracy vs sequence length")
    assert 'alt="accuracy vs seq_len per task"' in made.body
    assert "data:image/png;base64," in made.body
    assert "Student-t 95% interval" in made.body


def test_curves_section_is_absent_without_accuracy_cells(tmp_path):
    run = write_run(tmp_path, [make_record("perf", "mingru", "mqar", 128)])
    assert accuracy_curves_section(inputs_of(run)) is None


def test_curves_section_without_an_ok_cell_says_so(tmp_path):
    run = write_run(tmp_path, [make_record("accuracy", "mingru", "mqar", 64, status="oom", error="oom")])
    made = accuracy_curves_section(inputs_of(run))
    assert "data:image/png" not in made.body
    assert "no accuracy cell finished ok" in made.body
