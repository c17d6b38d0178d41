"""suite.analysis.tables and suite.report on synthetic records: loading, the tables, and
the self-contained HTML report (including runs with missing sections)."""

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from suite.analysis import cells
from suite.analysis import summary as summaries
from suite.analysis import speed as speed_figures
from suite.analysis import tables as analysis
from suite.records.schema import NUMERIC_FIELDS, SCHEMA_VERSION, SPEED_FIELDS, blank_record, validate
from suite.records.store import read_manifest, read_records, upgrade
from suite.report import write_report
from suite.report.format import NO_VALUE, format_value
from suite.report.sections.header import shared_cores_warnings

ROOT = Path(__file__).resolve().parents[3]
SCRIPT_ERROR = "<script>alert('pwned')</script> exploded in the scan"
OOM_ERROR = "CUDA out of memory. Tried to allocate 2.00 GiB (synthetic test data)"
MAMBA_DETAIL = "reference-torch (mamba_ssm not available: No module named 'mamba_ssm')"
BACKENDS = {"mingru": "log", "gru:loop": "loop", "mamba": "reference-torch", "transformer": "sdpa-math"}
SPEED = {"mingru": 3.0, "gru:loop": 0.2, "mamba": 1.0, "transformer": 2.0}  # per-model synthetic factor
CHANCE = {"mqar": 1 / 64, "copy": 1 / 16}


def make_record(kind, model, task, seq_len, seed=0, status="ok", error=None, **metrics):
    """A schema-complete test record; metrics default to plausible synthetic values."""
    record = blank_record(kind)
    record.update(
        run_id="test-run-0001",
        cell_key=f"{kind}|{model}|{task}|{seq_len}|{seed}",
        model=model,
        family=model.split(":")[0],
        backend=BACKENDS[model],
        task=task,
        task_params={"vocab_size": 64},
        seq_len=seq_len,
        batch_size=8,
        seed=seed,
        dtype="float32",
        torch_threads=1,
        device="cpu",
        device_name="Synthetic CPU",
        status=status,
        error=error,
        params=12_345,
        state_bytes=4096 * seq_len,
        model_config={"d_model": 16, "n_layers": 2},
        train_config={"steps": 10},
        wall_s=1.5,
        torch_version="2.9.0-test",
        git_commit="abc1234",
        hostname="test-host",
        preset="tiny-test",
        timestamp="2025-01-01T00:00:00+00:00",
    )
    if status == "ok" and kind == "accuracy":
        accuracy = metrics.pop("accuracy", 0.5 + 0.1 * SPEED[model] - seq_len / 2048 + 0.01 * seed)
        record.update(
            accuracy=accuracy,
            accuracy_ci_low=accuracy - 0.02,
            accuracy_ci_high=accuracy + 0.02,
            n_scored=1000,
            chance_accuracy=CHANCE[task],
            seq_accuracy=accuracy / 2,
            final_loss=0.3,
            train_steps=10,
            train_s=1.0,
        )
    elif kind == "accuracy":
        record.update(chance_accuracy=CHANCE[task])
    if status == "ok" and kind == "perf":
        speed = SPEED[model]
        record.update(
            train_tokens_per_s=speed * 1e6 / seq_len,
            train_step_ms=seq_len / 10 / speed,
            prefill_tokens_per_s=speed * 4e6 / seq_len,
            decode_ms_per_token=0.5 / speed,
            decode_ms_per_token_batch1=0.3 / speed,
            train_peak_mem_bytes=speed * 2**20 * seq_len,
            prefill_peak_mem_bytes=speed * 2**18 * seq_len,
            decode_peak_mem_bytes=speed * 2**16,
            peak_mem_method="tracemalloc-test",
            timing_repeats=5,
        )
    record.update(metrics)
    assert validate(record) == [], validate(record)
    return record


