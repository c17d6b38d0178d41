"""suite.report.sections.perf: throughput, latency and memory figures, the max-len boundary and the perf table."""

from pathlib import Path

import pytest

import pandas as pd

from suite.report.sections.perf import PERF_HEADERS, boundary_failures, boundary_rows, perf_section
from tests.suite.report.test_report import make_record, write_run
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example():
    return inputs_of(ROOT / "reports/examples/cpu-default")


def test_perf_section_of_the_example_has_its_figures_and_table(example):
    made = perf_section(example)
    assert made.id == "perf"
    body = str(made.body)
    for heading in ("<h2>Training throughput</h2>", "<h2>Decode latency</h2>", "<h2>Peak memory</h2>"):
        assert heading in body
    assert body.count("data:image/png;base64,") == 3
    assert all(header in body for header in PERF_HEADERS)
    assert "transformer" in body and "gru:loop" in body
    assert "Out-of-memory boundary" not in body  # no run --find-max-len in this example


def test_perf_section_without_perf_cells_says_so(tmp_path):
    run = write_run(tmp_path, [make_record("accuracy", "mingru", "mqar", 64)])
    body = str(perf_section(inputs_of(run)).body)
    assert body.count("this run has no perf cells") == 3
    assert "data:image/png" not in body


def test_perf_section_names_a_cell_not_plotted(tmp_path):
    records = [
        make_record("perf", "mingru", "mqar", 128),
        make_record("perf", "mingru", "mqar", 512),
        make_record("perf", "transformer", "mqar", 128),
        make_record("perf", "transformer", "mqar", 512),
        make_record("perf", "mamba", "mqar", 128, status="oom", error="out of memory"),
    ]
    body = str(perf_section(inputs_of(write_run(tmp_path, records))).body)
    assert "Not plotted (no ok run)" in body and "mamba @ 128: oom" in body


def test_boundary_of_the_max_len_table():
    max_len = pd.DataFrame(
        {
            "model": ["gru", "mamba"],
            "batch_size": [8, 8],
            "max_seq_len": [1024, 4096],
            "first_failing_len": [2048, None],
            "first_failing_status": ["oom", None],
            "first_failing_error": ["out of memory", None],
            "mem_limit_bytes": [2**30, 2**30],
        }
    )
    assert boundary_failures(max_len) == {"gru": (2048, "oom")}
    rows = boundary_rows(max_len)
    assert len(rows) == 2
    assert "1024" in str(rows[0]) and "2048" in str(rows[0]) and "out of memory" in str(rows[0])
