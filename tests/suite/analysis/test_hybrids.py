"""Hybrid stacks in the analysis: a stack's layers and where its attention sits, the pure attention
stack as the control of recall verdicts, state bytes at the scored length, throughput from the perf
cell, the cheapest solver by state and by speed; and the report's Hybrids section from them."""

import json

import pandas as pd
import pytest

from suite.analysis.hybrids import cheapest_solvers, has_hybrids, hybrid_table
from suite.analysis.layers import layer_family, layer_window, layers_of, place_of, plain_family, shape_of
from suite.analysis.run_analysis import analyse
from suite.analysis.tables import load_results
from suite.records.schema import blank_record
from suite.report.html import build_report_html
from suite.report.sections.hybrids import attention_sentences, frontier

STACKS = {  # model -> (layers, accuracy, stop, state bytes at T 64)
    "mingru*4": (["mingru"] * 4, 0.0, "plateau", 2048),
    "transformer*4": (["transformer"] * 4, 0.99, "target", 131072),
    "transformer+mingru*3": (["transformer", "mingru", "mingru", "mingru"], 0.02, "plateau", 34304),
    "mingru*2+transformer+mingru": (["mingru", "mingru", "transformer", "mingru"], 0.995, "target", 34304),
    "mingru*3+transformer": (["mingru", "mingru", "mingru", "transformer"], 0.95, "plateau", 34304),
    "mingru*2+transformer[window=8]+mingru": (
        ["mingru", "mingru", "transformer[window=8]", "mingru"],
        0.30,
        "max_steps",
        5632,
    ),
}


def accuracy_record(model, eval_len=64, seed=0):
    layers, accuracy, stop, state = STACKS[model]
    data = blank_record("accuracy")
    data.update(
        run_id="hybrids",
        cell_key=f"{model}|mqar|{seed}",
        model=model,
        family="stack",
        backend="linear",
        task="mqar",
        task_params={"vocab_size": 8192},
        seq_len=64,
        eval_len=eval_len,
        batch_size=64,
        seed=seed,
        status="ok",
        params=1_200_000,
        state_bytes=state if "window" in model or "transformer" not in model else state * eval_len // 64,
        model_config={"d_model": 64, "n_layers": 4, "layers": layers},
        accuracy=accuracy,
        accuracy_ci_low=max(0.0, accuracy - 0.01),
        accuracy_ci_high=min(1.0, accuracy + 0.01),
        n_scored=1024,
        chance_accuracy=1 / 8192,
        stop_reason=stop,
        still_rising=stop == "max_steps",
        max_steps=3000,
        steps_trained=3000 if stop == "max_steps" else 1200,
        max_steps_key="train_steps",
        patience=8,
        min_delta=0.01,
        best_step=1000,
        best_valid_accuracy=accuracy,
    )
    return data


def perf_record(model, seq_len, tokens_per_s):
    data = blank_record("perf")
    data.update(
        run_id="hybrids",
        cell_key=f"{model}|perf|{seq_len}",
        model=model,
        family="stack",
        seq_len=seq_len,
        batch_size=8,
        status="ok",
        train_tokens_per_s=tokens_per_s,
        model_config={"d_model": 64, "n_layers": 4, "layers": STACKS[model][0]},
    )
    return data


def run_records(tmp_path, records):
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return load_results(tmp_path)


@pytest.fixture
def hybrid_run(tmp_path):
    records = [accuracy_record(model, eval_len) for model in STACKS for eval_len in (64, 256)]
    records += [perf_record(model, 64, 1000.0 * (i + 1)) for i, model in enumerate(STACKS)]
    return run_records(tmp_path, records)


def test_layers_are_read_from_the_records_as_stacks_write_them():
    assert layer_family("transformer:sdpa[window=16]") == "transformer" and layer_window("transformer[window=16]") == 16
    assert layer_window("mingru") is None and layer_family("mingru:log") == "mingru"
    assert layers_of({"family": "gru", "model_config": {"n_layers": 2}}) == ["gru", "gru"]
    assert (
        layers_of({"family": "transformer", "model_config": {"n_layers": 2, "options": {"window": 4}}})
        == ["transformer[window=4]"] * 2
    )
    assert [place_of([p], 4) for p in range(4)] == ["bottom", "middle (1)", "middle (2)", "top"]
    assert place_of([], 4) == "none" and place_of([0, 1, 2, 3], 4) == "all" and place_of([1, 3], 4) == "1, 3"
    shape = shape_of(["mingru", "transformer[window=8]", "mingru", "transformer"])
    assert (shape["n_attention"], shape["attention_at"], shape["windows"], shape["other_family"]) == (
        2,
        "1, 3",
        "8",
        "mingru",
    )


