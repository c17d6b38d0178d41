"""suite.report.sections.provenance: command, environment, backends, packages, plan and preset."""

from pathlib import Path

import pytest

from suite.report.sections.provenance import provenance_section
from tests.suite.report.test_report import MAMBA_DETAIL, make_record, write_run
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example():
    return inputs_of(ROOT / "reports/examples/cpu-default")


def test_provenance_section_of_the_example(example):
    made = provenance_section(example)
    assert (made.id, made.title) == ("provenance", "Provenance")
    body = str(made.body)
    assert "<h3>Command</h3>" in body and "-m suite run --models all" in body
    assert "<h3>Environment</h3>" in body and str(example.manifest["environment"]["torch_version"]) in body
    assert "<h3>Backend per model</h3>" in body and "mamba2" in body
    assert "Preset configuration (cpu)" in body


def test_provenance_section_of_a_synthetic_run_quotes_the_command_and_manifest_backends(tmp_path):
    records = [make_record("accuracy", "mingru", "mqar", 64), make_record("accuracy", "mamba", "mqar", 64)]
    body = str(provenance_section(inputs_of(write_run(tmp_path, records))).body)
    assert "python -m suite run --preset tiny-test" in body
    assert "Synthetic CPU" in body and "abc1234" in body
    assert "mamba_ssm" in body and "not installed" in body
    assert MAMBA_DETAIL.replace("'", "&#39;") in body
    assert "gru:loop" in body  # in the manifest's backends, though it wrote no record


def test_provenance_section_without_a_manifest_says_what_is_missing(tmp_path):
    run = write_run(tmp_path, [make_record("accuracy", "mingru", "mqar", 64)], with_manifest=False)
    body = str(provenance_section(inputs_of(run)).body)
    assert "the manifest has no environment" in body
    assert "<h3>Command</h3>" not in body and "Preset configuration" not in body
    assert "mingru" in body
