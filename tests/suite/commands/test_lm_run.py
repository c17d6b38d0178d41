"""``suite run`` on a language-model task end to end: the records of a tiny char-lm run, and the runs
that must stop before their first cell (missing data, a window longer than a split)."""

import math
import random

import pytest

from suite.commands.cli import main
from suite.records.store import read_records

SEQ_LEN = 32  # the tiny preset's training length


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = random.Random(1)
    words = "now is the winter of our discontent made glorious summer by this sun of york".split()
    text = "\n".join(
        rng.choice(["GLOUCESTER", "CLARENCE", "BRAKENBURY"]) + ":\n" + " ".join(rng.choices(words, k=8)) + "."
        for _ in range(80)
    )
    path = tmp_path_factory.mktemp("lm-corpus") / "richard.txt"
    path.write_text(text, encoding="utf-8")
    return path


def run(corpus, out, *extra) -> int:
    return main(
        [
            "run",
            "--preset",
            "tiny",
            "--models",
            "mingru,transformer",
            "--tasks",
            "char-lm",
            "--kinds",
            "accuracy",
            "--isolation",
            "none",
            "--set",
            f"task_params.char-lm.corpus={corpus}",
            "--out",
            str(out),
            *extra,
        ]
    )


def test_a_tiny_lm_run_records_the_loss_the_recall_split_and_the_data(corpus, tmp_path):
    report = tmp_path / "report.html"
    assert (
        run(corpus, tmp_path / "run", "--set", "train_steps=4", "--set", "eval_every=2", "--report", str(report)) == 0
    )
    assert "char-lm" in report.read_text()  # the analysis and the report read language-model records
    records = read_records(tmp_path / "run")
    assert sorted(r["model"] for r in records) == ["mingru", "transformer"]
    for record in records:
        assert record["status"] == "ok" and record["objective"] == "lm" and record["task"] == "char-lm"
        assert record["test_loss"] > 0 and record["bits_per_char"] == pytest.approx(record["test_loss"] / math.log(2))
        assert record["test_loss_ci_low"] < record["test_loss"] < record["test_loss_ci_high"]
        assert len(record["dataset_sha256"]) == 64 and record["dataset"] == "richard.txt"
        assert set(record["split_chars"]) == {"train", "valid", "test"}
        assert len(record["loss_by_position"]) == SEQ_LEN == record["eval_len"]
        assert record["recall_ngram"] == 3 == record["train_config"]["recall_ngram"]
        assert 0 <= record["recall_fraction"] <= 1 and record["other_loss"] > 0
        assert record["recall_fraction"] == 0 or record["recall_loss"] > 0
        assert record["stop_reason"] == "max_steps" and record["steps_trained"] == 4
        assert [point[0] for point in record["valid_curve"]] == [2, 4]
        assert record["best_valid_loss"] == min(point[2] for point in record["valid_curve"])
        assert record["best_valid_accuracy"] is None and 0 <= record["accuracy"] <= 1


def one_line_refusal(capsys, code, out) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert not out.exists()  # refused before anything was written
    return err


def test_a_missing_corpus_file_is_refused_before_the_first_cell(tmp_path, capsys):
    out = tmp_path / "run"
    err = one_line_refusal(capsys, run(tmp_path / "absent.txt", out), out)
    assert "absent.txt" in err


def test_a_data_set_not_fetched_is_refused_naming_the_fetch_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path / "empty"))
    out = tmp_path / "run"
    err = one_line_refusal(capsys, run("shakespeare", out), out)
    assert "python -m suite data fetch shakespeare" in err


def test_a_window_longer_than_the_validation_region_is_refused(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    err = one_line_refusal(capsys, run(corpus, out, "--seq-lens", "4096"), out)
    assert "char-lm" in err and "4096" in err