def test_a_uniform_stack_counts_as_its_family_and_a_mixed_or_windowed_one_does_not():
    assert plain_family({"family": "stack", "model_config": {"layers": ["transformer"] * 4}}) == "transformer"
    assert plain_family({"family": "stack", "model_config": {"layers": ["transformer[window=8]"] * 4}}) == "stack"
    assert plain_family({"family": "stack", "model_config": {"layers": ["mingru", "transformer"]}}) == "stack"
    assert plain_family({"family": "mingru", "model_config": {"n_layers": 2}}) == "mingru"


def test_the_pure_attention_stack_is_the_control_of_the_hybrids_verdicts(hybrid_run):
    analysis = analyse(hybrid_run, {})
    rows = {r["model"]: r for _, r in analysis.hybrids[analysis.hybrids["eval_len"] == 64].iterrows()}
    assert rows["mingru*4"]["verdict"] == "fails (plateaued; control solves)"  # control: transformer*4
    assert rows["mingru*2+transformer+mingru"]["verdict"] == "solved"
    assert rows["mingru*2+transformer[window=8]+mingru"]["verdict"].startswith("undertrained")
    bottom = rows["transformer+mingru*3"]
    assert (bottom["n_attention"], bottom["attention_at"], bottom["other_family"]) == (1, "bottom", "mingru")


def test_state_bytes_are_at_the_scored_length_and_throughput_from_the_perf_cell(hybrid_run):
    table = hybrid_table(hybrid_run, analyse(hybrid_run, {}).outcomes)
    state = {(r["model"], r["eval_len"]): r["state_bytes"] for _, r in table.iterrows()}
    assert state[("transformer*4", 256)] == 4 * state[("transformer*4", 64)]  # the KV cache grows with T
    assert state[("mingru*2+transformer[window=8]+mingru", 256)] == 5632  # a window's does not
    assert state[("mingru*4", 256)] == state[("mingru*4", 64)] == 2048
    speed = {r["model"]: r["train_tokens_per_s"] for _, r in table.iterrows()}
    assert speed["mingru*4"] == 1000.0 and speed["transformer*4"] == 2000.0
    assert set(table["throughput_seq_len"]) == {64.0}


def test_the_cheapest_solver_by_state_and_by_speed(hybrid_run):
    table = hybrid_table(hybrid_run, analyse(hybrid_run, {}).outcomes)
    (entry,) = cheapest_solvers(table).to_dict("records")
    assert entry["n_solved"] == 3  # transformer*4, attention in the middle, attention on top
    assert entry["least_state"] == "mingru*2+transformer+mingru" and entry["least_state_bytes"] == 34304
    assert entry["fastest"] == "mingru*3+transformer" and entry["fastest_tokens_per_s"] == 5000.0
    nothing = cheapest_solvers(table[table["model"] == "mingru*4"]).to_dict("records")[0]
    assert nothing["n_solved"] == 0 and nothing["least_state"] is None


def test_a_run_without_a_mixed_stack_has_no_hybrids(tmp_path):
    plain = accuracy_record("mingru*4")
    plain.update(model="mingru", family="mingru", model_config={"d_model": 64, "n_layers": 2})
    records = run_records(tmp_path, [plain])
    assert not has_hybrids(records) and analyse(records, {}).hybrids.empty
    assert 'id="hybrids"' not in build_report_html(records, {})


def test_the_report_says_where_one_attention_layer_solves_recall_and_draws_the_frontier(hybrid_run):
    page = build_report_html(hybrid_run, {"run_id": "hybrids"})
    assert 'id="hybrids"' in page and "data:image/png;base64" in page
    analysis = analyse(hybrid_run, {})
    at_train = analysis.hybrids[analysis.hybrids["eval_len"] == 64]
    (one, window, *_) = attention_sentences(at_train)
    assert one.startswith("mingru with one full attention layer of 4 solves it at the middle (2) (0.995)")
    assert "not at bottom (0.020)" in one and "pure mingru: 0.000" in one
    assert "window 8 at middle (2): 0.300 (undertrained)" in window
    assert "Cheapest solver by decode state: mingru*2+transformer+mingru (33.5 KiB)" in page
    front = frontier(at_train)
    assert list(front["model"]) == ["mingru*4", "mingru*2+transformer[window=8]+mingru", "mingru*2+transformer+mingru"]


def test_one_place_tried_is_said_as_one():
    rows = pd.DataFrame(
        [
            {
                "other_family": "mamba",
                "windows": "",
                "n_attention": 1,
                "n_layers": 4,
                "attention_at": "middle (2)",
                "accuracy": 0.98,
                "verdict": "solved",
            }
        ]
    )
    assert attention_sentences(rows) == [
        "mamba with one full attention layer of 4 solves it at the only place tried, middle (2) (0.980)."
    ]
