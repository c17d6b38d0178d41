"""Paper presets, steps-to-accuracy, the published-numbers file and the report's paper section."""

import dataclasses
import json


import pytest
import torch

from suite.measure import cell as cell_module
from suite.analysis import tables as analysis
from suite.analysis import paper, paper_depth
from suite.analysis import published
from suite.measure import train
from suite.commands.cli import main
from suite.plan.settings import RunContext
from suite.plan.cells import TrainConfig
from suite.plan.planning import build_plan
from suite.plan.presets import PAPER_PRESETS, get_preset
from suite.registry import build_model, get_task
from suite.report import write_report
from suite.records.store import RecordWriter


def _train(eval_every):
    torch.manual_seed(0)
    model = build_model("mingru", vocab_size=16, d_model=8, n_layers=1, mlp_mult=0)
    task = get_task("selective-copy", vocab_size=16, num_data_tokens=2)
    config = {
        "steps": 6,
        "lr": 1e-2,
        "weight_decay": 0.0,
        "warmup_steps": 2,
        "grad_clip": 1.0,
        "eval_batches": 1,
        "eval_batch_size": 4,
        "dtype": "float32",
        "target_accuracy": 0.0,
        "eval_every": eval_every,
        "curve_batches": 1,
    }
    return train.train(model, task, 8, 4, 0, TrainConfig(**config), "cpu")


def test_a_target_stops_training_with_the_steps_and_seconds_to_it():
    """What the paper section's steps-to-target table reads (the stop rules: tests/suite/measure/test_training.py)."""
    metrics = _train(2)
    assert metrics["stop_reason"] == "target" and metrics["steps_trained"] == 2 and metrics["max_steps"] == 6
    [(step, seconds, _)] = metrics["valid_curve"]  # [step, train seconds, validation accuracy]
    assert step == 2 == metrics["steps_to_target"] and metrics["eval_every"] == 2
    assert seconds == metrics["seconds_to_target"] >= 0 and metrics["target_accuracy"] == 0.0


def test_published_file_holds_only_confirmed_numbers():
    data = published.load()
    assert data["version"] >= 1 and "2410.01201" in data["source"]["citation"]
    assert published.paper_speedups()[("mingru", "gru:loop")] == {512: 175.0, 4096: 1324.0}
    by_layers = {(r["model"], r["n_layers"]): r for r in data["selective_copy"]["result"]}
    assert by_layers[("mingru", 3)]["value"] == 99.5 and by_layers[("minlstm", 3)]["plus_minus"] == 2.8
    for layers in (1, 2):  # not confirmed from the paper: listed without a number
        assert "value" not in by_layers[("mingru", layers)] and by_layers[("mingru", layers)]["reason"]


def test_paper_presets_plan_the_papers_settings():
    speed = build_plan(get_preset("paper-speed"), models=PAPER_PRESETS["paper-speed"].models, kinds=("perf",))
    assert {c.seq_len for c in speed} == {64, 128, 256, 512, 1024, 2048, 4096}
    assert {c.batch_size for c in speed} == {64} and {"gru:loop", "lstm:loop", "gru", "mamba"} <= {
        c.model for c in speed
    }
    assert {c.model_config["n_layers"] for c in speed} == {3}
    copy_preset = get_preset("paper-selective-copy")
    copy = build_plan(copy_preset, models=copy_preset.models, kinds=copy_preset.kinds)
    assert sorted({c.model_config["n_layers"] for c in copy}) == [1, 2, 3]
    assert {c.seq_len for c in copy} == {4096} and copy[0].task_params == {"vocab_size": 16, "num_data_tokens": 16}
    assert copy[0].model_config["options"]["expansion"] == 6.0 and copy[0].train_config["eval_every"] > 0


