"""suite.report.sections.summary: one row per model from the analysis's summary table."""

from pathlib import Path

import pytest

from suite.analysis.run_analysis import analyse
from suite.analysis.tables import load_results
from suite.records.store import read_manifest
from suite.report.html import ReportInputs
from suite.report.palette import model_palette
from suite.report.sections.summary import summary_section
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