def synthetic_records():
    records = []
    for model in BACKENDS:
        for task in CHANCE:
            for seq_len in (64, 256):
                records.append(make_record("accuracy", model, task, seq_len))
        for seq_len in (128, 1024):
            records.append(make_record("perf", model, "mqar", seq_len))
    records.append(make_record("accuracy", "mingru", "mqar", 64, seed=1))  # a second seed
    records[-1]["accuracy"] = 0.91
    failures = {
        ("accuracy", "transformer", "copy", 256): ("oom", OOM_ERROR),
        ("accuracy", "mamba", "mqar", 256): ("error", SCRIPT_ERROR),
        ("perf", "gru:loop", "mqar", 1024): ("timeout", "cell exceeded 600 s"),
    }
    for index, record in enumerate(records):
        key = (record["kind"], record["model"], record["task"], record["seq_len"])
        if key in failures:
            status, error = failures[key]
            records[index] = make_record(
                record["kind"], record["model"], record["task"], record["seq_len"], status=status, error=error
            )
    return records


def manifest():
    return {
        "run_id": "test-run-0001",
        "created": "2025-01-01T00:00:00+00:00",
        "command": ["python", "-m", "suite", "run", "--preset", "tiny-test"],
        "preset": "tiny-test",
        "preset_config": {"steps": 10, "dtype": "float32"},
        "plan": {
            "accuracy_cells": 17,
            "perf_cells": 8,
            "models": list(BACKENDS),
            "tasks": list(CHANCE),
            "seq_lens": [64, 256],
            "perf_seq_lens": [128, 1024],
        },
        "environment": {
            "python": "3.11.0",
            "platform": "Linux-test",
            "torch_version": "2.9.0-test",
            "cuda_version": None,
            "cudnn_version": None,
            "device": "cpu",
            "device_name": "Synthetic CPU",
            "torch_threads": 1,
            "git_commit": "abc1234",
            "git_dirty": True,
            "hostname": "test-host",
            "packages": {"mamba_ssm": None, "pandas": "2.x-test"},
        },
        "backends": {"mingru": "log", "gru:loop": "loop", "mamba": MAMBA_DETAIL, "transformer": "sdpa-math"},
    }


def write_run(folder: Path, records, with_manifest=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if with_manifest:
        (folder / "manifest.json").write_text(json.dumps(manifest()))
    return folder


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    run_dir = write_run(tmp_path_factory.mktemp("run"), synthetic_records())
    path = write_report(run_dir)
    return path, path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- loading
def test_load_results_round_trips(tmp_path):
    records = synthetic_records()
    run_dir = write_run(tmp_path, records)
    frame = analysis.load_results(run_dir)
    assert len(frame) == len(records)
    assert list(frame["model"]) == [r["model"] for r in records]
    assert frame.loc[3, "task_params"] == {"vocab_size": 64}
    assert set(analysis.ALL_FIELDS) <= set(frame.columns)
    assert frame["train_tokens_per_s"].dtype.kind == "f"
    assert len(analysis.load_results(run_dir / "records.jsonl")) == len(records)
    assert read_manifest(run_dir)["backends"]["mamba"] == MAMBA_DETAIL


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    write_run(tmp_path, synthetic_records()[:3])
    with open(tmp_path / "records.jsonl", "a") as file:
        file.write('{"kind": "perf", "model": "ming')
    with pytest.warns(UserWarning, match=r"records.jsonl:4"):
        frame = analysis.load_results(tmp_path)
    assert len(frame) == 3


def test_corrupt_middle_lines_are_named_and_the_good_lines_loaded(tmp_path):
    lines = [json.dumps(r) for r in synthetic_records()[:3]]
    lines.insert(1, "{not json")
    lines.insert(3, "[1, 2]")
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"records.jsonl:2,4"):
        frame = analysis.load_results(tmp_path)
    assert len(frame) == 3


def test_missing_path_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="run directory"):
        analysis.load_results(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="manifest"):
        read_manifest(tmp_path)