def _run_cells(cells, out):
    context = RunContext(run_id="paper-test", preset="paper-selective-copy-cpu")
    with RecordWriter(out) as writer:
        for one in cells:
            for record in cell_module.run_cell(one, "cpu", context):
                writer.append(record)


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    """CI-size forms of the -cpu presets: the speed preset through the command line at tiny lengths,
    the selective-copying preset's cells with a handful of steps."""
    out = tmp_path_factory.mktemp("paper")
    code = main(
        [
            "run",
            "--preset",
            "paper-speed-cpu",
            "--models",
            "mingru,mingru:log,gru:loop,minlstm,lstm:loop",
            "--perf-seq-lens",
            "16,32",
            "--perf-repeats",
            "1",
            "--isolation",
            "none",
            "--device",
            "cpu",
            "--out",
            str(out / "speed"),
            "--report",
            str(out / "speed.html"),
        ]
    )
    assert code == 0
    code = main(
        [
            "run",
            "--preset",
            "paper-memory-cpu",
            "--models",
            "mingru,gru:loop,mamba",
            "--perf-seq-lens",
            "32",
            "--isolation",
            "none",
            "--device",
            "cpu",
            "--out",
            str(out / "memory"),
            "--report",
            str(out / "memory.html"),
        ]
    )
    assert code == 0
    preset = dataclasses.replace(
        get_preset("paper-selective-copy-cpu"),
        d_model=8,
        train_steps=4,
        eval_every=2,
        warmup_steps=1,
        eval_batches=1,
        eval_batch_size=4,
        batch_size=4,
        task_params={"selective-copy": {"vocab_size": 16, "num_data_tokens": 2}},
        n_layers_grid=(1, 3),
        seq_lens=(8,),
    )
    _run_cells(build_plan(preset, models=("mingru", "mamba"), kinds=("accuracy",)), out / "copy")
    (out / "copy" / "manifest.json").write_text(
        json.dumps({"run_id": "paper-test", "preset": "paper-selective-copy-cpu"})
    )
    return out


def test_speed_preset_report_overlays_the_published_speedups(paper_run):
    html = (paper_run / "speed.html").read_text()
    assert "Paper vs measured" in html and "175x" in html and "1324x" in html and "235x" in html
    assert "not measured here" in html  # T=512 and 4096 did not run at this size
    assert "88%" not in html or "1.88x" in html
    table = paper.speedup_table(analysis.load_results(paper_run / "speed"))
    measured = table.dropna(subset=["measured"])
    assert set(measured["seq_len"]) == {16, 32} and (measured["measured"] > 0).all()


def test_memory_preset_report_has_the_measured_ratios(paper_run):
    html = (paper_run / "memory.html").read_text()
    assert "Memory ratios" in html and "1.88x" in html and "1.56x" in html
    assert "mamba ran reference-torch" in html  # this machine has no mamba_ssm: the row says so
    table = paper.memory_table(analysis.load_results(paper_run / "memory"))
    measured = table.dropna(subset=["measured"])
    assert {("mingru", "gru:loop"), ("mamba", "mingru")} <= set(zip(measured["model"], measured["reference"]))
    assert table.loc[table["model"] == "minlstm", "verdict"].eq("not measured here").all()


def test_selective_copy_report_has_the_tables_and_curves(paper_run):
    path = write_report(paper_run / "copy", paper_run / "copy.html")
    html = path.read_text()
    for published_text in (
        "99.5 ± 0.2",
        "96.0 ± 2.8",
        "18.3",
        "30.1",
        "99.8",
        "no published number",
        "1.548",
        "presets paper-shakespeare, shakespeare-cpu",  # measured in the Real data section of a char-lm run
    ):
        assert published_text in html
    assert "validation accuracy vs training step" in html and "400k vs 4 steps" in html
    table = paper_depth.accuracy_by_layers(analysis.load_results(paper_run / "copy"))
    assert sorted(set(table["n_layers"])) == [1, 3] and table["valid_curve"].map(len).eq(2).all()


def test_verdict_rules():
    assert paper.speedup_verdict(400.0, 175.0) == "agrees" and paper.speedup_verdict(20.0, 175.0) == "disagrees"
    assert paper.memory_verdict(2.0, 1.88) == "agrees" and paper.memory_verdict(0.9, 1.88) == "disagrees"
    assert (
        paper.accuracy_verdict(99.0, 99.5, 0.2) == "agrees" and paper.accuracy_verdict(90.0, 96.0, 2.8) == "disagrees"
    )


def test_other_runs_have_no_paper_section(tmp_path):
    code = main(
        [
            "run",
            "--preset",
            "tiny",
            "--models",
            "mingru",
            "--tasks",
            "mqar",
            "--isolation",
            "none",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "run"),
            "--report",
            str(tmp_path / "r.html"),
        ]
    )
    assert code == 0 and "Paper vs measured" not in (tmp_path / "r.html").read_text()


def test_perf_repeats_below_one_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["run", "--preset", "tiny", "--perf-repeats", "0", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "--perf-repeats must be at least 1" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
