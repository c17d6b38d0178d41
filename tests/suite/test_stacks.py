"""Mixed stacks (suite.stacks): the syntax, the plan's cells, what records carry, and a run."""

import json

import pytest
import torch

from suite.commands.cli import main
from suite.errors import UsageError
from suite.plan.overrides import apply_overrides, preset_from_file
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset
from suite.stacks import Layer, build_model, parse_stack, spec_family


def test_a_stack_is_read_bottom_first_with_repeats_backends_and_options():
    layers = parse_stack("mingru:log*2+transformer[window=16;n_heads=2]+mamba")
    assert layers == (
        Layer("mingru", "log"),
        Layer("mingru", "log"),
        Layer("transformer", None, {"window": 16, "n_heads": 2}),
        Layer("mamba"),
    )
    assert [layer.text for layer in layers] == ["mingru:log", "mingru:log", "transformer[n_heads=2;window=16]", "mamba"]
    assert spec_family("mingru*3+transformer") == "stack" and spec_family("gru:loop") == "gru"


def test_each_layer_keeps_its_family_backend_and_options():
    model = build_model("mingru:log+transformer:sdpa[window=3]+mingru:linear", vocab_size=11, d_model=16)
    mixers = [block.mixer for block in model.blocks]
    assert [type(mixer).__name__ for mixer in mixers] == ["MinGRU", "CausalSelfAttention", "MinGRU"]
    assert mixers[1].window == 3
    with torch.no_grad():
        model(torch.zeros(1, 5, dtype=torch.long))
    assert model.backend == "log+sdpa-math+window3+linear"
    assert model.layers == ["mingru:log", "transformer:sdpa[window=3]", "mingru:linear"]


def test_state_bytes_is_the_sum_over_layers_with_the_kv_cache_at_that_length():
    hybrid = build_model("mingru*3+transformer", vocab_size=11, d_model=16)
    mingru = build_model("mingru", vocab_size=11, d_model=16, n_layers=3)
    attention = build_model("transformer", vocab_size=11, d_model=16, n_layers=1)
    for length in (10, 1000):
        assert hybrid.state_bytes(1, length) == mingru.state_bytes(1, length) + attention.state_bytes(1, length)
    assert attention.state_bytes(1, 1000) == 100 * attention.state_bytes(1, 10)


def test_the_plan_gives_a_stack_its_layers_its_depth_and_the_presets_family_options():
    preset = get_preset("tiny")
    cells = build_plan(preset, models=["mingru*2+transformer+mingru"], tasks=["mqar"])
    assert {cell.kind for cell in cells} == {"accuracy", "perf"}
    for cell in cells:
        config = cell.architecture
        assert cell.family == "stack" and config.n_layers == 4 and config.backend is None
        assert config.layers == ("mingru", "mingru", "transformer", "mingru")
        assert cell.model_config["layers"] == ["mingru", "mingru", "transformer", "mingru"]
        assert config.options == {"transformer": preset.family_options["transformer"]}
    plain = build_plan(preset, models=["mingru"], tasks=["mqar"])
    assert all("layers" not in cell.model_config for cell in plain)


def test_a_run_records_the_stack_its_layers_and_the_backends_that_ran(tmp_path):
    out = tmp_path / "run"
    spec = "mingru*3+transformer[window=8]"
    assert main(["run", "--preset", "tiny", "--models", spec, "--tasks", "mqar", "--out", str(out), "--no-report"]) == 0
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {record["kind"] for record in records} == {"accuracy", "perf"}
    for record in records:
        assert record["status"] == "ok", record["error"]
        assert record["model"] == spec and record["family"] == "stack"
        assert record["model_config"]["layers"] == ["mingru"] * 3 + ["transformer[window=8]"]
        assert record["backend"] == "linear+linear+linear+sdpa-math+window8"
        assert record["state_bytes"] > 0


def test_a_config_file_and_set_name_stacks(tmp_path):
    config = tmp_path / "hybrid.toml"
    config.write_text('base = "tiny"\nmodels = ["mingru*3+transformer", "transformer[window=4]*2"]\n')
    preset = preset_from_file(config)
    assert preset.models == ("mingru*3+transformer", "transformer[window=4]*2")
    preset = apply_overrides(preset, ["models=mamba+transformer,mingru"])
    cells = build_plan(preset, models=list(preset.models), tasks=["mqar"], kinds=("perf",))
    assert [cell.architecture.layers for cell in cells] == [("mamba", "transformer"), None]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("mingru*3+transfomer", "did you mean 'transformer'"),
        ("mingru+gru:fast", "unknown backend of gru 'fast'"),
        ("mingru*0", "zero layers"),
        ("mingru++transformer", "cannot read layer item 1"),
        ("mingru[window=4]+transformer", "option of mingru 'window'"),
        ("gru[window=3]+transformer", "unknown option of gru 'window'"),
        ("mingru+transformer[window=0]", "window must be an integer >= 1"),
        ("mingru+transformer[widow=4]", "did you mean 'window'"),
    ],
)
def test_a_bad_stack_is_one_usage_error(spec, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        parse_stack(spec)


def test_suite_list_shows_the_syntax_with_examples_that_build(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "mixed stacks (layers bottom first, joined by +" in text
    assert main(["list", "--json"]) == 0
    stacks = json.loads(capsys.readouterr().out)["stacks"]
    assert stacks["examples"] and all(f"--models '{example}'" in text for example in stacks["examples"])
    for example in stacks["examples"]:
        assert len(build_model(example, vocab_size=11, d_model=16).blocks) == 4
