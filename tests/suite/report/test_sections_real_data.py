"""suite.report.sections.real_data: the "Real data" section of a tiny language-model run written by
``suite run`` (a small corpus written here; no network), a classification table from records, and no
section for a run without real-data cells."""

import json
import random
import re

import pytest

from suite.commands.cli import main
from suite.report.html import write_report
from suite.report.sections.real_data import position_bins, real_data_section
from tests.suite.analysis.test_real_data import fashion_record, synthetic_record
from tests.suite.report.section_inputs import inputs_of
from tests.suite.report.test_report import make_record, write_run


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    """mingru, gru and the transformer on char-lm (4 steps) and on mqar, in one tiny run."""
    rng = random.Random(2)
    words = "to be or not to be that is the question whether tis nobler in the mind".split()
    text = "\n".join("HAMLET:\n" + " ".join(rng.choices(words, k=9)) + "." for _ in range(90))
    folder = tmp_path_factory.mktemp("real-data")
    corpus = folder / "hamlet.txt"
    corpus.write_text(text, encoding="utf-8")
    out = folder / "run"
    code = main(
        [
            "run",
            "--preset",
            "tiny",
            "--models",
            "mingru,gru,transformer",
            "--tasks",
            "char-lm,mqar",
            "--kinds",
            "accuracy",
            "--isolation",
            "none",
            "--set",
            f"task_params.char-lm.corpus={corpus}",
            "--set",
            "train_steps=4",
            "--set",
            "eval_every=2",
            "--out",
            str(out),
            "--no-report",
        ]
    )
    assert code == 0
    return out


def test_the_section_shows_the_loss_table_figures_recall_split_and_agreement(lm_run):
    page = write_report(lm_run).read_text(encoding="utf-8")
    start = page.index('id="real-data"')
    section = page[start : page.index("</section>", start)]
    assert "<h2>Real data</h2>" in section and "<h3>char-lm on hamlet.txt, T 32" in section
    for header in ("test loss [95% CI]", "bits/char", "paper&#39;s loss", "steps to best (paper&#39;s)", "overfitted"):
        assert f"<th>{header}</th>" in section
    assert re.search(r"<td>mingru</td><td>[\d,]+</td><td>0</td><td>\d\.\d{3} \[", section)
    assert "No published number at this setting" in section  # not a Shakespeare corpus
    assert "tiny-shakespeare" in section and "not a target" in section  # the paper's numbers, as a reference
    assert "Validation loss against steps and against seconds" in section and "Test loss by position" in section
    assert section.count("data:image/png;base64,") == 2
    assert "<th>gap to transformer: recall</th>" in section and "<td>+0.000</td>" in section  # the control itself
    assert "Synthetic tasks against this corpus" in section and "only 3 models" in section
    assert "mqar" in section
    assert page.index('id="real-data"') < page.index('id="provenance"')


def zoology_run(folder):
    """A synthetic-only run of three of lm_run's models (another run id)."""
    accuracy = (("transformer", 0.9), ("gru", 0.5), ("mingru", 0.3))
    records = [synthetic_record(m, a, task="selective-copy") for m, a in accuracy]
    for record in records:
        record["run_id"] = "zoology-run"
    return write_run(folder, records)


def test_report_synthetic_brings_another_runs_tasks_into_the_agreement(lm_run, tmp_path):
    out = tmp_path / "with-zoology.html"
    assert main(["report", str(lm_run), "--out", str(out), "--synthetic", str(zoology_run(tmp_path / "z"))]) == 0
    page = out.read_text(encoding="utf-8")
    section = page[page.index('id="real-data"') :]
    assert re.search(r"each synthetic task \(runs [^)]*zoology-run\)", section)
    assert "by accuracy on selective-copy" in section
    entries = json.loads((lm_run / "analysis.json").read_text())["real_data"]["agreement"]
    theirs = [e for e in entries if e["synthetic_task"] == "selective-copy"]
    assert {e["real_metric"] for e in theirs} == {"test_loss"}  # the tiny windows hold no recall token
    assert all(e["synthetic_runs"] == ["zoology-run"] and e["n"] == 3 for e in theirs)
    assert any(e["synthetic_task"] == "mqar" for e in entries)  # the run's own synthetic cells stay


def test_report_synthetic_refuses_what_it_cannot_compare(lm_run, tmp_path, capsys):
    fashion = write_run(tmp_path / "fashion", [fashion_record("lstm", 0, 0.7)])
    synthetic = zoology_run(tmp_path / "z")
    out = tmp_path / "r.html"
    cases = [
        ([str(lm_run), "--synthetic", str(tmp_path / "missing")], "is not a run directory"),
        ([str(lm_run), "--synthetic", str(fashion)], "has no synthetic accuracy cells"),
        ([str(synthetic), "--synthetic", str(synthetic)], "has no real-data cells"),
    ]
    for arguments, words in cases:
        assert main(["report", *arguments, "--out", str(out)]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and words in error[0], error
        assert not out.exists()


def test_a_classification_task_gets_its_table(tmp_path):
    run = write_run(tmp_path, [fashion_record("lstm", 0, 0.7), fashion_record("lstm", 1, 0.8)])
    made = real_data_section(inputs_of(run))
    assert made.id == "real-data" and "<h3>seq-fashion-mnist on fashion-mnist, T 784" in made.body
    assert "<th>accuracy [95% CI]</th>" in made.body and "<td>0.750 [" in made.body
    assert "Validation loss" not in made.body  # no language model: no loss figures


def test_the_section_is_absent_without_real_data_cells(tmp_path):
    run = write_run(tmp_path, [make_record("accuracy", "mingru", "mqar", 64)])
    assert real_data_section(inputs_of(run)) is None


def test_loss_by_position_is_pooled_in_log_spaced_bins():
    centres, means = position_bins([float(i) for i in range(100)], bins=10)
    assert centres[0] == 1.0 and means[0] == 0.0  # the first position stays alone
    assert len(centres) <= 10 and centres == sorted(centres) and means == sorted(means)
    assert means[-1] > 80


def test_a_run_whose_real_data_cells_all_failed_says_so(tmp_path):
    failed = fashion_record("lstm", 0, 0.7)
    failed.update(status="oom", error="out of memory")
    made = real_data_section(inputs_of(write_run(tmp_path, [failed])))
    assert "no real-data cell finished ok" in made.body
