"""Length extrapolation, learning-rate sweeps, parameter matching and the
verdicts (solved / fails / inconclusive) end to end on tiny configurations."""

import pandas as pd
import pytest

from suite.analysis import questions
from suite.measure import train
from suite.analysis.tables import load_results
from suite.measure.cell import run_cell
from suite.commands.cli import main
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset
from suite.registry import build_model
from suite.records.store import read_records


@pytest.fixture(scope="module")
def extrapolation_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("extrapolation")
    code = main(
        [
            "run",
            "--preset",
            "tiny",
            "--models",
            "mingru,lstm,transformer",
            "--tasks",
            "parity,mqar",
            "--train-len",
            "16",
            "--eval-lens",
            "16,32,64",
            "--seeds",
            "0,1",
            "--kinds",
            "accuracy",
            "--out",
            str(out / "run"),
            "--report",
            str(out / "report.html"),
        ]
    )
    assert code == 0
    return out


def test_every_cell_is_scored_at_every_eval_length(extrapolation_run):
    records = read_records(extrapolation_run / "run")
    assert len(records) == 3 * 2 * 2 * 3  # models x tasks x seeds x eval lengths
    by_cell = {}
    for record in records:
        assert record["status"] == "ok" and "train_len" not in record and record["seq_len"] == 16  # schema 7
        by_cell.setdefault(record["cell_key"], []).append(record)
    assert len(by_cell) == 12
    for cell_records in by_cell.values():
        assert sorted(r["eval_len"] for r in cell_records) == [16, 32, 64]
        # one set of trained weights: training metrics are shared, test metrics are per length
        assert len({r["final_loss"] for r in cell_records}) == 1
        assert [r["n_scored"] for r in sorted(cell_records, key=lambda r: r["eval_len"])][0] > 0
    parity = [r for r in records if r["task"] == "parity" and r["seed"] == 0 and r["model"] == "mingru"]
    assert sorted(r["n_scored"] for r in parity) == [64, 128, 256]  # every position of 4 sequences is scored
    schemes = {r["model"]: r["positional_encoding"] for r in records}
    assert schemes == {"mingru": "none", "lstm": "none", "transformer": "rotary"}
    kv_cache = {r["eval_len"]: r["state_bytes"] for r in records if r["model"] == "transformer"}
    assert kv_cache[64] == 4 * kv_cache[16]  # the KV cache grows with the evaluated length
    assert len({r["state_bytes"] for r in records if r["model"] == "mingru"}) == 1


def test_report_draws_the_extrapolation_and_the_verdicts(extrapolation_run):
    html = (extrapolation_run / "report.html").read_text()
    assert "Which family solves what" in html and "Length extrapolation" in html
    assert "verdict" in html and "Families sized by: width" in html
    table = questions.outcome_table(load_results(extrapolation_run / "run"))
    assert set(table["eval_len"]) == {16, 32, 64}
    assert (table["n_ok"] == 2).all() and (table["ci_method"] == "t over seeds").all()


def test_resume_of_a_finished_extrapolation_run_runs_nothing(extrapolation_run, capsys):
    before = (extrapolation_run / "run" / "records.jsonl").read_text()
    assert main(["run", "--resume", "--out", str(extrapolation_run / "run"), "--no-report"]) == 0
    assert "12 of 12 cells already recorded" in capsys.readouterr().err
    assert (extrapolation_run / "run" / "records.jsonl").read_text() == before


