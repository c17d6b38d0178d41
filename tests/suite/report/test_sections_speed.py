"""suite.report.sections.speed: the ``bench speed`` section (step time, speed-ups, scan bandwidth)."""

from pathlib import Path

import pytest

from suite.report.sections.speed import speed_section
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


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
