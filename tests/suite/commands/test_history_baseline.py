"""suite history over runs of the committed baseline, the report's new sections,
and baseline update keeping the committed baseline when a run fails."""

import json
import shutil
from pathlib import Path

from suite.commands import baseline
from suite.commands.cli import main
from suite.report.sections import headline
from suite.report.plots import pareto_frontier

import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
BASELINE = ROOT / "results" / "baselines" / "cpu-smoke"


def copy_run(folder: Path, created: str, accuracy_delta=0.0) -> Path:
    shutil.copytree(BASELINE, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(created=created, run_id=folder.name)
    manifest["environment"]["git_commit"] = "not-a-commit-here"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    records = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    for record in records:
        record["run_id"] = folder.name
        if record["kind"] == "accuracy" and record["model"] == "mingru":
            record["accuracy"] += accuracy_delta
    (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_history_orders_runs_and_flags_the_one_that_regressed(tmp_path, capsys):
    late = copy_run(tmp_path / "late", "2026-01-03T00:00:00+00:00", accuracy_delta=-0.05)
    early = copy_run(tmp_path / "early", "2026-01-01T00:00:00+00:00")
    middle = copy_run(tmp_path / "middle", "2026-01-02T00:00:00+00:00")
    page = tmp_path / "history.html"
    assert main(["history", str(late), str(early), str(middle), "--html", str(page)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines[:3]] == ["early", "middle", "late"]
    assert lines[0].endswith("clean") and lines[1].endswith("clean")
    assert "3 regression(s) vs the run before: mingru" in lines[2]
    text = page.read_text()
    assert text.count('<tr class="regression">') == 1 and "data:image/png;base64," in text


def test_headline_and_pareto_pick_the_right_models():
    accuracy = pd.DataFrame(
        {"model": ["a", "b", "c"], "task": ["t"] * 3, "seq_len": [64] * 3, "accuracy": [0.5, 0.9, 0.9]}
    )
    best = headline.best_rows(accuracy, ["task", "seq_len"], "accuracy")
    assert best == [
        {"group": {"task": "t", "seq_len": 64}, "models": ["b", "c"], "value": 0.9, "others": 1, "noisy": False}
    ]
    points = pd.DataFrame(
        {"model": ["slow-good", "fast-bad", "dominated"], "x": [1.0, 10.0, 0.5], "y": [0.9, 0.2, 0.1]}
    )
    assert list(pareto_frontier(points, "x", "y")["model"]) == ["slow-good", "fast-bad"]


def test_a_failed_baseline_update_keeps_the_committed_baseline(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "baselines"
    shutil.copytree(BASELINE, folder / "cpu-smoke")
    before = (folder / "cpu-smoke" / "records.jsonl").read_bytes()
    monkeypatch.setattr(baseline, "BASELINES", folder)

    def failing_run(out, report=None):
        records = [json.loads(line) for line in before.decode().splitlines()]
        records[0].update(status="error", error="injected")
        (Path(out) / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        return 0

    monkeypatch.setattr(baseline, "run_grid", failing_run)
    assert baseline.update("cpu-smoke") == 2
    assert "the committed baseline is unchanged" in capsys.readouterr().err
    assert (folder / "cpu-smoke" / "records.jsonl").read_bytes() == before

    def good_run(out, report=None):
        (Path(out) / "records.jsonl").write_bytes(before.replace(b'"wall_s": ', b'"wall_s": 1'))
        (Path(out) / "manifest.json").write_text("{}")
        return 0

    monkeypatch.setattr(baseline, "run_grid", good_run)
    assert baseline.update("cpu-smoke") == 0
    assert (folder / "cpu-smoke" / "records.jsonl").read_bytes() != before
    names = sorted(p.name for p in folder.iterdir())
    assert names[-1] == "cpu-smoke" and len(names) == 2 and names[0].startswith(".cpu-smoke-new-")  # the failed run