def test_resume_reruns_a_cell_whose_eval_lengths_are_incomplete(extrapolation_run, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("manifest.json",):
        (run / name).write_text((extrapolation_run / "run" / name).read_text())
    lines = (extrapolation_run / "run" / "records.jsonl").read_text().splitlines()
    (run / "records.jsonl").write_text("\n".join(lines[:-1]) + "\n")  # the last cell lost its last length
    assert main(["run", "--resume", "--out", str(run), "--no-report"]) == 0
    assert "11 of 12 cells already recorded" in capsys.readouterr().err
    records = load_results(run)
    assert len(questions.outcome_table(records)) == 3 * 2 * 3 and len(read_records(run)) == 36 + 2


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--train-len", "16", "--seq-lens", "32"], "--train-len"),
        (["--train-len", "16,32"], "--train-len"),
        (["--tasks", "mqar", "--eval-lens", "4"], "cannot make sequences of length 4"),
        (["--lrs", "fast"], "--lrs"),
        (["--lrs", "0"], "--lrs"),
        (["--match", "flops"], "--match"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    try:
        code = main(["run", "--preset", "tiny", "--models", "mingru", "--kinds", "accuracy", "--out", str(out), *argv])
    except SystemExit as exit:  # argparse's own errors
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (out / "records.jsonl").exists()


def test_new_dimensions_are_in_the_key_and_absent_when_unused():
    preset = get_preset("tiny")
    plain = build_plan(preset, models=["mingru"], tasks=["parity"], kinds=("accuracy",))[0]
    assert "eval_lens" not in plain.train_config and "lr_sweep" not in plain.train_config
    assert "param_match" not in plain.model_config  # so the keys of earlier runs do not change
    keys = {plain.key}
    for options in ({"eval_lens": [32, 64]}, {"lrs": [1e-3, 3e-3]}, {"match": "params"}):
        keys.add(build_plan(preset, models=["mingru"], tasks=["parity"], kinds=("accuracy",), **options)[0].key)
    assert len(keys) == 4


def test_lr_sweep_chooses_on_the_validation_stream_never_the_test_stream(monkeypatch):
    cell = build_plan(get_preset("tiny"), models=["gru"], tasks=["parity"], kinds=("accuracy",), lrs=[1e-5, 3e-2])[0]
    splits = []
    real_stream = train.stream

    def spy(seed, split):
        splits.append(split)
        return real_stream(seed, split)

    monkeypatch.setattr(train, "stream", spy)
    [record] = run_cell(cell, "cpu")
    assert record["status"] == "ok", record["error"]
    # one model per rate, each with its early-stopping evaluations; the test stream only for the winner
    assert splits.count("train") == 2 and splits.count("test") == 1 and splits[-1] == "test"
    assert splits[0] == "train" and set(splits[:-1]) == {"train", "valid"}
    valid = record["lr_valid_accuracy"]
    assert set(valid) == {repr(1e-5), repr(3e-2)}
    assert record["lr"] == float(max(valid, key=lambda rate: (valid[rate], -float(rate))))
    assert record["train_config"]["lr_sweep"] == [1e-5, 3e-2]


def test_params_matching_sizes_every_family_within_ten_percent():
    preset = get_preset("cpu")
    cells = build_plan(preset, tasks=["parity"], kinds=("accuracy",), match="params")
    counts = {}
    for cell in cells:
        config = cell.model_config
        assert config["param_match"] == "params" and config["reference_d_model"] == preset.d_model
        model = build_model(
            cell.family,
            vocab_size=config["vocab_size"],
            d_model=config["d_model"],
            n_layers=config["n_layers"],
            mlp_mult=config["mlp_mult"],
            **config["options"],
        )
        counts[cell.family] = model.num_params()
    target = counts["transformer"]
    assert all(abs(count - target) <= 0.1 * target for count in counts.values()), counts
    widths = {cell.family: cell.model_config["d_model"] for cell in cells}
    assert len(set(widths.values())) > 1  # the families were actually resized
    unmatched = {c.family: c.model_config["d_model"] for c in build_plan(preset, tasks=["parity"], kinds=("accuracy",))}
    assert set(unmatched.values()) == {preset.d_model}


def _outcome(family, accuracy, eval_len, task="parity", ci_high=None):
    """An outcome row whose three seeds all stopped on a plateau (see tests/suite/analysis/test_verdicts.py
    for the other ways training ends)."""
    return dict(
        task=task,
        task_variant="{}",
        model=family,
        family=family,
        d_model=64,
        budget_width=64,
        param_match="width",
        train_len=32,
        eval_len=eval_len,
        n_runs=3,
        n_ok=3,
        accuracy=accuracy,
        accuracy_ci_high=accuracy + 0.05 if ci_high is None else ci_high,
        status="ok",
        stop_reasons="plateau",
        n_stop_recorded=3,
        rising_at="",
    )


def test_verdicts_need_a_positive_control():
    outcomes = pd.DataFrame(
        [
            _outcome("lstm", 1.0, 32),
            _outcome("mingru", 0.6, 32),
            _outcome("gru", 0.95, 32),
            _outcome("lstm", 0.55, 128),
            _outcome("mingru", 0.5, 128),
            _outcome("mamba2", 0.7, 32, ci_high=0.99),  # seeds disagree: one solved, others did not
            _outcome("mingru", 0.2, 32, task="mqar"),  # no transformer ran: nothing can be concluded
            {**_outcome("mamba", float("nan"), 32), "n_ok": 0, "status": "timeout"},
        ]
    )
    verdict = {(r["model"], r["task"], r["eval_len"]): r["verdict"] for _, r in questions.verdicts(outcomes).iterrows()}
    assert verdict[("lstm", "parity", 32)] == "solved" and verdict[("gru", "parity", 32)] == "solved"
    assert verdict[("mingru", "parity", 32)] == "fails (plateaued; control solves)"
    assert verdict[("mamba2", "parity", 32)] == "inconclusive (its 95% interval reaches the bar)"
    assert verdict[("mingru", "parity", 128)] == "inconclusive (control did not solve)"
    assert verdict[("lstm", "parity", 128)].startswith("control fails (plateaued)")
    assert verdict[("mingru", "mqar", 32)] == "inconclusive (no control run)"
    assert verdict[("mamba", "parity", 32)] == "not run ok (timeout)"
    older = pd.DataFrame(
        [_outcome("lstm", 1.0, 32), {**_outcome("mingru", 0.6, 32), "n_stop_recorded": 0, "stop_reasons": ""}]
    )  # written before early stopping
    assert questions.verdicts(older)["verdict"].iloc[1] == "inconclusive (no early stopping recorded)"


def test_a_width_and_key_value_sweep_draws_accuracy_against_state_size(tmp_path):
    import dataclasses

    from suite.analysis.run_analysis import analyse
    from suite.report.sections.question_figures import recall_state_figure
    from suite.report.sections.questions import questions_section
    from suite.records.store import RecordWriter

    preset = dataclasses.replace(
        get_preset("tiny"), d_models=(8, 16), task_param_grid={"mqar": {"num_kv_pairs": (1, 2)}}
    )
    cells = build_plan(preset, models=["mingru", "transformer"], tasks=["mqar"], kinds=("accuracy",))
    assert len(cells) == 2 * 2 * 2 and len({c.key for c in cells}) == 8
    assert {(c.model_config["d_model"], c.task_params["num_kv_pairs"]) for c in cells} == {
        (8, 1),
        (8, 2),
        (16, 1),
        (16, 2),
    }
    with RecordWriter(tmp_path) as writer:
        for cell in cells:
            for record in run_cell(cell, "cpu"):
                writer.append(record)
    records = load_results(tmp_path)
    sizes = questions.outcome_table(records).groupby("model")["state_bytes"].nunique()
    assert (sizes == 2).all()  # two widths -> two state sizes per family
    outcomes = questions.outcome_table(records)
    assert recall_state_figure(outcomes)
    assert "Recall vs state size" in questions_section(analyse(records))
    assert recall_state_figure(questions.outcome_table(records.iloc[:1])) is None  # one point is not a sweep


def test_resume_accepts_a_run_begun_before_the_new_preset_fields(extrapolation_run, tmp_path, capsys):
    import json as json_module
    import shutil

    run = tmp_path / "run"
    shutil.copytree(extrapolation_run / "run", run)
    manifest = json_module.loads((run / "manifest.json").read_text())
    for name in ("eval_lens", "d_models", "task_param_grid"):  # fields older manifests lack
        del manifest["preset_config"][name]
    (run / "manifest.json").write_text(json_module.dumps(manifest))
    assert main(["run", "--resume", "--out", str(run), "--no-report"]) == 0
    assert "12 of 12 cells already recorded" in capsys.readouterr().err
    manifest["preset_config"]["train_steps"] += 1  # a real change is still refused
    (run / "manifest.json").write_text(json_module.dumps(manifest))
    assert main(["run", "--resume", "--out", str(run), "--no-report"]) == 2
    assert "has changed" in capsys.readouterr().err
