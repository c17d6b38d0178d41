"""Schema 7: one name per number, raw timings and versions; schema 8: language models; schema 9: the decode
method; every older record still reads in the new names."""

import importlib
from pathlib import Path

import pytest

from suite.errors import UsageError
from suite.measure.timing import Timing
from suite.records.schema import ALL_FIELDS, SCHEMA_VERSION, blank_record, validate
from suite.records.store import NEW_IN_8, NEW_IN_9, read_records, upgrade
from suite.registry import MODEL_FAMILIES, TASKS, builtin_family_names, builtin_task_names, record_versions

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = sorted(
    folder
    for folder in [*(ROOT / "reports" / "examples").iterdir(), ROOT / "results" / "baselines" / "cpu-smoke"]
    if (folder / "records.jsonl").is_file()
)
OLD_NAMES = ("median_ms", "repeats", "train_steps", "train_len")


def test_the_old_names_are_gone_from_the_schema():
    assert SCHEMA_VERSION == 9
    assert not set(OLD_NAMES) & set(ALL_FIELDS)
    assert {"train_step_raw_ms", "prefill_raw_ms", "decode_raw_ms", "family_version", "task_version"} <= set(ALL_FIELDS)


@pytest.mark.parametrize("folder", COMMITTED, ids=lambda folder: folder.name)
def test_every_committed_run_reads_in_the_new_names(folder):
    records = read_records(folder)
    assert records
    for record in records:
        assert not set(OLD_NAMES) & set(record), record["cell_key"]
        old = record["schema_version"] < 7  # runs written before schema 7 kept no versions and no raw timings
        assert not old or (record["family_version"] is None and record["task_version"] is None)
        assert old or record["kind"] != "accuracy" or record["task_version"] is not None
        # an accuracy cell scores accuracy, or is a language model (loss) on a corpus that it names
        assert (
            record["kind"] != "accuracy"
            or record["objective"] == "accuracy"
            or (record["objective"] == "lm" and record["dataset"] and record["dataset_sha256"])
        )
        assert upgrade(record) == record  # idempotent
        if record["kind"] in ("perf", "speed"):
            assert (record["train_step_raw_ms"] is None) == old or record["status"] != "ok"
            assert record["status"] != "ok" or record["train_step_ms"] > 0
        if record["kind"] == "perf" and record["status"] == "ok":  # every committed run decoded eagerly
            assert record["decode_method"] == "eager" and record["decode_ms_per_token_graph"] is None
            assert record["decode_ms_per_token_eager"] == record["decode_ms_per_token"]


def test_a_v6_speed_record_takes_perfs_names():
    v6 = dict(blank_record("speed"), schema_version=6, status="ok", backend="log", scope="mixer")
    del v6["train_step_ms"], v6["timing_repeats"], v6["train_step_raw_ms"], v6["family_version"], v6["task_version"]
    v6.update(median_ms=2.5, repeats=7)
    upgraded = upgrade(v6)
    assert (upgraded["train_step_ms"], upgraded["timing_repeats"]) == (2.5, 7)
    assert not {"median_ms", "repeats"} & set(upgraded) and validate(upgraded) == []
    assert upgraded["train_step_raw_ms"] is None and upgraded["schema_version"] == 6


def test_a_v6_accuracy_record_keeps_one_step_count_and_one_length():
    v6 = dict(blank_record("accuracy"), schema_version=6, status="ok", backend="log", accuracy=0.5, seq_len=64)
    del v6["family_version"], v6["task_version"]
    v6.update(train_steps=40, steps_trained=None, train_len=64, eval_len=128)
    upgraded = upgrade(v6)
    assert upgraded["steps_trained"] == 40 and upgraded["seq_len"] == 64 and upgraded["eval_len"] == 128
    assert not {"train_steps", "train_len"} & set(upgraded) and validate(upgraded) == []


