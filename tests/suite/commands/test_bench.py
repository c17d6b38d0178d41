"""`suite bench speed` end to end at tiny shapes: records, interleaving, ratios, bad input."""

import json

import pytest

from suite.analysis.speed import speedups
from suite.analysis.tables import load_results
from suite.commands.bench import DEFAULT_MODELS
from suite.commands.cli import main
from suite.records.schema import validate
from suite.measure.timing import Timing
from suite.measure.speed import Subject, time_interleaved
from suite.records.store import read_records

MODELS = "mingru:linear,mingru:log,mingru:triton,gru,gru:loop,minlstm:linear,lstm,lstm:loop"


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = main(
        [
            "bench",
            "speed",
            "--device",
            "cpu",
            "--seq-lens",
            "16,40",
            "--batch-size",
            "2",
            "--d-model",
            "8",
            "--repeats",
            "3",
            "--warmup",
            "1",
            "--min-time-s",
            "0",
            "--models",
            MODELS,
            "--out",
            str(out / "run"),
            "--report",
            str(out / "report.html"),
        ]
    )
    assert code == 0
    return out


def test_records_are_valid_speed_records_with_timing_statistics(bench_run):
    records = read_records(bench_run / "run")
    assert records and all(validate(r) == [] for r in records)
    assert {r["kind"] for r in records} == {"speed"}
    assert all("median_ms" not in r and "repeats" not in r for r in records)  # one name per number (schema 7)
    assert all(r["train_config"]["scope"] == r["scope"] for r in records)  # the cell key tells scopes apart
    assert {r["scope"] for r in records} == {"mixer", "model", "scan"}
    ok = [r for r in records if r["status"] == "ok"]
    assert ok and all(len(r["train_step_raw_ms"]) == r["timing_repeats"] for r in ok)  # every timed step kept
    assert ok and all(r["train_step_ms"] > 0 and r["iqr_ms"] >= 0 and r["timing_repeats"] == 3 for r in ok)
    assert all(
        0 < r["min_ms"] <= r["train_step_ms"]
        and isinstance(r["timing_noisy"], bool)
        and r["load_avg_before"] is not None
        for r in ok
    )
    assert all(
        r["tf32"] is False and r["deterministic"] is True and r["fill_uninitialized_memory"] is False for r in records
    )
    assert len({r["cell_key"] for r in records}) == len(records)
    mixers = {r["model"]: r for r in records if r["scope"] == "mixer" and r["seq_len"] == 16}
    assert mixers["mingru:linear"]["backend"] == "linear" and mixers["mingru:log"]["backend"] == "log"
    assert mixers["gru:loop"]["backend"] == "loop" and mixers["gru"]["backend"] == "native-cpu"
    # equal hidden width at mixer scope: minGRU with expansion 1 has 2*D*D weights, nn.GRU(D, D) ~3*(2*D*D)
    assert mixers["mingru:linear"]["params"] == 2 * 8 * 8
    assert mixers["mingru:triton"]["status"] == "skipped" and "CUDA" in mixers["mingru:triton"]["error"]


def test_ratios_are_the_medians_of_the_same_run(bench_run):
    manifest = json.loads((bench_run / "run" / "manifest.json").read_text())
    records = load_results(bench_run / "run")
    ratios = manifest["speed_ratios"]
    assert {(r["model"], r["baseline"]) for r in ratios} >= {
        ("mingru:linear", "gru"),
        ("mingru:linear", "gru:loop"),
        ("minlstm:linear", "lstm"),
    }
    medians = {(r.scope, r.model, r.seq_len): r.train_step_ms for r in records.itertuples() if r.status == "ok"}
    for ratio in ratios:
        expected = (
            medians[(ratio["scope"], ratio["baseline"], ratio["seq_len"])]
            / medians[(ratio["scope"], ratio["model"], ratio["seq_len"])]
        )
        assert ratio["speedup"] == pytest.approx(expected)
    assert len(speedups(records.assign())) == len(ratios)


