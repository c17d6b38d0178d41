"""``--set key=value`` and ``--config FILE.toml``: preset fields changed without Python, type
checked, with "did you mean" for an unknown field, and recorded so --resume and compare see them."""

import dataclasses
import json

import pytest

from suite.commands.cli import main
from suite.errors import UsageError
from suite.plan.overrides import apply_overrides, preset_from_file
from suite.paths import REPO_ROOT
from suite.plan.presets import Preset, get_preset
from suite.records.store import read_manifest, read_records

TINY_MQAR = ["run", "--preset", "tiny", "--models", "mingru", "--tasks", "mqar", "--kinds", "accuracy", "--no-report"]


def test_set_changes_fields_and_dotted_paths_with_their_types():
    preset = apply_overrides(
        get_preset("tiny"),
        [
            "train_steps=3",
            "lr=1e-2",
            "seq_lens=32,64",
            "tf32=true",
            "task_params.mqar.num_kv_pairs=3",
            "family_lr.mamba=0.01",
            "target_accuracy=0.9",
            "dtype=float32",
        ],
    )
    assert (preset.train_steps, preset.lr, preset.seq_lens, preset.tf32) == (3, 0.01, (32, 64), True)
    assert preset.task_params["mqar"] == {"vocab_size": 32, "num_kv_pairs": 3}
    assert preset.family_lr == {"mamba": 0.01} and preset.target_accuracy == 0.9 and preset.dtype == "float32"
    assert get_preset("tiny").task_params["mqar"]["num_kv_pairs"] == 2  # the preset itself is untouched


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("train_stpes=3", "did you mean 'train_steps'"),
        ("nosuchkey=1", "unknown --set field 'nosuchkey'"),
        ("train_steps=abc", "takes an integer, got 'abc'"),
        ("train_steps=true", "takes an integer"),
        ("lr=fast", "takes a number"),
        ("seq_lens=32,64x", "takes a list of integers"),
        ("task_params=3", "takes a table"),
        ("train_steps.x=3", "is not a table"),
        ("task_params.mqar.num_kv_pairs=many", "holds int values"),
        ("d_model", "write key=value"),
    ],
)
def test_a_bad_set_is_one_usage_error(assignment, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides(get_preset("tiny"), [assignment])


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("lr=-1", "--set lr=-1: lr must be a positive, finite number, got -1.0"),
        ("lr=nan", "lr must be a positive, finite number"),
        ("lr=inf", "lr must be a positive, finite number"),
        ("grad_clip=0", "grad_clip must be a positive"),
        ("weight_decay=-0.1", "weight_decay must be a finite number >= 0"),
        ("train_steps=0", "train_steps must be an integer >= 1"),
        ("max_steps=-5", "train_steps must be an integer >= 1"),
        ("batch_size=0", "batch_size must be an integer >= 1"),
        ("d_model=0", "d_model must be an integer >= 1"),
        ("patience=-1", "patience must be an integer >= 0"),
        ("warmup_steps=-1", "warmup_steps must be an integer >= 0"),
        ("seq_lens=0,64", "seq_lens must hold integers >= 1"),
        ("eval_len_multiples=0", "eval_len_multiples must hold positive numbers"),
        ("perf_vocab_size=1", "perf_vocab_size must be an integer >= 2"),
        ("family_lr.mingru=0", "family_lr.mingru must be a positive"),
        ("task_train.mqar.train_steps=0", "task_train.mqar.train_steps must be an integer >= 1"),
        ("task_train.mqar.steps=3", "task_train.mqar takes train_steps and batch_size"),
        ("target_accuracy=1.5", "target_accuracy must be in (0, 1]"),
        ("time_limit_s=0", "time_limit_s must be a positive number of seconds"),
        ("time_budget_s=-5", "time_limit_s must be a positive number of seconds"),
        ("cell_timeout_s=0", "cell_timeout_s must be a positive"),
        ("dtype=fp8", "dtype must be one of auto, float32, bfloat16-autocast"),
    ],
)
def test_a_value_no_run_can_use_is_one_usage_error_naming_the_field(assignment, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        apply_overrides(get_preset("smoke"), [assignment])


def test_a_bad_value_exits_2_in_one_line_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY_MQAR, "--set", "lr=-1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --set lr=-1: lr must be a positive") and len(err.strip().splitlines()) == 1
    assert not out.exists()
    config = tmp_path / "bad.toml"
    config.write_text('base = "tiny"\nbatch_size = 0\n')
    assert (
        main(
            [
                "run",
                "--config",
                str(config),
                "--models",
                "mingru",
                "--tasks",
                "mqar",
                "--kinds",
                "accuracy",
                "--no-report",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "batch_size must be an integer >= 1" in capsys.readouterr().err and not out.exists()


def test_set_runs_is_recorded_and_reaches_the_cell_keys(tmp_path):
    plain, changed = tmp_path / "plain", tmp_path / "changed"
    assert main([*TINY_MQAR, "--out", str(plain)]) == 0
    assert main([*TINY_MQAR, "--set", "train_steps=3", "--out", str(changed)]) == 0
    manifest = read_manifest(changed)
    assert manifest["options"]["overrides"] == ["train_steps=3"] and manifest["preset_config"]["train_steps"] == 3
    [before], [after] = read_records(plain), read_records(changed)
    assert after["train_config"]["steps"] == 3 and after["cell_key"] != before["cell_key"]
    assert main([*TINY_MQAR, "--resume", "--out", str(changed)]) == 0  # the same --set again, from the manifest
    assert len(read_records(changed)) == 1
    assert main([*TINY_MQAR, "--resume", "--set", "train_steps=4", "--out", str(changed)]) == 2


def test_set_with_an_unknown_field_exits_2_in_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY_MQAR, "--set", "nosuchkey=1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown --set field 'nosuchkey'" in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_config_defines_a_preset_from_a_file_and_runs(tmp_path):
    config = tmp_path / "mine.toml"
    config.write_text(
        'base = "tiny"\ntrain_steps = 3\nseq_lens = [32, 48]\n\n[task_params.mqar]\nvocab_size = 32\nnum_kv_pairs = 3\n'
    )
    preset = preset_from_file(config)
    assert (preset.name, preset.train_steps, preset.seq_lens, preset.d_model) == ("mine", 3, (32, 48), 16)
    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                "--config",
                str(config),
                "--models",
                "mingru",
                "--tasks",
                "mqar",
                "--kinds",
                "accuracy",
                "--no-report",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert sorted(r["seq_len"] for r in read_records(out)) == [32, 48]
    assert json.loads((out / "manifest.json").read_text())["preset"] == "mine"


@pytest.mark.parametrize(
    "text, message",
    [
        ('base = "tinny"\n', "did you mean 'tiny'"),
        ("train_stepz = 3\n", "did you mean 'train_steps'"),
        ("train_steps = 'many'\n", "takes an integer"),
        ("train_steps = \n", "is not valid TOML"),
    ],
)
def test_a_bad_config_is_one_usage_error(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(UsageError, match=message):
        preset_from_file(config)


def test_config_and_preset_together_are_refused(tmp_path, capsys):
    config = tmp_path / "mine.toml"
    config.write_text('base = "tiny"\n')
    assert main(["run", "--config", str(config), "--preset", "tiny", "--out", str(tmp_path / "run")]) == 2
    assert "give --config or --preset, not both" in capsys.readouterr().err


def test_fields_live_in_groups_and_keep_their_flat_names():
    preset = apply_overrides(
        get_preset("tiny"), ["training.lr=0.02", "stopping.patience=3", "perf.perf_repeats=4", "max_steps=7"]
    )
    assert (preset.training.lr, preset.stopping.patience, preset.perf.perf_repeats) == (0.02, 3, 4)
    assert (preset.lr, preset.patience, preset.train_steps) == (0.02, 3, 7)  # flat names read the groups
    assert dataclasses.replace(preset, d_model=24).model.d_model == 24 and preset.model.d_model == 16
    with pytest.raises(UsageError, match="did you mean 'lr'"):
        apply_overrides(preset, ["training.lrr=1"])
    with pytest.raises(TypeError, match="unknown fields: widht"):
        Preset(name="x", description="", widht=3)


def test_a_config_file_may_group_its_fields_in_tables(tmp_path):
    path = tmp_path / "grouped.toml"
    path.write_text('base = "tiny"\ntrain_steps = 5\n[stopping]\npatience = 2\n[model]\nd_model = 24\n')
    preset = preset_from_file(path)
    assert (preset.name, preset.train_steps, preset.patience, preset.d_model) == ("grouped", 5, 2, 24)


def test_manifests_written_before_the_groups_match_the_grouped_preset():
    """An older run's ``preset_config`` (flat, as the manifest keeps it) is what ``as_dict`` gives
    now, so ``--resume`` of that run does not see a changed preset."""
    manifest = read_manifest(REPO_ROOT / "results/baselines/cpu-smoke")
    current = json.loads(json.dumps(get_preset("smoke").as_dict()))
    stored = manifest["preset_config"]
    assert set(stored) <= set(current)
    assert {name: current[name] for name in stored} == stored