def test_a_v7_accuracy_record_was_an_accuracy_objective_and_has_no_loss_fields():
    v7 = dict(blank_record("accuracy"), schema_version=7, status="ok", backend="log", accuracy=0.5, seq_len=64)
    for name in NEW_IN_8:
        del v7[name]
    upgraded = upgrade(v7)
    assert upgraded["objective"] == "accuracy" and validate(upgraded) == []
    assert all(upgraded[name] is None for name in NEW_IN_8 if name != "objective")
    assert upgrade(upgraded) == upgraded and upgraded["schema_version"] == 7
    perf = dict(blank_record("perf"), schema_version=7, status="ok", backend="log")
    assert upgrade(perf) == perf  # only accuracy records gained fields


def test_a_v8_perf_record_decoded_eagerly():
    v8 = dict(blank_record("perf"), schema_version=8, status="ok", backend="log")
    for name in NEW_IN_9:
        del v8[name]
    v8.update(decode_ms_per_token=0.25, decode_ms_per_token_batch1=0.125)
    upgraded = upgrade(v8)
    assert upgraded["decode_method"] == "eager" and validate(upgraded) == []
    assert (upgraded["decode_ms_per_token_eager"], upgraded["decode_ms_per_token_batch1_eager"]) == (0.25, 0.125)
    assert upgraded["decode_ms_per_token_graph"] is None and upgraded["decode_graph_reason"] is None
    assert upgrade(upgraded) == upgraded and upgraded["schema_version"] == 8
    failed = {name: value for name, value in blank_record("perf").items() if name not in NEW_IN_9}
    failed.update(schema_version=8, status="oom")
    assert upgrade(failed)["decode_method"] is None  # nothing was decoded
    assert NEW_IN_9[0] == "decode_method" and NEW_IN_9[-1] == "decode_graph_reason" and len(NEW_IN_9) == 6


def test_a_current_graph_decoded_record_is_unchanged():
    record = dict(blank_record("perf"), status="ok", backend="log", decode_ms_per_token=0.1, decode_method="cuda_graph")
    record.update(decode_ms_per_token_graph=0.1, decode_ms_per_token_eager=0.9)
    assert upgrade(record) == record and validate(record) == []


def test_a_current_language_model_record_is_unchanged():
    record = dict(blank_record("accuracy"), status="ok", backend="log", accuracy=0.5, objective="lm", test_loss=1.5)
    assert upgrade(record) == record and validate(record) == []
    assert {"test_loss", "bits_per_char", "loss_by_position", "recall_loss", "dataset_sha256"} <= set(NEW_IN_8)


def test_a_current_record_is_unchanged():
    record = dict(blank_record("perf"), status="ok", backend="log", train_step_raw_ms=[1.0, 2.0], family_version=3)
    assert upgrade(record) == record


def test_timing_keeps_every_repeat_in_milliseconds():
    timing = Timing([0.001, 0.003, 0.002])
    assert timing.raw_ms == [1.0, 3.0, 2.0] and timing.median_ms == pytest.approx(2.0)


def test_every_builtin_family_and_task_has_its_modules_version():
    for name in builtin_family_names():
        module = importlib.import_module({"gru": "models.rnn", "lstm": "models.rnn"}.get(name, f"models.{name}"))
        assert record_versions(name, None) == {"family_version": module.VERSION, "task_version": None}
    for name in builtin_task_names():
        versions = record_versions(None, name)
        assert isinstance(versions["task_version"], int) and versions["task_version"] >= 1
    assert record_versions("not-registered", None) == {"family_version": None, "task_version": None}


def test_a_plugin_declares_its_version_or_gets_1():
    from suite.registry import register_model, register_task

    try:
        register_model("versioned-family", lambda *args, **kwargs: None, version=3)
        register_task("unversioned-task", lambda **params: None)
        assert record_versions("versioned-family", "unversioned-task") == {"family_version": 3, "task_version": 1}
        for bad in (0, "2", True):
            with pytest.raises(UsageError, match="version must be an integer >= 1"):
                register_task("badly-versioned-task", lambda **params: None, version=bad)
    finally:
        MODEL_FAMILIES.pop("versioned-family", None)
        TASKS.pop("unversioned-task", None)
