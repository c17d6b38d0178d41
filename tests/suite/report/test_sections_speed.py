"""suite.report.sections.speed: the ``bench speed`` section (step time, speed-ups, scan bandwidth)."""

from pathlib import Path

import pytest

from suite.analysis.run_analysis import analyse
from suite.analysis.tables import load_results
from suite.records.store import read_manifest
from suite.report.html import ReportInputs
from suite.report.palette import model_palette
from suite.report.sections.speed import speed_section

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


@pytest.fixture(scope="module")
def bench():
    return inputs_of(ROOT / "reports/examples/bench-speed-cpu")


def test_speed_section_of_a_bench_speed_run(bench):
    made = speed_section(bench)
    assert (made.id, made.title) == ("speed", "Speed: training-step time vs length")
    body = str(made.body)
    assert "data:image/png;base64," in body
    assert "Speed-ups measured in this run" in body
    first = bench.analysis.speedups.iloc[0]
    assert f"{first['speedup']:.2f}x" in body
    assert first["model"] in body and first["baseline"] in body
    assert "Scan bandwidth" in body


def test_speed_section_is_absent_without_speed_records(example):
    assert example.analysis.speed.empty
    assert speed_section(example) is None