# --------------------------------------------------------------------------- tables
def test_tables_aggregate_seeds_and_keep_failures(tmp_path):
    frame = analysis.load_results(write_run(tmp_path, synthetic_records()))
    accuracy = analysis.accuracy_table(frame)
    two_seeds = accuracy[(accuracy["model"] == "mingru") & (accuracy["task"] == "mqar") & (accuracy["seq_len"] == 64)]
    assert two_seeds.iloc[0]["ci_method"] == "t over seeds" and two_seeds.iloc[0]["n_ok"] == 2
    oom = accuracy[(accuracy["model"] == "transformer") & (accuracy["task"] == "copy") & (accuracy["seq_len"] == 256)]
    assert oom.iloc[0]["status"] == "oom" and oom.iloc[0]["error"] == OOM_ERROR
    summary = summaries.summary_table(frame).set_index("model")
    assert summary.loc["gru:loop", "train_tokens_per_s[seq_len=1024]"] == "timeout"
    assert summary.loc["mingru", "train_tokens_per_s[seq_len=128]"] == pytest.approx(3e6 / 128)
    counts = cells.status_counts(frame).set_index(["kind", "model"])
    assert counts.loc[("accuracy", "mamba"), "error"] == 1 and counts.loc[("perf", "gru:loop"), "timeout"] == 1
    assert set(cells.not_ok_cells(frame)["status"]) == {"oom", "error", "timeout"}
    fallbacks = {f["model"]: f for f in summaries.fallback_models(frame, manifest()["backends"])}
    assert set(fallbacks) == {"gru:loop", "mamba"} and fallbacks["mamba"]["detail"] == MAMBA_DETAIL


def test_a_rerun_cell_supersedes_its_earlier_record(tmp_path):
    first = make_record("perf", "mingru", "mqar", 128, status="oom", error="first try")
    second = make_record("perf", "mingru", "mqar", 128)
    perf = analysis.perf_table(analysis.load_results(write_run(tmp_path, [first, second])))
    assert list(perf["status"]) == ["ok"]


# --------------------------------------------------------------------------- report
def test_report_is_self_contained(full_report):
    path, page = full_report
    assert path.name == "report.html" and path.is_file()
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, re.IGNORECASE)
    assert "<link" not in page and "<script src" not in page and "@import" not in page
    images = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert len(images) >= 5 and all(src.startswith("data:image/png;base64,") for src in images)


def test_report_shows_models_fallbacks_failures_and_provenance(full_report):
    _, page = full_report
    for model in BACKENDS:
        assert model in page
    assert "Fallback implementations" in page
    assert "mamba: reference-torch (mamba_ssm not available: No module named &#39;mamba_ssm&#39;)" in page
    assert "gru:loop: loop [requested in the model spec]" in page
    for status in ("oom", "timeout", "error"):
        assert f'<td class="status">{status}</td>' in page
    assert OOM_ERROR in page and "cell exceeded 600 s" in page
    assert "chance = 0.0156" in page and "chance = 0.0625" in page
    assert "tracemalloc-test" in page  # the memory method is stated
    assert "python -m suite run --preset tiny-test" in page and "abc1234 (uncommitted changes)" in page
    assert "Synthetic CPU" in page and "float32" in page and "2.9.0-test" in page


def test_report_escapes_text_from_records(full_report):
    _, page = full_report
    assert "<script>alert" not in page
    assert page.count("<script>") == 1  # the page's own table-sorting script, nothing from records
    assert re.search(r"&lt;script&gt;alert\((&#x27;|&#39;|')pwned(&#x27;|&#39;|')\)&lt;/script&gt; exploded", page)


def test_report_with_only_perf_cells_and_no_manifest(tmp_path):
    records = [r for r in synthetic_records() if r["kind"] == "perf"]
    run_dir = write_run(tmp_path / "run", records, with_manifest=False)
    out = write_report(run_dir / "records.jsonl", tmp_path / "elsewhere" / "out.html")
    page = out.read_text()
    assert out == tmp_path / "elsewhere" / "out.html"
    assert "no data: this run has no accuracy cells" in page and "Manifest unavailable" in page
    assert page.count("data:image/png;base64,") == 3


