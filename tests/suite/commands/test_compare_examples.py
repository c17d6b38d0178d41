"""compare, history and report on every kind of run the suite makes: each committed example
compared with itself, history over all of them, and synthetic runs (several evaluation lengths,
seeds, a learning-rate sweep, a width sweep, old schema versions, a max-len search) whose
records share a cell_key across evaluation lengths."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from suite.analysis import tables
from suite.analysis.compare import compare_runs, load_run
from suite.commands.cli import main
from suite.records.schema import blank_record

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "reports" / "examples"
EXAMPLE_RUNS = sorted(path for path in EXAMPLES.iterdir() if path.is_dir())
WITH_RECORDS = [path for path in EXAMPLE_RUNS if (path / "records.jsonl").is_file()]


def run_cli(capsys, *args):
    code = main([*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_examples_include_runs_of_every_shape():
    """The parametrized tests below are only as good as the examples: several evaluation lengths,
    old schema versions, speed records and records without eval_len must be among them."""
    records = pd.concat([tables.load_results(path) for path in WITH_RECORDS], ignore_index=True)
    assert records.groupby("cell_key")["eval_len"].nunique().max() >= 3
    assert {"accuracy", "perf", "speed"} <= set(records["kind"])
    assert records["schema_version"].nunique() >= 3
    assert (EXAMPLES / "loop-baseline-cpu").is_dir() and EXAMPLES / "loop-baseline-cpu" not in WITH_RECORDS


@pytest.mark.parametrize("run", EXAMPLE_RUNS, ids=[path.name for path in EXAMPLE_RUNS])
def test_every_committed_example_compares_clean_with_itself(run, capsys):
    code, out, err = run_cli(capsys, "compare", run, run, "--all")
    if run not in WITH_RECORDS:  # loop-baseline-cpu: a pytest-benchmark result, not a run
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "holds no records.jsonl" in err and "--out folder of a `python -m suite run`" in err
        return
    assert code == 0, err
    assert "clean" in out and "Traceback" not in err and "REGRESSION" not in out
    records = tables.latest_records(tables.load_results(run))
    comparison = compare_runs(load_run(run), load_run(run))
    rows = comparison.rows
    assert not comparison.missing and not comparison.new
    assert set(rows["verdict"]) <= {"same", "info", "noisy"}
    # one status-free accuracy row per cell, evaluation length and seed group, each with its own label
    accuracy = records[(records["kind"] == "accuracy") & (records["status"] == "ok")]
    expected = {
        (
            json.dumps(
                [
                    row[name]
                    for name in (
                        "model",
                        "task",
                        "seq_len",
                        "batch_size",
                        "task_params",
                        "model_config",
                        "train_config",
                    )
                ],
                sort_keys=True,
                default=str,
            ),
            identity.partition("@")[2],
        )
        for identity, (_, row) in zip(tables.record_identity(accuracy), accuracy.iterrows())
    }
    accuracy_rows = rows[rows["metric"] == "accuracy"]
    assert len(accuracy_rows) == len(expected)
    assert accuracy_rows["cell"].is_unique
    assert rows.groupby(["cell", "metric"]).size().max() == 1


def test_history_over_every_example_with_records(tmp_path, capsys):
    page = tmp_path / "history.html"
    code, out, err = run_cli(capsys, "history", *WITH_RECORDS, "--html", page)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(WITH_RECORDS) + 1 and lines[-1] == f"history: {page}"
    assert all(line.endswith("clean") for line in lines[:-1])
    text = page.read_text()
    assert f"History of {len(WITH_RECORDS)} run(s)" in text and "data:image/png;base64," in text


# --------------------------------------------------------------------------- synthetic runs
def accuracy_record(
    model,
    seed,
    *,
    seq_len=64,
    eval_len=None,
    accuracy=0.5,
    lr=0.01,
    d_model=32,
    lrs=None,
    eval_lens=(64, 128, 256),
    version=5,
    status="ok",
):
    """One accuracy record of a cell trained at ``seq_len`` and scored at ``eval_len``; its cell_key
    hashes what the plan's would (everything but the evaluation length)."""
    record = blank_record("accuracy")
    train_config = {
        "steps": 10,
        "lr": 0.01,
        **({"eval_lens": list(eval_lens)} if eval_lens else {}),
        **({"lr_sweep": list(lrs)} if lrs else {}),
    }
    model_config = {"d_model": d_model, "n_layers": 2, "options": {}}
    task_params = {"num_kv_pairs": 4, "vocab_size": 32}
    key = hashlib.sha256(
        json.dumps([model, seed, seq_len, model_config, task_params, train_config], sort_keys=True).encode()
    ).hexdigest()[:16]
    record.update(
        schema_version=version,
        run_id="synthetic",
        cell_key=key,
        model=model,
        family=model,
        backend="test",
        task="mqar",
        task_params=task_params,
        seq_len=seq_len,
        batch_size=8,
        seed=seed,
        device="cpu",
        status=status,
        error=None if status == "ok" else "injected",
        model_config=model_config,
        train_config=train_config,
        accuracy=accuracy if status == "ok" else None,
        lr=lr,
        train_len=seq_len,
        eval_len=seq_len if eval_len is None else eval_len,
    )
    return record


