"""suite.report.sections.summary: one row per model from the analysis's summary table."""

from pathlib import Path

import pytest

from suite.report.sections.summary import summary_section
from tests.suite.report.test_report import make_record, write_run
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example():
    return inputs_of(ROOT / "reports/examples/cpu-default")


def test_summary_section_of_the_example_has_a_row_per_model(example):
    made = summary_section(example)
    assert (made.id, made.title) == ("summary", "Summary")
    body = str(made.body)
    for title in (
        "best accuracy: mqar",
        "best accuracy: needle",
        "train tokens/s @ 2048",
        "max train peak mem",
        "not ok",
    ):
        assert f"<th>{title}</th>" in body
    gru = body.split("<td>gru</td>", 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">6</td>' in gru  # gru's cells: 3 trainings and 3 perf lengths
    for model in example.analysis.summary["model"]:
        assert f">{model}<" in body
    assert "Best accuracy: the highest seed-mean accuracy" in body


def test_summary_section_counts_cells_and_failures_per_model(tmp_path):
    records = [
        make_record("accuracy", "mingru", "mqar", 64, accuracy=0.75),
        make_record("accuracy", "mingru", "mqar", 256, status="oom", error="out of memory"),
        make_record("perf", "mingru", "mqar", 128),
    ]
    inputs = inputs_of(write_run(tmp_path, records))
    body = str(summary_section(inputs).body)
    assert "best accuracy: mqar" in body and "0.750" in body
    assert "train tokens/s @ 128" in body
    row = body.split(">mingru<", 1)[1].split("</tr>", 1)[0]
    assert ">3<" in row and ">1<" in row  # 3 cells, 1 not ok