def test_report_when_every_cell_failed_or_there_are_none(tmp_path):
    failed = [
        make_record("accuracy", "mingru", "copy", 64, status="nan", error="loss became NaN"),
        make_record("perf", "mamba", "mqar", 128, status="skipped", error="mamba_ssm not installed"),
    ]
    page = write_report(write_run(tmp_path / "failed", failed)).read_text()
    assert "No cell of this run finished ok" in page and "loss became NaN" in page
    assert "Not plotted (no ok run)" in page and "no data: no throughput was measured" in page
    empty = write_report(write_run(tmp_path / "empty", [])).read_text()
    assert "no data: the run has no records yet" in empty and "no data: this run has no perf cells" in empty


def test_report_imports_no_torch(tmp_path):
    run_dir = write_run(tmp_path, synthetic_records()[:4])
    code = (
        "import sys; from suite.report import write_report; write_report(sys.argv[1]); "
        "assert 'torch' not in sys.modules, 'report imported torch'"
    )
    subprocess.run([sys.executable, "-c", code, str(run_dir)], check=True, cwd=ROOT)


def test_report_survives_incomplete_and_odd_records(tmp_path):
    odd = [
        {"kind": "perf", "model": "hand-written", "status": "ok", "seq_len": 512, "train_tokens_per_s": 5.0},
        {"kind": "accuracy", "model": "hand-written", "task": "copy", "status": "ok", "seq_len": 64},
        {"kind": "accuracy", "model": None, "task": None, "status": None},
        {"kind": None, "model": "weird", "status": "exploded"},
    ]
    other_batch = make_record("perf", "mingru", "copy", 128, batch_size=1)
    other_batch["cell_key"] = "perf|mingru|copy|128|0|batch1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = write_report(write_run(tmp_path, synthetic_records() + odd + [other_batch])).read_text()
    assert "hand-written" in page and "exploded" in page


def test_a_planted_noisy_cell_is_warned_on_the_first_screen_and_marked(tmp_path):
    records = [r for r in synthetic_records() if r["kind"] == "perf"]
    quiet = write_report(write_run(tmp_path / "quiet", records), tmp_path / "quiet.html").read_text()
    assert "Noisy timings" not in quiet and "noisy" not in re.findall(r'<td class="([^"]*)"', quiet)
    assert not re.search(r'<td class="num noisy">', quiet)
    planted = next(r for r in records if r["model"] == "mingru" and r["seq_len"] == 128 and r["status"] == "ok")
    planted.update(timing_noisy=True, timing_noisy_reason="train step IQR 35% of its median", timing_repeats=5)
    page = write_report(write_run(tmp_path / "noisy", records), tmp_path / "noisy.html").read_text()
    first_screen = page[: page.index("<h2")]
    assert "Noisy timings:" in first_screen and "1 of 7 timed cells" in first_screen
    assert "train step IQR 35% of its median" in page  # the perf table names why
    assert re.search(r'<td class="num noisy">~[0-9]', page)  # and marks its timings
    assert page.count("data:image/png;base64,") == quiet.count("data:image/png;base64,")


# --------------------------------------------------------------------------- older records, shared pieces
EXAMPLES = ROOT / "reports" / "examples"


def test_numeric_fields_come_from_the_schema(tmp_path):
    assert {"train_peak_reserved_bytes", "train_step_ms", "bytes_per_s", "max_seq_len"} <= set(NUMERIC_FIELDS)
    assert not {"scope", "timing_noisy", "peak_mem_method", "valid_curve"} & set(NUMERIC_FIELDS)
    record = make_record("perf", "mingru", "mqar", 128, train_peak_reserved_bytes="2048")
    frame = analysis.load_results(write_run(tmp_path, [record]))
    assert frame["train_peak_reserved_bytes"].dtype.kind in "if" and frame.loc[0, "train_peak_reserved_bytes"] == 2048


