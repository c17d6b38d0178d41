"""analysis.json: every report writes it beside the records, it holds the documented keys with the
documented types (docs/analysis-json.md), and compare reads its verdicts without any HTML report."""

import json
import math
import re
import shutil
from pathlib import Path

import pytest

from suite.analysis.run_analysis import ANALYSIS_VERSION, analyse, analyse_run, load_analysis, write_analysis
from suite.analysis.compare import compare_runs, load_run
from suite.analysis.missing import is_missing
from suite.commands.cli import main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "reports" / "examples" / "cpu-default"
DOC = ROOT / "docs" / "analysis-json.md"

NUMBER = (int, float)
OPTIONAL_NUMBER = (int, float, type(None))
TEXT = (str, type(None))
VERDICT_KINDS = {"solved", "fails", "undertrained", "cut by time", "inconclusive", "control fails", "not run ok"}
VERDICT_ENTRY = {
    "task": str,
    "task_variant": str,
    "model": str,
    "family": TEXT,
    "d_model": OPTIONAL_NUMBER,
    "n_layers": OPTIONAL_NUMBER,
    "budget_width": OPTIONAL_NUMBER,
    "param_match": TEXT,
    "train_len": NUMBER,
    "eval_len": NUMBER,
    "n_runs": int,
    "n_ok": int,
    "status": str,
    "seeds": str,
    "accuracy": OPTIONAL_NUMBER,
    "accuracy_ci_low": OPTIONAL_NUMBER,
    "accuracy_ci_high": OPTIONAL_NUMBER,
    "ci_method": TEXT,
    "last_accuracy": OPTIONAL_NUMBER,
    "last_accuracy_ci_low": OPTIONAL_NUMBER,
    "last_accuracy_ci_high": OPTIONAL_NUMBER,
    "seq_accuracy": OPTIONAL_NUMBER,
    "chance_accuracy": OPTIONAL_NUMBER,
    "params": OPTIONAL_NUMBER,
    "state_bytes": OPTIONAL_NUMBER,
    "lr": str,
    "backend": str,
    "positional_encoding": str,
    "plain_family": str,
    "stop_reasons": str,
    "n_stop_recorded": int,
    "rising_at": str,
    "n_cut_by_time": int,
    "still_rising": bool,
    "steps_trained": OPTIONAL_NUMBER,
    "best_step": OPTIONAL_NUMBER,
    "max_steps": OPTIONAL_NUMBER,
    "max_steps_key": str,
    "time_limit_s": OPTIONAL_NUMBER,
    "target_accuracy": OPTIONAL_NUMBER,
    "steps_to_target": OPTIONAL_NUMBER,
    "seconds_to_target": OPTIONAL_NUMBER,
    "n_reached": int,
    "cut_by_time": bool,
    "solved": bool,
    "undertrained": bool,
    "train_longer": str,
    "control": TEXT,
    "control_accuracy": OPTIONAL_NUMBER,
    "verdict": str,
    "verdict_kind": str,
}
RATIO_ENTRY = {
    "cell_key": TEXT,
    "kind": str,
    "model": str,
    "scope": TEXT,
    "seq_len": NUMBER,
    "batch_size": NUMBER,
    "max_len_probe": bool,
    "train_speed_ratio": OPTIONAL_NUMBER,
    "prefill_speed_ratio": OPTIONAL_NUMBER,
    "decode_speed_ratio": OPTIONAL_NUMBER,
    "noisy": bool,
}
SCHEMA = {
    "analysis_version": int,
    "schema_version": int,
    "record_schema_versions": [int],
    "suite_version": TEXT,
    "run_id": TEXT,
    "written": str,
    "records_sha256": TEXT,
    "cells": {"total": int, "records": int, "by_status": dict, "by_kind_and_model": [dict]},
    "tables": {
        "accuracy": [dict],
        "perf": [dict],
        "max_len": [dict],
        "summary": [dict],
        "speed": [dict],
        "not_ok": [dict],
    },
    "verdicts": [VERDICT_ENTRY],
    "equal_compute": {"rows": [dict], "ratios": [dict]},
    "paper": dict,
    "hybrids": {"rows": [dict], "cheapest": [dict]},
    "real_data": dict,
    "speed": {"reference": str, "ratios": [RATIO_ENTRY], "speedups": [dict]},
}