def test_scan_records_carry_bandwidth_and_the_copy_beside_them(bench_run):
    scans = [r for r in read_records(bench_run / "run") if r["scope"] == "scan" and r["status"] == "ok"]
    timed = [r for r in scans if r["backend"] != "copy"]
    assert {r["model"] for r in timed} >= {"mingru:linear", "mingru:log", "minlstm:linear", "minlstm:log"}
    assert all(r["bytes_per_s"] > 0 and r["copy_bytes_per_s"] > 0 for r in timed)


def test_report_has_the_speed_section(bench_run):
    page = (bench_run / "report.html").read_text()
    assert 'id="speed"' in page and "Speed-ups measured in this run" in page and "Scan bandwidth" in page


def test_subjects_are_timed_interleaved_and_a_failure_stays_a_record():
    calls = []

    def stepper(name, fail_at=None):
        def step():
            calls.append(name)
            if fail_at is not None and calls.count(name) == fail_at:
                raise RuntimeError(f"{name} broke")

        return step

    subjects = [
        Subject("a", "mixer", stepper("a")),
        Subject("b", "mixer", stepper("b", fail_at=3)),
        Subject("c", "mixer", stepper("c")),
    ]
    time_interleaved(subjects, "cpu", warmup=1, repeats=3, classify=lambda e: "error", one_line=str)
    assert calls == ["a", "b", "c", "a", "b", "c", "a", "b", "c", "a", "c"]
    assert [s.timing.repeats for s in subjects] == [3, 1, 3]
    assert subjects[1].status == "error" and subjects[1].error == "b broke"
    assert subjects[0].noise["timing_noisy"] in (True, False) and "load_avg_before" in subjects[0].noise


def test_interleaved_rounds_keep_a_fast_subject_until_its_minimum_time():
    import time

    slow = Subject("slow", "mixer", lambda: time.sleep(0.02))
    fast = Subject("fast", "mixer", lambda: None)
    time_interleaved(
        [slow, fast],
        "cpu",
        warmup=0,
        repeats=3,
        classify=lambda e: "error",
        one_line=str,
        min_time_s=0.05,
        max_repeats=40,
    )
    assert 3 <= slow.timing.repeats <= 4  # 3 x 20 ms already passes 50 ms
    assert fast.timing.repeats == 40  # never reaches 50 ms: stops at the cap


def test_timing_statistics():
    timing = Timing([0.001, 0.002, 0.003, 0.004, 0.005])
    assert (timing.median_ms, timing.iqr_ms, timing.min_ms, timing.repeats) == pytest.approx((3.0, 2.0, 1.0, 5))