def sweep_run(change=lambda record: None, seeds=(0, 1, 2), lengths=(64, 128, 256), models=("mingru", "gru")):
    """Two models, three seeds, three evaluation lengths, a learning-rate sweep whose pick differs by seed."""
    records = []
    for model in models:
        for seed in seeds:
            for length in lengths:
                record = accuracy_record(
                    model,
                    seed,
                    eval_len=length,
                    accuracy=0.9 - length / 1000 - seed / 100,
                    lr=(0.01, 0.003)[seed % 2],
                    lrs=(0.01, 0.003),
                )
                change(record)
                records.append(record)
    return records


def write(folder: Path, records) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "records.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    return folder


def test_the_record_identity_is_the_cell_key_and_any_other_evaluation_length():
    records = pd.DataFrame(
        [
            {"cell_key": "a", "seq_len": 64, "eval_len": 64},  # scored at its training length
            {"cell_key": "a", "seq_len": 64, "eval_len": 128.0},  # ... and at twice it
            {"cell_key": "b", "seq_len": 64, "eval_len": None},  # before eval_len existed; perf; speed
            {"cell_key": None, "seq_len": 64, "eval_len": 64},  # no key: never matched
            {"cell_key": "a", "seq_len": 64, "eval_len": 128},  # the @128 record again (a resumed run)
            {"cell_key": "b", "seq_len": 64, "eval_len": 64},  # b rerun by a version that writes eval_len
        ]
    )
    assert list(tables.record_identity(records)) == ["a", "a@128", "b", None, "a@128", "b"]
    assert list(tables.latest_records(records).index) == [0, 3, 4, 5]


def test_several_lengths_seeds_and_an_lr_sweep_compare_per_length(tmp_path, capsys):
    baseline = write(tmp_path / "baseline", sweep_run())
    code, out, err = run_cli(capsys, "compare", baseline, baseline, "--all")
    assert code == 0, err
    rows = compare_runs(load_run(baseline), load_run(baseline)).rows
    verdicts, rows = rows[rows["metric"] == "verdict"], rows[rows["metric"] != "verdict"]
    assert sorted(rows["cell"]) == sorted(
        f"{model} mqar T=64{at} (3 seeds)" for model in ("mingru", "gru") for at in ("", " @128", " @256")
    )
    assert set(rows["metric"]) == {"accuracy"} and set(rows["verdict"]) == {"same"}
    assert sorted(verdicts["cell"]) == sorted(  # one verdict per outcome: a cell at one evaluation length
        f"{model} mqar T=64{at} (verdict)" for model in ("mingru", "gru") for at in ("", " @128", " @256")
    )
    assert set(verdicts["verdict"]) == {"same"}
    assert (
        out.index("gru mqar T=64 (3 seeds)")
        < out.index("gru mqar T=64 @128 (3 seeds)")
        < out.index("gru mqar T=64 @256 (3 seeds)")
    )  # the training length first

    def drop_far(record):  # mingru forgets how to extrapolate to 256, every seed
        if record["model"] == "mingru" and record["eval_len"] == 256:
            record["accuracy"] -= 0.1

    current = write(tmp_path / "far", sweep_run(drop_far))
    code, out, _ = run_cli(capsys, "compare", baseline, current)
    assert code == 1 and "REGRESSION: 1 regression(s): mingru mqar T=64 @256 (3 seeds) accuracy" in out
    rows = compare_runs(load_run(baseline), load_run(current)).rows
    assert set(rows.loc[rows["cell"] == "mingru mqar T=64 (3 seeds)", "verdict"]) == {"same"}

    def crash(record):
        if record["model"] == "gru" and record["seed"] == 1:
            record.update(status="oom", error="injected", accuracy=None)

    current = write(tmp_path / "oom", sweep_run(crash))
    regressions = compare_runs(load_run(baseline), load_run(current)).regressions
    assert sorted(regressions.loc[regressions["metric"] == "status", "cell"]) == [
        "gru mqar T=64 @128 seed=1",
        "gru mqar T=64 @256 seed=1",
        "gru mqar T=64 seed=1",
    ]


def test_a_length_one_run_lacks_is_missing_and_the_message_fits_two_own_runs(tmp_path, capsys):
    baseline = write(tmp_path / "baseline", sweep_run())
    current = write(tmp_path / "current", sweep_run(lengths=(64, 128)))
    code, _, err = run_cli(capsys, "compare", baseline, current)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "6 baseline cell(s) are not in the current run: gru mqar T=64 @256 seed=0;" in err
    assert "ran different grids" in err and "--allow-missing" in err and "baseline update" not in err
    code, out, _ = run_cli(capsys, "compare", baseline, current, "--allow-missing")
    assert code == 0 and "6 unmatched cell(s) allowed" in out


