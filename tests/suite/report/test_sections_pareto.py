"""suite.report.sections.pareto: best accuracy against training throughput at one common length."""

from pathlib import Path

import pytest

import pandas as pd

from suite.report.sections.pareto import pareto_points, pareto_section
from tests.suite.report.test_report import make_record, write_run
from tests.suite.report.section_inputs import inputs_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example():
    return inputs_of(ROOT / "reports/examples/cpu-default")


def test_pareto_points_use_the_longest_length_most_models_finished():
    accuracy = pd.DataFrame(
        {"model": ["a", "a", "b", "c"], "task": ["t"] * 4, "accuracy": [0.2, 0.6, 0.5, float("nan")]}
    )
    perf = pd.DataFrame(
        {
            "model": ["a", "b", "a", "b", "a"],
            "seq_len": [128, 128, 512, 512, 2048],
            "train_tokens_per_s": [10.0, 20.0, 5.0, 8.0, 1.0],
        }
    )
    points, length = pareto_points(accuracy, perf)
    assert length == 512.0
    rows = points.set_index("model")
    assert set(rows.index) == {"a", "b"}
    assert rows.loc["a", "accuracy"] == 0.6 and rows.loc["a", "train_tokens_per_s"] == 5.0
    assert rows.loc["b", "train_tokens_per_s"] == 8.0


def test_pareto_points_without_throughput_are_empty():
    accuracy = pd.DataFrame({"model": ["a"], "task": ["t"], "accuracy": [0.5]})
    perf = pd.DataFrame({"model": ["a"], "seq_len": [128], "train_tokens_per_s": [float("nan")]})
    points, length = pareto_points(accuracy, perf)
    assert length is None and points.empty


def test_pareto_section_of_the_example_names_its_length(example):
    made = pareto_section(example)
    assert (made.id, made.title) == ("pareto", "Accuracy vs throughput (Pareto)")
    _, length = pareto_points(example.analysis.accuracy, example.analysis.perf)
    assert f"at seq_len {int(length)} " in made.body
    assert "data:image/png;base64," in made.body


def test_pareto_section_is_absent_without_perf_cells(tmp_path):
    run = write_run(tmp_path, [make_record("accuracy", "mingru", "mqar", 64)])
    assert pareto_section(inputs_of(run)) is None