def test_v3_bench_records_are_read_as_speed_records():
    raw = [json.loads(line) for line in (EXAMPLES / "bench-speed-cpu" / "records.jsonl").read_text().splitlines()]
    assert {(r["schema_version"], r["kind"]) for r in raw} == {(3, "perf")} and all(r["scope"] for r in raw)
    records = read_records(EXAMPLES / "bench-speed-cpu")
    assert len(records) == len(raw) and {r["kind"] for r in records} == {"speed"}
    assert all(validate(r) == [] and "median_ms" not in r and "repeats" not in r for r in records)
    first, upgraded = raw[0], records[0]
    renamed = {"train_step_ms": "median_ms", "timing_repeats": "repeats"}  # schema 7: perf's names
    assert {name: upgraded[name] for name in SPEED_FIELDS} == {
        name: first.get(renamed.get(name, name)) for name in SPEED_FIELDS
    }
    assert upgraded["schema_version"] == 3 and upgrade(upgraded) == upgraded  # says who wrote it; idempotent
    frame = analysis.load_results(EXAMPLES / "bench-speed-cpu")
    assert len(speed_figures.speed_table(frame)) == len(raw) and analysis.perf_table(frame).empty
    assert len(speed_figures.speedups(speed_figures.speed_table(frame)))


def test_older_perf_records_lose_the_bench_fields():
    v3 = dict(
        make_record("perf", "mingru", "mqar", 128),
        schema_version=3,
        scope=None,
        median_ms=12.8,
        repeats=5,
        bytes_per_s=None,
        copy_bytes_per_s=None,
    )
    upgraded = upgrade(v3)
    assert upgraded["kind"] == "perf" and validate(upgraded) == []
    assert not {"scope", "median_ms", "repeats", "bytes_per_s", "copy_bytes_per_s"} & set(upgraded)
    assert upgraded["train_step_ms"] == v3["train_step_ms"] and upgraded["timing_repeats"] == 5
    only_median = upgrade(dict(v3, train_step_ms=None, timing_repeats=None))
    assert only_median["train_step_ms"] == 12.8 and only_median["timing_repeats"] == 5
    current = dict(make_record("perf", "mingru", "mqar", 128), median_ms=1.0)
    assert current["schema_version"] == SCHEMA_VERSION and upgrade(current) == current


@pytest.mark.parametrize("example", ["bench-speed-cpu", "cpu-default"])
def test_the_committed_examples_still_report(tmp_path, example):
    page = write_report(EXAMPLES / example, tmp_path / "report.html", analysis_dir=tmp_path).read_text()
    assert (tmp_path / "analysis.json").is_file() and not (EXAMPLES / example / "analysis.json").exists()
    assert "Benchmark report" in page
    if example == "bench-speed-cpu":
        assert "Speed: training-step time vs length" in page and "Scan bandwidth" in page
        assert "this run has no perf cells" in page  # bench records are not perf cells
    else:
        assert "train tok/s" in page and "Speed: training-step time" not in page


def test_shared_cores_warnings_name_each_executor_start_that_shared_cores():
    manifest = {
        "executors": [
            {"label": "local", "cells_at_once": 1, "timed_cells_shared_cores": False},
            {"label": "local --jobs 2", "cells_at_once": 2, "timed_cells_shared_cores": True},
            {"label": "ray", "cells_at_once": None, "timed_cells_shared_cores": True},
        ]
    }
    warnings_ = shared_cores_warnings(manifest)
    assert len(warnings_) == 2 and shared_cores_warnings({}) == []
    assert warnings_[0].startswith(
        "timed cells ran side by side on the same CPU cores (local --jobs 2, up to 2 at once)"
    )
    assert "(ray, up to many at once)" in warnings_[1] and warnings_[1].endswith(
        "rerun perf cells with one job for timings"
    )


def test_a_missing_compared_value_is_the_reports_glyph():
    assert format_value("accuracy", float("nan")) == NO_VALUE == format_value("train_speed_ratio", None)
    assert format_value("accuracy", 0.5) == "0.500" and format_value("train_peak_mem_bytes", 2**21) == "2.00 MiB"