def schema_errors(value, schema, where="analysis") -> list[str]:
    """Where ``value`` departs from ``schema``: a dict schema names every key (no more, no fewer), a
    one-element list schema types each item, a type or tuple of types types the value (a bool is
    not a number)."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        errors = [f"{where}: missing {key}" for key in schema if key not in value]
        errors += [f"{where}: undocumented {key}" for key in value if key not in schema]
        for key in schema.keys() & value.keys():
            errors += schema_errors(value[key], schema[key], f"{where}.{key}")
        return errors
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [error for i, item in enumerate(value) for error in schema_errors(item, schema[0], f"{where}[{i}]")]
    types = schema if isinstance(schema, tuple) else (schema,)
    if isinstance(value, bool) and bool not in types:
        return [f"{where}: {value!r} is a bool"]
    return [] if isinstance(value, types) else [f"{where}: {value!r} is not {types}"]


def no_nan(value) -> bool:
    if isinstance(value, dict):
        return all(no_nan(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nan(v) for v in value)
    return not (isinstance(value, float) and math.isnan(value))


def documented_names() -> set[str]:
    return set(re.findall(r"`([a-z_0-9]+)`", DOC.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """A copy of the committed cpu-default run (48 cells: accuracy with verdicts, perf with ratios)
    whose report was written by ``suite report``."""
    run = tmp_path_factory.mktemp("runs") / "cpu-default"
    shutil.copytree(EXAMPLE, run, ignore=shutil.ignore_patterns("report.html"))
    assert main(["report", str(run), "--out", str(run.parent / "cpu-default.html")]) == 0
    return run


def test_the_report_writes_analysis_json_of_the_documented_schema(example_run):
    document = json.loads((example_run / "analysis.json").read_text())
    assert schema_errors(document, SCHEMA) == []
    assert no_nan(document)
    assert (
        document["analysis_version"] == ANALYSIS_VERSION
        and document["run_id"] == json.loads((EXAMPLE / "manifest.json").read_text())["run_id"]
    )
    assert document["cells"]["total"] == 48 and document["cells"]["by_status"] == {"ok": 48}
    assert {v["verdict_kind"] for v in document["verdicts"]} <= VERDICT_KINDS
    assert {v["verdict_kind"] for v in document["verdicts"]} >= {"solved", "fails", "undertrained"}
    assert len(document["speed"]["ratios"]) > 0 and document["paper"] == {}  # not a paper-* run
    assert document["real_data"] == {}  # no language model, no data set
    # the schema above and the page agree: every key and verdict field is documented
    names = {key for key in SCHEMA} | {k for part in SCHEMA.values() if isinstance(part, dict) for k in part}
    assert names | set(VERDICT_ENTRY) | set(RATIO_ENTRY) <= documented_names()


def test_the_schema_check_finds_departures():
    assert schema_errors({"a": 1.0}, {"a": int}) == ["analysis.a: 1.0 is not (<class 'int'>,)"]
    assert schema_errors({"a": True}, {"a": NUMBER}) == ["analysis.a: True is a bool"]
    assert schema_errors({"b": 1}, {"a": int}) == ["analysis: missing a", "analysis: undocumented b"]
    assert schema_errors({"a": [1, "x"]}, {"a": [int]}) == ["analysis.a[1]: 'x' is not (<class 'int'>,)"]


def test_the_analysis_has_no_nan_where_the_records_have_gaps(tmp_path):
    from suite.analysis.tables import load_results
    from suite.records.schema import blank_record
    from suite.records.store import RecordWriter

    record = blank_record("accuracy")
    record.update(model="mingru", family="mingru", task="mqar", task_params={}, model_config={}, seq_len=64)
    record.update(status="oom", error="out of memory", cell_key="k", seed=0, batch_size=8)
    with RecordWriter(tmp_path) as writer:
        writer.append(record)
    document = analyse(load_results(tmp_path)).to_json()
    assert no_nan(document) and json.dumps(document, allow_nan=False)
    [verdict] = document["verdicts"]
    assert verdict["verdict_kind"] == "not run ok" and verdict["accuracy"] is None


def test_a_stale_or_missing_analysis_json_is_rebuilt_and_says_why(example_run, tmp_path):
    document, source = load_analysis(example_run)
    assert source == "analysis.json"
    run = tmp_path / "run"
    shutil.copytree(example_run, run)
    (run / "analysis.json").unlink()
    rebuilt, source = load_analysis(run)
    assert source == "built from the records: no analysis.json" and rebuilt["verdicts"] == document["verdicts"]
    write_analysis(analyse_run(run), run)
    with (run / "records.jsonl").open("a") as records:
        records.write("\n")  # the records changed since: a resumed run appended to them
    _, source = load_analysis(run)
    assert source.startswith("built from the records: analysis.json is older than the records")


def test_compare_reads_verdicts_from_analysis_json_without_a_report(example_run, tmp_path, capsys):
    baseline, current = tmp_path / "baseline", tmp_path / "current"
    for run in (baseline, current):
        shutil.copytree(example_run, run)
        assert not list(run.glob("*.html"))  # records, manifest and analysis.json only
    path = current / "analysis.json"
    document = json.loads(path.read_text())
    solved = next(v for v in document["verdicts"] if v["verdict_kind"] == "solved")
    solved.update(verdict="fails (plateaued; control solves)", verdict_kind="fails")
    path.write_text(json.dumps(document))
    assert main(["compare", str(baseline), str(current)]) == 0  # verdicts are shown, never gated
    out = capsys.readouterr().out
    label = f"{solved['model']} {solved['task']} T={solved['train_len']}"
    [line] = [line for line in out.splitlines() if label in line and "(verdict)" in line]
    assert line.startswith("worse") and "solved -> fails" in line
    assert "verdicts from analysis.json (baseline and current)" in out
    comparison = compare_runs(load_run(baseline), load_run(current))
    changed = comparison.rows[(comparison.rows["metric"] == "verdict") & (comparison.rows["verdict"] != "same")]
    assert len(changed) == 1 and not is_missing(changed.iloc[0]["reason"])


def test_history_reads_accuracy_and_speed_from_analysis_json(example_run, tmp_path):
    from suite.commands.history import build_history

    run = tmp_path / "run"
    shutil.copytree(example_run, run)
    _, before = build_history([run])
    path = run / "analysis.json"
    document = json.loads(path.read_text())
    for row in document["tables"]["accuracy"]:
        row["accuracy"] = 0.25
    for row in document["speed"]["ratios"]:
        row["train_speed_ratio"] = 7.0
    path.write_text(json.dumps(document))
    _, after = build_history([run])
    for prefix, value in (("accuracy: ", 0.25), ("train speed / gru", 7.0)):
        mine = after[after["metric"].str.startswith(prefix)]
        assert len(mine) == len(before[before["metric"].str.startswith(prefix)]) > 0
        assert (mine["value"] == value).all()


def test_the_package_exports_analyse():
    import suite.analysis
    from suite.analysis import run_analysis

    assert suite.analysis.analyse is run_analysis.analyse and suite.analysis.load_analysis is load_analysis
