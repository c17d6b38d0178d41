"""suite.report.diff: the HTML diff page of ``suite compare --html``."""

import re

from suite.analysis.compare import compare_runs
from suite.analysis.runs import load_run
from suite.report.diff import VERDICT_TITLES, build_diff_html, rows_for_template, write_diff_report
from tests.suite.report.test_report import make_record, write_run


def runs(tmp_path):
    def side(name, accuracy, timing_error):
        records = [
            make_record("accuracy", "mingru", "mqar", 64, accuracy=accuracy),
            make_record("accuracy", "mamba", "mqar", 64, accuracy=0.5),
            make_record("perf", "mamba", "mqar", 128, status="error", error=timing_error)
            if timing_error
            else make_record("perf", "mamba", "mqar", 128),
        ]
        return load_run(write_run(tmp_path / name, records))

    return side("base", 0.95, None), side("cur", 0.20, "<b>boom</b>")


def test_diff_page_puts_regressions_first_and_escapes_record_text(tmp_path):
    baseline, current = runs(tmp_path)
    comparison = compare_runs(baseline, current)
    assert len(comparison.regressions)
    html = build_diff_html(comparison)
    assert html.startswith("<!DOCTYPE html>") or "<html" in html
    assert "suite compare: test-run-0001 vs test-run-0001" in html
    titles = [title for title in VERDICT_TITLES.values() if title in html]
    assert titles[0] == "Regressions"
    assert re.search(r"Regressions \(\d+\)", html)
    assert "mingru mqar T=64 seed=0" in html
    assert "Provenance of both runs" in html
    assert "<b>boom</b>" not in html  # record text is escaped


def test_rows_for_template_formats_values_and_sort_key(tmp_path):
    comparison = compare_runs(*runs(tmp_path))
    rows = rows_for_template(comparison.rows)
    assert len(rows) == len(comparison.rows)
    accuracy = next(r for r in rows if r["cell"].startswith("mingru") and r["metric"] == "accuracy")
    assert accuracy["verdict"] == "regression"
    assert "0.95" in accuracy["baseline"] and "0.2" in accuracy["current"]
    assert accuracy["sort_change"] != ""
    assert all(isinstance(r["sort_change"], str) for r in rows)


def test_write_diff_report_creates_the_folder(tmp_path):
    comparison = compare_runs(*runs(tmp_path))
    path = write_diff_report(comparison, tmp_path / "out" / "diff.html")
    assert path.exists()
    assert "Regressions" in path.read_text(encoding="utf-8")
