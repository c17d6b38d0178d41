"""suite compare on the committed smoke baseline's records, perturbed by hand:
each injected regression makes compare exit 1 naming the cell; identical runs,
noise inside the tolerances and ungated metrics exit 0; bad input exits 2."""

import functools
import json
import shutil
from pathlib import Path

import pytest

from suite.commands.cli import main
from suite.analysis.compare import GATES, Tolerances, compare_runs, load_run

ROOT = Path(__file__).resolve().parents[3]
BASELINE = ROOT / "results" / "baselines" / "cpu-smoke"


def read(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines() if line.strip()]


def write(run: Path, records) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def copy_baseline(folder: Path, change=None) -> Path:
    """A copy of the baseline run; ``change(record)`` edits records in place."""
    shutil.copytree(BASELINE, folder)
    records = read(folder)
    for record in records:
        if change:
            change(record)
    return write(folder, records)


def find(records, **fields):
    return next(r for r in records if all(r.get(k) == v for k, v in fields.items()))


def run_compare(capsys, *args):
    code = main(["compare", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_committed_baseline_compares_clean_with_itself(tmp_path, capsys):
    current = copy_baseline(tmp_path / "current")
    code, out, _ = run_compare(capsys, BASELINE, current, "--gate", "status,accuracy,speed,memory")
    assert code == 0 and "clean" in out and "REGRESSION" not in out


def test_an_accuracy_drop_is_a_regression_naming_the_cell(tmp_path, capsys):
    def drop(record):
        if record["model"] == "transformer" and record["task"] == "mqar":
            record["accuracy"] -= 0.03

    current = copy_baseline(tmp_path / "current", drop)
    code, out, _ = run_compare(capsys, BASELINE, current)
    assert code == 1
    assert "REGRESSION: 1 regression(s): transformer mqar T=64 seed=0 accuracy" in out
    # within a wider tolerance it is not
    code, out, _ = run_compare(capsys, BASELINE, current, "--accuracy-points", "5")
    assert code == 0


def quiet(record):
    """No cell flagged noisy: the gate's own logic, whatever noise the committed baseline's timings had."""
    if record["kind"] == "perf":
        record["timing_noisy"], record["timing_noisy_reason"] = False, None


def test_a_speed_ratio_drop_is_gated_only_when_asked(tmp_path, capsys):
    def slow(record):
        quiet(record)
        if record["model"] == "mingru" and record["kind"] == "perf" and record["seq_len"] == 256:
            record["train_tokens_per_s"] /= 2

    baseline = copy_baseline(tmp_path / "baseline", quiet)
    current = copy_baseline(tmp_path / "current", slow)
    code, out, _ = run_compare(capsys, baseline, current)
    assert code == 0 and "worse" in out  # shown, not gated by default
    code, out, _ = run_compare(capsys, baseline, current, "--gate", "status,accuracy,speed")
    assert code == 1 and "mingru perf T=256 seed=0 train_speed_ratio" in out


def test_a_speed_drop_in_a_noisy_cell_is_not_gated_and_is_said(tmp_path, capsys):
    def slow_and_noisy(record):
        if record["model"] == "mingru" and record["kind"] == "perf" and record["seq_len"] == 256:
            record["train_tokens_per_s"] /= 2
            record["timing_noisy"], record["timing_noisy_reason"] = True, "train step IQR 40% of its median"

    current = copy_baseline(tmp_path / "current", slow_and_noisy)
    code, out, err = run_compare(capsys, BASELINE, current, "--gate", "status,accuracy,speed")
    assert code == 0 and "noisy timing" in out + err and "not gated" in out + err
    comparison = compare_runs(load_run(BASELINE), load_run(current))
    assert set(comparison.rows.loc[comparison.rows["model"] == "mingru", "verdict"]) >= {"noisy"}


def test_a_decode_ratio_is_gated_only_between_runs_of_one_decode_method(tmp_path, capsys):
    """The baseline's records predate decode_method (they decoded eagerly); the current run's mingru cell
    decoded from a CUDA graph: its decode ratio is shown, not gated, and nothing crashes."""

    def slower_decode(record, method):
        quiet(record)
        if record["kind"] == "perf" and record["model"] == "mingru" and record["seq_len"] == 256:
            eager = record["decode_ms_per_token"]
            record.update(schema_version=9, decode_method=method, decode_ms_per_token=3 * eager)
            record.update(decode_ms_per_token_eager=eager, decode_ms_per_token_graph=3 * eager)

    baseline = copy_baseline(tmp_path / "baseline", quiet)
    for method, gated in (("cuda_graph", False), ("eager", True)):
        current = copy_baseline(tmp_path / method, functools.partial(slower_decode, method=method))
        code, out, _ = run_compare(capsys, baseline, current, "--gate", "status,accuracy,speed")
        rows = compare_runs(load_run(baseline), load_run(current), Tolerances(gates=("speed",))).rows
        selected = rows[
            (rows["model"] == "mingru") & (rows["metric"] == "decode_speed_ratio") & (rows["seq_len"] == 256)
        ]
        assert len(selected) == 1
        decode = selected.iloc[0]
        if gated:
            assert code == 1 and decode["verdict"] == "regression", decode["reason"]
        else:
            assert code == 0, out
            assert decode["verdict"] == "info" and "eager / eager" in decode["reason"]
            assert "now cuda_graph / eager" in decode["reason"]


def test_a_machine_twice_as_slow_everywhere_is_not_a_speed_regression(tmp_path, capsys):
    def halve(record):
        for metric in ("train_tokens_per_s", "prefill_tokens_per_s"):
            if record.get(metric):
                record[metric] /= 2
        if record.get("decode_ms_per_token"):
            record["decode_ms_per_token"] *= 2

    current = copy_baseline(tmp_path / "current", halve)
    code, out, _ = run_compare(capsys, BASELINE, current, "--gate", "speed", "--speed-percent", "1")
    assert code == 0, out


def test_a_cell_that_stops_finishing_is_a_regression(tmp_path, capsys):
    def crash(record):
        if record["model"] == "mamba2" and record["kind"] == "perf" and record["seq_len"] == 64:
            record.update(status="oom", error="out of memory (injected)", train_tokens_per_s=None)

    current = copy_baseline(tmp_path / "current", crash)
    code, out, _ = run_compare(capsys, BASELINE, current)
    assert code == 1 and "mamba2 perf T=64 seed=0 status" in out and "ok -> oom" in out


def test_gpu_memory_growth_is_gated_and_cpu_memory_is_not(tmp_path):
    records = read(BASELINE)
    grown = [
        dict(r, train_peak_mem_bytes=r["train_peak_mem_bytes"] * 1.2) if r["kind"] == "perf" else r for r in records
    ]
    baseline, current = write(tmp_path / "b", records), write(tmp_path / "c", grown)
    assert len(compare_runs(load_run(baseline), load_run(current)).regressions) == 0
    on_gpu = [dict(r, device="cuda:0") for r in records]
    baseline = write(tmp_path / "gb", on_gpu)
    current = write(tmp_path / "gc", [dict(r, device="cuda:0") for r in grown])
    regressions = compare_runs(load_run(baseline), load_run(current)).regressions
    assert set(regressions["metric"]) == {"train_peak_mem_bytes"} and len(regressions) == 14


def test_a_drop_inside_the_baselines_seed_spread_is_not_a_regression(tmp_path):
    records = read(BASELINE)
    first = find(records, model="gru", task="mqar")
    seeds = [
        dict(first, seed=s, cell_key=f"{first['cell_key']}-{s}", accuracy=a)
        for s, a in ((1, 0.30), (2, 0.40), (3, 0.50))
    ]
    baseline = write(tmp_path / "b", seeds)
    # the mean falls 8 points, but stays above the lowest baseline seed: noise
    inside = write(tmp_path / "c", [dict(r, accuracy=a) for r, a in zip(seeds, (0.31, 0.31, 0.34))])
    assert len(compare_runs(load_run(baseline), load_run(inside)).regressions) == 0
    below = write(tmp_path / "d", [dict(r, accuracy=a) for r, a in zip(seeds, (0.25, 0.26, 0.27))])
    regressions = compare_runs(load_run(baseline), load_run(below)).regressions
    assert list(regressions["cell"]) == ["gru mqar T=64 (3 seeds)"]


def test_missing_cells_are_listed_and_exit_2_unless_allowed(tmp_path, capsys):
    records = read(BASELINE)
    current = write(tmp_path / "current", [r for r in records if r["model"] != "lstm"])
    code, _, err = run_compare(capsys, BASELINE, current)
    assert code == 2 and "5 baseline cell(s) are not in the current run" in err
    assert "lstm mqar T=64 seed=0" in err and "python -m suite baseline update`" in err
    assert "different grids" not in err
    code, out, _ = run_compare(capsys, BASELINE, current, "--allow-missing")
    assert code == 0 and "5 unmatched cell(s) allowed" in out
    # the same runs, the baseline a copy of one's own: not a baseline to regenerate
    code, _, err = run_compare(capsys, copy_baseline(tmp_path / "mine"), current)
    assert code == 2 and "ran different grids" in err and "baseline update" not in err


def test_only_a_folder_under_results_baselines_is_a_committed_baseline(tmp_path):
    from suite.commands.compare import committed_baseline

    assert committed_baseline(BASELINE) == committed_baseline(BASELINE / "records.jsonl") == "cpu-smoke"
    assert committed_baseline(copy_baseline(tmp_path / "cpu-smoke")) is None
    assert committed_baseline(BASELINE.parent) is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gate", "sped"], "did you mean 'speed'"),
        (["--accuracy-points", "-1"], "--accuracy-points must be a non-negative number"),
        (["--config", "nowhere.toml"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    code, _, err = run_compare(capsys, BASELINE, BASELINE, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_missing_run_and_a_bad_config_key_exit_2(tmp_path, capsys):
    code, _, err = run_compare(capsys, BASELINE, tmp_path / "nothing")
    assert code == 2 and "does not exist" in err
    config = tmp_path / "c.toml"
    config.write_text("[compare]\nspeed_pct = 3\n")
    code, _, err = run_compare(capsys, BASELINE, BASELINE, "--config", config)
    assert code == 2 and "unknown key(s) speed_pct" in err


def test_the_config_file_sets_tolerances_and_flags_override_it(tmp_path, capsys):
    def drop(record):
        if record["model"] == "gru" and record["task"] == "needle":
            record["accuracy"] -= 0.04

    current = copy_baseline(tmp_path / "current", drop)
    config = tmp_path / "c.toml"
    config.write_text('[compare]\naccuracy_points = 5\ngates = ["status", "accuracy"]\n')
    assert run_compare(capsys, BASELINE, current, "--config", config)[0] == 0
    assert run_compare(capsys, BASELINE, current, "--config", config, "--accuracy-points", "1")[0] == 1


def test_diff_report_puts_regressions_first_escapes_and_warns_on_other_hardware(tmp_path, capsys):
    def change(record):
        record["device_name"] = "Another <b>CPU</b>"
        if record["model"] == "transformer" and record["task"] == "mqar":
            record["accuracy"] -= 0.1
        if record["model"] == "gru" and record["task"] == "needle":
            record["accuracy"] += 0.1

    current = copy_baseline(tmp_path / "current", change)
    (current / "manifest.json").unlink()
    page_path = tmp_path / "diff.html"
    code, out, _ = run_compare(capsys, BASELINE, current, "--html", page_path)
    assert code == 1 and "warning: the runs used different hardware" in out
    page = page_path.read_text()
    assert "Not like for like" in page and "Another &lt;b&gt;CPU&lt;/b&gt;" in page and "<b>CPU" not in page
    assert page.index("Regressions (1)") < page.index("Improvements (1)")
    assert 'class="regression"><td>transformer mqar T=64 seed=0</td>' in page


def test_a_reference_that_is_no_model_of_the_runs_is_refused_gated_or_not(tmp_path, capsys):
    for gates in (["--gate", "speed"], []):
        code, _, err = run_compare(capsys, BASELINE, BASELINE, *gates, "--reference", "gur")
        assert code == 2 and "did you mean 'gru'" in err and len(err.strip().splitlines()) == 1


def test_the_speed_gate_refuses_a_reference_without_an_ok_timed_cell(tmp_path, capsys):
    import json
    import shutil

    current = tmp_path / "current"
    shutil.copytree(BASELINE, current)
    lines = (current / "records.jsonl").read_text().splitlines()
    kept = [line for line in lines if not (json.loads(line)["model"] == "gru" and json.loads(line)["kind"] == "perf")]
    (current / "records.jsonl").write_text("\n".join(kept) + "\n")
    code, _, err = run_compare(capsys, BASELINE, current, "--gate", "speed", "--reference", "gru")
    assert code == 2 and "speed ratios need the reference" in err


def test_compare_refuses_what_report_refuses(tmp_path, capsys):
    """A garbage line inside the records, or records of a newer schema: one line, exit 2."""
    import json
    import shutil

    for name, change in (
        ("garbage", lambda lines: [lines[0], "{not json", *lines[1:]]),
        ("newer", lambda lines: [json.dumps({**json.loads(lines[0]), "schema_version": 99}), *lines[1:]]),
    ):
        current = tmp_path / name
        shutil.copytree(BASELINE, current)
        lines = (current / "records.jsonl").read_text().splitlines()
        (current / "records.jsonl").write_text("\n".join(change(lines)) + "\n")
        code, _, err = run_compare(capsys, BASELINE, current)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "records.jsonl:2: corrupt records" in err if name == "garbage" else "schema_version 99" in err
        assert main(["report", str(current), "--out", str(tmp_path / f"{name}.html")]) == 2
        assert capsys.readouterr().err.strip() == err.strip()  # the same line from report


def test_an_unwritable_html_path_and_a_missing_history_run_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_compare(capsys, BASELINE, BASELINE, "--html", blocker / "diff.html")
    assert code == 2 and "cannot be written" in err
    assert main(["history", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_v3_bench_records_compare_as_speed_records_against_the_reference_of_their_scope(tmp_path, capsys):
    bench = ROOT / "reports" / "examples" / "bench-speed-cpu"  # schema 3: bench records were perf records
    code, out, _ = run_compare(capsys, bench, bench, "--gate", "speed")
    assert code == 0 and "clean" in out
    records = read(bench)
    quiet = {(r["scope"], r["seq_len"]) for r in records if r["model"] == "gru" and not r["timing_noisy"]}
    slowed = next(
        r
        for r in records
        if r["model"] == "mingru:log"
        and r["status"] == "ok"
        and not r["timing_noisy"]
        and (r["scope"], r["seq_len"]) in quiet
    )
    slowed["train_tokens_per_s"] /= 2
    shutil.copy(bench / "manifest.json", write(tmp_path / "current", records) / "manifest.json")
    code, out, _ = run_compare(capsys, bench, tmp_path / "current", "--gate", "speed")
    label = f"mingru:log speed {slowed['scope']} T={slowed['seq_len']} seed=0 train_speed_ratio"
    assert code == 1 and f"REGRESSION: 1 regression(s): {label}" in out


# --------------------------------------------------------------------------- the noise-aware speed gate


def with_raw_train_steps(spread: float, slow_mingru_by: float = 1.0):
    """A record editor: every perf record quiet, its train step's raw repeats five values whose IQR is
    ``spread`` of their median; mingru at T=256 slowed ``slow_mingru_by`` times (schema 7)."""

    def edit(record):
        quiet(record)
        if record["kind"] != "perf":
            return
        record["schema_version"] = 7
        if record["model"] == "mingru" and record["seq_len"] == 256:
            record["train_tokens_per_s"] /= slow_mingru_by
        median = 1000 * record["batch_size"] * record["seq_len"] / record["train_tokens_per_s"]
        half = spread / 2 * median
        record["train_step_raw_ms"] = [median - 2 * half, median - half, median, median + half, median + 2 * half]

    return edit


def speed_verdict(baseline, current, ratio="train_speed_ratio"):
    comparison = compare_runs(load_run(baseline), load_run(current), Tolerances(speed_percent=1.0, gates=GATES))
    rows = comparison.rows
    picked = rows[(rows["model"] == "mingru") & (rows["seq_len"] == 256) & (rows["metric"] == ratio)]
    assert len(picked) == 1
    return picked.iloc[0]


def test_a_speed_change_within_both_runs_noise_is_same(tmp_path):
    """The raw repeats spread 40% in both runs: a 20% fall of mingru's ratio is within the noise."""
    baseline = copy_baseline(tmp_path / "baseline", with_raw_train_steps(0.4))
    current = copy_baseline(tmp_path / "current", with_raw_train_steps(0.4, slow_mingru_by=1.25))
    row = speed_verdict(baseline, current)
    assert row["verdict"] == "same" and row["change"] == pytest.approx(-20) and "within the noise" in row["reason"]


def test_a_speed_change_beyond_both_runs_noise_is_a_regression(tmp_path, capsys):
    """The same 20% fall with raw repeats spread 2%: beyond the noise, and beyond the 1% floor."""
    baseline = copy_baseline(tmp_path / "baseline", with_raw_train_steps(0.02))
    current = copy_baseline(tmp_path / "current", with_raw_train_steps(0.02, slow_mingru_by=1.25))
    row = speed_verdict(baseline, current)
    assert row["verdict"] == "regression" and "noise 4%" in row["reason"]  # hypot of 4 spreads of 2%
    code, out, _ = run_compare(capsys, baseline, current, "--gate", "speed", "--speed-percent", "1")
    assert code == 1 and "mingru perf T=256 seed=0 train_speed_ratio" in out


def test_records_without_raw_repeats_are_judged_on_their_recorded_spread(tmp_path):
    """The committed baseline (schema 6) has no raw values: its iqr_ms over train_step_ms is the noise."""
    from suite.analysis.speed_gate import timing_noise

    record = find(read(BASELINE), model="mingru", seq_len=256, kind="perf")
    assert timing_noise(record, "train_tokens_per_s") == pytest.approx(record["iqr_ms"] / record["train_step_ms"])
    assert timing_noise(record, "decode_ms_per_token") == pytest.approx(
        record["decode_iqr_ms"] / record["decode_ms_per_token"]
    )
    baseline = copy_baseline(tmp_path / "baseline", quiet)

    def slow(record):
        quiet(record)
        if record["model"] == "mingru" and record["kind"] == "perf" and record["seq_len"] == 256:
            record["train_tokens_per_s"] /= 2

    row = speed_verdict(baseline, copy_baseline(tmp_path / "current", slow))
    assert row["verdict"] == "regression" and "noise" in row["reason"] and "unknown" not in row["reason"]


def test_relative_spread_of_raw_timings():
    from suite.analysis.speed_gate import relative_spread

    assert relative_spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0 / 3.0)  # quartiles 2 and 4, median 3
    assert relative_spread([2.0]) is None and relative_spread([]) is None


def test_speed_is_not_gated_between_two_cpu_models_and_compare_says_so(tmp_path, capsys):
    def other_cpu(record):
        quiet(record)
        record["device_name"] = "Another CPU model"
        if record["model"] == "mingru" and record["kind"] == "perf" and record["seq_len"] == 256:
            record["train_tokens_per_s"] /= 2

    baseline = copy_baseline(tmp_path / "baseline", quiet)
    current = copy_baseline(tmp_path / "current", other_cpu)
    (current / "manifest.json").unlink()  # the records alone say which CPU ran them
    comparison = compare_runs(load_run(baseline), load_run(current), Tolerances(gates=GATES))
    assert comparison.machine_differences and "Another CPU model" in comparison.machine_differences[0]
    ratios = comparison.rows[comparison.rows["metric"].str.endswith("_speed_ratio")]
    assert len(ratios) and set(ratios["verdict"]) == {"info"}
    code, out, _ = run_compare(capsys, baseline, current, "--gate", "speed")
    assert code == 0 and "warning: speed ratios not gated: the runs ran on different machines" in out
    assert "Another CPU model" in out


def test_compare_warns_when_a_family_or_task_version_differs(tmp_path, capsys):
    def versions(family_version):
        def edit(record):
            record.update(schema_version=7, family_version=1, task_version=1 if record["task"] else None)
            if record["model"] == "mingru" and record["kind"] == "accuracy" and record["task"] == "mqar":
                record["family_version"] = family_version

        return edit

    baseline = copy_baseline(tmp_path / "baseline", versions(1))
    current = copy_baseline(tmp_path / "current", versions(2))
    code, out, _ = run_compare(capsys, baseline, current)
    assert code == 0 and "1 matched record(s) ran a different version" in out
    assert "mingru mqar T=64 seed=0 (family_version 1 -> 2)" in out
    code, out, _ = run_compare(capsys, BASELINE, current)  # the committed baseline predates versions
    assert "carry family/task versions in one run only" in out
    assert "ran a different version" not in run_compare(capsys, baseline, baseline)[1]