def test_the_missing_message_names_the_options_that_differ(tmp_path, capsys):
    baseline = write(tmp_path / "baseline", sweep_run())
    current = write(tmp_path / "current", sweep_run(seeds=(0,)))
    for folder, seeds in ((baseline, [0, 1, 2]), (current, [0])):
        (folder / "manifest.json").write_text(json.dumps({"preset": "cpu", "options": {"seeds": seeds}}))
    code, _, err = run_cli(capsys, "compare", baseline, current)
    assert code == 2 and "(--seeds [0, 1, 2] vs [0])" in err and "baseline update" not in err


def test_a_width_sweep_is_labelled_by_its_width(tmp_path, capsys):
    records = [accuracy_record("gru", 0, d_model=width, eval_lens=None, accuracy=0.5) for width in (16, 32)]
    baseline = write(tmp_path / "baseline", records)
    worse = [dict(record, accuracy=0.3) if record["model_config"]["d_model"] == 32 else record for record in records]
    code, out, _ = run_cli(capsys, "compare", baseline, write(tmp_path / "current", worse), "--all")
    assert code == 1 and "REGRESSION: 1 regression(s): gru mqar T=64 [d_model=32] seed=0 accuracy" in out
    assert "gru mqar T=64 [d_model=16] seed=0" in out


def test_an_old_run_without_eval_len_matches_a_new_one_at_the_training_length(tmp_path, capsys):
    old = []
    for record in sweep_run(lengths=(64,)):
        record = {name: value for name, value in record.items() if name not in ("eval_len", "train_len", "plugin")}
        record["schema_version"] = 1
        record["train_config"].pop("eval_lens")
        old.append(record)
    new = [dict(record, train_config=dict(record["train_config"])) for record in old]
    for record in new:
        record.update(schema_version=5, eval_len=64, train_len=64)
    code, out, err = run_cli(capsys, "compare", write(tmp_path / "old", old), write(tmp_path / "new", new), "--all")
    assert code == 0, err
    assert "gru mqar T=64 (3 seeds)" in out and "@" not in out.split("\n", 1)[1]


def max_len_run(boundary: int, cap: int = 512) -> list[dict]:
    """A max-len search of gru from 64: probes up to ``boundary`` ok, the next one out of memory."""
    records = []
    for length in (64, 128, 256, 512):
        if length > cap or length > 2 * boundary:
            break
        probe = blank_record("perf")
        probe.update(
            cell_key=f"probe-{length}",
            model="gru",
            family="gru",
            backend="cudnn",
            seq_len=length,
            batch_size=8,
            seed=0,
            device="cpu",
            status="ok" if length <= boundary else "oom",
            error=None if length <= boundary else "out of memory",
            task_params={"vocab_size": 16},
            model_config={"d_model": 64},
            train_config={"probe": "max_len", "repeats": 1},
            train_tokens_per_s=1000.0,
        )
        records.append(probe)
    result = blank_record("max_len")
    result.update(
        cell_key="boundary",
        model="gru",
        family="gru",
        backend="cudnn",
        seq_len=0,
        batch_size=8,
        seed=0,
        device="cpu",
        status="ok",
        max_seq_len=boundary,
        first_failing_len=2 * boundary,
        first_failing_status="oom",
        task_params={"vocab_size": 16},
        model_config={"d_model": 64},
        train_config={"start_len": 64, "limit_len": cap},
    )
    return records + [result]


def test_a_max_len_boundary_that_fell_is_a_probe_regression_not_a_changed_grid(tmp_path, capsys):
    baseline = write(tmp_path / "baseline", max_len_run(256))
    assert run_cli(capsys, "compare", baseline, baseline)[0] == 0
    current = write(tmp_path / "current", max_len_run(64))  # 256 no longer fits; 512 never probed
    code, out, err = run_cli(capsys, "compare", baseline, current)
    assert code == 1, err
    assert "REGRESSION: 1 regression(s): gru max-len probe T=128 seed=0 status" in out
    assert "max-len probe(s) ran in one run only" in out
    rows = compare_runs(load_run(baseline), load_run(current)).rows
    boundary = rows[rows["metric"] == "max_seq_len"].iloc[0]
    assert boundary["cell"] == "gru max_len seed=0" and boundary["verdict"] == "worse"
    assert (boundary["baseline"], boundary["current"]) == (256, 64)


def test_report_compare_and_history_refuse_a_folder_without_records_in_one_line(tmp_path, capsys):
    empty, blank = tmp_path / "empty", tmp_path / "blank"
    empty.mkdir()
    write(blank, [])
    good = write(tmp_path / "good", sweep_run())
    for folder, problem in ((empty, "holds no records.jsonl"), (blank, "holds no records yet")):
        for args in (
            ["report", folder, "--out", tmp_path / "r.html"],
            ["compare", folder, good],
            ["compare", good, folder],
            ["history", good, folder],
        ):
            code, _, err = run_cli(capsys, *args)
            assert code == 2 and len(err.strip().splitlines()) == 1 and problem in err, (args, err)
    assert not (tmp_path / "r.html").exists()
