"""Every run leaves analysis.json beside its records, with or without its HTML report."""

import json

import pytest

from suite.commands.cli import main

TINY = ["run", "--preset", "tiny", "--models", "mingru", "--tasks", "mqar", "--kinds", "accuracy"]


@pytest.mark.parametrize("no_report", [True, False], ids=["no-report", "with-report"])
def test_a_run_writes_its_analysis(tmp_path, no_report):
    out = tmp_path / "run"
    flags = ["--no-report"] if no_report else ["--report", str(tmp_path / "report.html")]
    assert main([*TINY, "--set", "train_steps=4", "--out", str(out), *flags]) == 0
    document = json.loads((out / "analysis.json").read_text())
    assert document["analysis_version"] >= 1
    assert [row["model"] for row in document["verdicts"]] == ["mingru"]
    assert (tmp_path / "report.html").exists() != no_report