def test_default_models_cover_every_backend_and_baseline():
    assert {
        "mingru:triton",
        "mingru:fla",
        "mingru:linear",
        "mingru:log",
        "minlstm:triton",
        "minlstm:fla",
        "minlstm:linear",
        "minlstm:log",
        "gru",
        "gru:loop",
        "lstm",
        "lstm:loop",
        "mamba",
        "mamba2",
        "transformer",
    } == set(DEFAULT_MODELS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--scopes", "mixer,layer"], "unknown --scopes layer"),
        (["--models", "mingru:fast"], "did you mean"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--seq-lens", "0"], "lengths must be positive integers"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    try:
        code = main(["bench", "speed", "--out", str(tmp_path / "x"), "--no-report", *argv])
    except SystemExit as exit_:  # argparse's own errors (one line, through the suite's parser)
        code = exit_.code
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1 and message in error
    assert not (tmp_path / "x").exists()


def test_an_existing_run_is_never_overwritten(bench_run, capsys):
    before = (bench_run / "run" / "records.jsonl").read_bytes()
    code = main(["bench", "speed", "--out", str(bench_run / "run"), "--no-report", "--seq-lens", "8"])
    assert code == 2 and "error" in capsys.readouterr().err
    assert (bench_run / "run" / "records.jsonl").read_bytes() == before


TINY_BENCH = [
    "bench",
    "speed",
    "--device",
    "cpu",
    "--seq-lens",
    "8,16",
    "--batch-size",
    "1",
    "--d-model",
    "4",
    "--repeats",
    "1",
    "--warmup",
    "0",
    "--min-time-s",
    "0",
    "--models",
    "mingru:log,gru",
    "--scopes",
    "mixer",
    "--no-report",
]


def test_two_benches_into_one_out_one_runs_and_the_other_is_refused_by_the_lock(tmp_path):
    """Two `bench speed` processes started together into one --out: one takes the run lock and
    finishes (exit 0), the other is refused in one line naming the lock (exit 2) and writes nothing."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    out = tmp_path / "bench"
    argv = [sys.executable, "-m", "suite", *TINY_BENCH, "--out", str(out)]
    processes = [subprocess.Popen(argv, cwd=root, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(process.wait(timeout=600), process.stderr.read()) for process in processes]
    assert sorted(code for code, _ in results) == [0, 2]
    refused = next(err for code, err in results if code == 2)
    assert len(refused.strip().splitlines()) == 1 and "is in use by" in refused and "flock lock" in refused
    records = read_records(out)
    assert len(records) == 2 * 3 and len({r["cell_key"] for r in records}) == 6  # the winner's, each once


def test_resume_retimes_only_the_units_without_a_record_of_every_subject(tmp_path, capsys):
    """A bench killed while timing its second unit (T=16; one of its three records written) is
    finished by --resume: the first unit's records stay as they were, the second unit is timed
    again whole (interleaving is the method, so a unit is the smallest thing re-timed)."""
    out = tmp_path / "bench"
    assert main([*TINY_BENCH, "--out", str(out)]) == 0
    lines = (out / "records.jsonl").read_text().splitlines(keepends=True)
    first = [json.loads(line) for line in lines]
    assert [r["seq_len"] for r in first] == [8, 8, 8, 16, 16, 16]
    (out / "records.jsonl").write_text("".join(lines[:4]))  # the kill: unit T=16 had written one record
    capsys.readouterr()

    assert main(["bench", "speed", "--resume", "--out", str(out), "--no-report"]) == 0
    assert "1 of 2 units already recorded" in capsys.readouterr().err
    after = (out / "records.jsonl").read_text().splitlines(keepends=True)
    assert after[:4] == lines[:4]
    retimed = [json.loads(line) for line in after[4:]]
    assert [r["seq_len"] for r in retimed] == [16, 16, 16]
    assert [r["cell_key"] for r in retimed] == [r["cell_key"] for r in first[3:]]  # the same cells, planned again
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and len(manifest["resumes"]) == 1
    assert manifest["options"]["seq_lens"] == [8, 16] and manifest["plan"]["units"] == 2

    assert main(["bench", "speed", "--resume", "--out", str(out), "--no-report"]) == 0  # nothing left to time
    assert (out / "records.jsonl").read_text().splitlines(keepends=True) == after


def test_resume_refuses_options_that_contradict_the_bench(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main([*TINY_BENCH, "--out", str(out)]) == 0
    before = (out / "records.jsonl").read_bytes()
    capsys.readouterr()
    assert main(["bench", "speed", "--resume", "--out", str(out), "--seq-lens", "8", "--no-report"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "was made with --seq-lens 8,16, this command says --seq-lens 8" in error
    assert (out / "records.jsonl").read_bytes() == before


def test_a_unit_whose_process_died_is_one_record_per_subject():
    """A unit's child that timed out or died: the driver writes a valid record for every subject."""
    from suite.executors.jobs import failure_records
    from suite.measure.speed_units import plan_units
    from suite.plan.cells import SpeedTiming
    from suite.plan.settings import RunContext

    timing = SpeedTiming(dtype="float32", warmup=0, repeats=1, min_time_s=0.0)
    [unit] = plan_units(["mingru:log", "gru"], ["mixer"], [8], 1, 4, 0, timing)
    records = failure_records(unit, "cpu", RunContext(run_id="r"), "timeout", "no result within 1 s", 1.0)
    assert [r["model"] for r in records] == ["mingru:projections", "mingru:log", "gru"]
    assert [r["cell_key"] for r in records] == [cell.key for cell in unit.cells]
    assert all(validate(r) == [] and r["status"] == "timeout" and r["scope"] == "mixer" for r in records)


def test_resume_refuses_a_run_that_is_not_a_bench(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text(json.dumps({"run_id": "r", "preset": "tiny", "options": {"seeds": [0]}}))
    assert main(["bench", "speed", "--resume", "--out", str(tmp_path), "--no-report"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "holds a `suite run`, not a bench" in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["manifest.json"]
