"""A run's defining options, its manifest, and how a started run is opened again."""

import json

import pytest

from suite.records.manifest import (
    ResumeError,
    as_typed,
    check_preset_unchanged,
    flag_of,
    merge_options,
    new_manifest,
    note_resume,
    open_run,
    recorded_by_key,
)
from suite.records.store import MANIFEST, RECORDS, read_manifest, write_manifest

DEFAULTS = {"models": ["mingru"], "seeds": [0], "overrides": []}


def test_flags_and_values_are_written_as_on_the_command_line():
    assert flag_of("overrides") == "--set" and flag_of("seq_lens") == "--seq-lens"
    assert as_typed("overrides", ["a=1", "b=x y"]) == "--set a=1 --set 'b=x y'"
    assert as_typed("models", ["mingru", "gru"]) == "--models mingru,gru"
    assert as_typed("overrides", []) == "no --set"
    assert as_typed("resume", True) == "--resume"
    assert as_typed("preset", "tiny") == "--preset tiny"


def test_a_new_run_fills_unset_options_from_the_defaults(tmp_path):
    given = {"models": ["gru"], "seeds": None, "overrides": None}
    assert merge_options(given, DEFAULTS, tmp_path, resume=False) == {
        "models": ["gru"],
        "seeds": [0],
        "overrides": [],
    }


def test_a_resume_takes_the_manifest_options_and_refuses_contradicting_ones(tmp_path):
    write_manifest(tmp_path, {"options": {"models": ["gru"], "seeds": [1, 2]}})
    merged = merge_options({"models": None, "seeds": [1, 2], "overrides": None}, DEFAULTS, tmp_path, resume=True)
    assert merged == {"models": ["gru"], "seeds": [1, 2], "overrides": []}
    with pytest.raises(ResumeError, match="made with --models gru, this command says --models lstm"):
        merge_options({"models": ["lstm"], "seeds": None, "overrides": None}, DEFAULTS, tmp_path, resume=True)


def test_resuming_what_never_held_a_run_is_refused(tmp_path):
    with pytest.raises(ResumeError, match="does not exist"):
        merge_options({"models": None}, DEFAULTS, tmp_path / "missing", resume=True)
    with pytest.raises(ResumeError, match="never held a run"):
        merge_options({"models": None}, DEFAULTS, tmp_path, resume=True)
    (tmp_path / RECORDS).write_text('{"cell_key": "a"}\n')
    with pytest.raises(ResumeError, match="holds records but no manifest.json"):
        merge_options({"models": None}, DEFAULTS, tmp_path, resume=True)


def test_a_changed_preset_is_refused_but_a_new_field_at_its_default_is_not(tmp_path):
    manifest = {"preset_config": {"lr": 0.001, "seq_lens": [64]}}
    check_preset_unchanged(manifest, "p", {"lr": 0.001, "seq_lens": (64,), "new": 1}, {"new": 1}, tmp_path)
    with pytest.raises(ResumeError, match="preset 'p' has changed"):
        check_preset_unchanged(manifest, "p", {"lr": 0.01, "seq_lens": (64,)}, {}, tmp_path)
    with pytest.raises(ResumeError, match="has changed"):
        check_preset_unchanged(manifest, "p", {"lr": 0.001, "seq_lens": (64,), "new": 2}, {"new": 1}, tmp_path)


def test_a_new_manifest_keeps_its_command_and_each_resume_is_appended():
    manifest = new_manifest("r1", "tiny", {"lr": 1.0}, {"models": ["gru"]}, {"cells": 2})
    assert manifest["run_id"] == "r1" and manifest["preset"] == "tiny" and manifest["environment"] is None
    assert manifest["command"][1:3] == ["-m", "suite"]
    first = list(manifest["command"])
    note_resume(manifest)
    note_resume(manifest)
    assert manifest["command"] == first
    assert len(manifest["resumes"]) == 2 and all("at" in one and one["command"] for one in manifest["resumes"])


def test_recorded_by_key_cuts_a_torn_line_and_keys_eval_lengths(tmp_path):
    assert recorded_by_key(tmp_path) == {}
    lines = [{"cell_key": "a", "status": "ok"}, {"cell_key": "b", "status": "ok", "eval_len": 128}]
    (tmp_path / RECORDS).write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"cell_key": "c"')
    with pytest.warns(UserWarning, match="torn last line"):
        done = recorded_by_key(tmp_path)
    assert set(done) == {"a", "b", ("b", 128)}
    assert (tmp_path / RECORDS).read_text().endswith("\n")


def test_open_run_writes_a_new_manifest_first_and_a_resume_reads_it_back(tmp_path):
    run_dir = tmp_path / "run"
    fresh = lambda: new_manifest("r1", "tiny", None, {}, {})  # noqa: E731
    manifest, done = open_run(run_dir, False, fresh, lambda: {"device": "cpu"})
    assert done == {} and manifest["environment"] == {"device": "cpu"}
    stored = read_manifest(run_dir)
    assert stored["status"] == "starting" and stored["environment"] is None  # written before the environment
    checked = []
    again, done = open_run(run_dir, True, fresh, lambda: {"device": "again"}, check=checked.append)
    assert checked and again["run_id"] == "r1" and len(again["resumes"]) == 1
    assert again["environment"] == {"device": "again"}  # killed while starting: read now
    assert (run_dir / MANIFEST).is_file()
