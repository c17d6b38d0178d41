"""Typed cells keep the keys of every earlier run: each kind's canonical dict is the one the untyped
cell hashed, so committed examples, baselines and resumed runs still find their cells."""

import dataclasses
import hashlib
import json
import pickle
from pathlib import Path

import pytest

from suite.paths import REPO_ROOT
from suite.plan.cells import AccuracyCell, MaxLenCell, PerfCell, SpeedCell, SpeedTiming, SubjectConfig
from suite.plan.overrides import apply_overrides
from suite.plan.planning import boundary_cell, build_plan, probe_cell
from suite.plan.presets import get_preset, resolve_dtype


def untyped_key(kind, model, task, seq_len, batch_size, seed, task_params, model_config, train_config) -> str:
    """The key as the untyped cell made it: sha256 of the JSON of its nine fields, first 16 digits."""
    fields = dict(
        kind=kind,
        model=model,
        task=task,
        seq_len=seq_len,
        batch_size=batch_size,
        seed=seed,
        task_params=task_params,
        model_config=model_config,
        train_config=train_config,
    )
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def untyped_model_config(preset, spec, vocab_size, d_model=None, match="width", reference=None, n_layers=None):
    """The model dict the untyped planner wrote (a copy of its rules, to check the typed one against)."""
    config = {
        "vocab_size": vocab_size,
        "d_model": d_model or preset.d_model,
        "n_layers": n_layers or preset.n_layers,
        "mlp_mult": preset.mlp_mult,
        "options": dict(preset.family_options.get(spec.partition(":")[0], {})),
    }
    if match != "width":
        config.update(param_match=match, reference_d_model=reference)
    return config


def untyped_train_config(preset, family, task, device, eval_lens, lrs) -> dict:
    budget = "task_train." + task + ".train_steps" if "train_steps" in preset.task_train.get(task, {}) else None
    config = {
        "steps": preset.steps_for(task),
        "lr": preset.lr_for(family),
        "weight_decay": preset.weight_decay,
        "warmup_steps": preset.warmup_steps,
        "grad_clip": preset.grad_clip,
        "eval_batches": preset.eval_batches,
        "eval_batch_size": preset.eval_batch_size,
        "dtype": resolve_dtype(preset.dtype, device),
        "optimizer": "AdamW",
        "schedule": preset.lr_schedule,
        "eval_every": int(preset.eval_every),
        "curve_batches": int(preset.curve_batches),
        "patience": int(preset.patience),
        "min_delta": float(preset.min_delta),
        "target_accuracy": None if preset.target_accuracy is None else float(preset.target_accuracy),
        "max_steps_key": budget or "train_steps",
    }
    if preset.time_limit_s is not None:
        config["time_limit_s"] = float(preset.time_limit_s)
    if preset.tf32:
        config["tf32"] = True
    if eval_lens:
        config["eval_lens"] = [int(length) for length in eval_lens]
    if lrs:
        config["lr_sweep"] = [float(rate) for rate in lrs]
    return config


def untyped_perf_config(preset, device) -> dict:
    config = {
        "warmup": preset.perf_warmup,
        "repeats": preset.perf_repeats,
        "decode_tokens": preset.decode_tokens,
        "lr": preset.lr,
        "dtype": resolve_dtype(preset.dtype, device),
        "optimizer": "AdamW",
    }
    if preset.perf_min_time_s > 0:
        config["min_time_s"] = float(preset.perf_min_time_s)
    if preset.tf32:
        config["tf32"] = True
    if preset.energy:
        config.update(energy=True, energy_seq_lens=[int(length) for length in preset.energy_seq_lens])
    return config


def untyped_key_of(cell, preset, device, lrs=None) -> str:
    """What the untyped planner keyed this cell as, from the run's choices (not from the typed dicts)."""
    spec = cell.model
    if isinstance(cell, AccuracyCell):
        arch = cell.architecture
        model = untyped_model_config(
            preset, spec, arch.vocab_size, arch.d_model, arch.param_match or "width", arch.reference_d_model
        )
        model["n_layers"] = arch.n_layers  # the depth sweep's value (n_layers_grid)
        train = untyped_train_config(preset, cell.family, cell.task, device, cell.training.eval_lens, lrs)
        params = cell.task_params
        return untyped_key("accuracy", spec, cell.task, cell.seq_len, cell.batch_size, cell.seed, params, model, train)
    model = untyped_model_config(preset, spec, preset.perf_vocab_size)
    params = {"vocab_size": preset.perf_vocab_size}
    train = untyped_perf_config(preset, device)
    return untyped_key("perf", spec, None, cell.seq_len, preset.perf_batch_size, cell.seed, params, model, train)


PLANS = [
    ("cpu", [], {}),
    ("cpu", [], dict(eval_lens=[64, 128], lrs=[1e-3, 3e-3], seeds=(0, 1))),
    ("cpu", [], dict(match="params", kinds=("accuracy",))),
    ("cpu", ["tf32=true", "time_limit_s=600", "task_train.mqar.train_steps=300"], dict(device="cuda:0")),
    ("recall-sweep", [], {}),  # task_param_grid and d_models
    ("paper-selective-copy-cpu", [], {}),  # n_layers_grid, family options
    ("paper-speed-cpu", [], {}),  # energy, perf only
    ("smoke", ["lr=1", "mlp_mult=4"], {}),  # an integer rate stays an integer in the key
    ("cpu", ["target_loss=1.5", "recall_ngram=5"], {}),  # language-model settings leave synthetic keys alone
]


@pytest.mark.parametrize("name, overrides, choices", PLANS)
def test_typed_keys_equal_the_untyped_formula(name, overrides, choices):
    preset = apply_overrides(get_preset(name), overrides)
    cells = build_plan(preset, **choices)
    assert cells and len({c.key for c in cells}) == len(cells)
    device = choices.get("device", "cpu")
    for cell in cells:
        assert cell.key == untyped_key_of(cell, preset, device, choices.get("lrs")), cell.label()


def test_max_len_and_speed_cells_keep_their_untyped_keys():
    preset = get_preset("tiny")
    probe = probe_cell(preset, "mingru", 64, 0, "cpu")
    timing = {**untyped_perf_config(preset, "cpu"), "warmup": 1, "repeats": 1, "decode_tokens": 2, "probe": "max_len"}
    model = untyped_model_config(preset, "mingru", preset.perf_vocab_size)
    params = {"vocab_size": preset.perf_vocab_size}
    assert isinstance(probe, PerfCell)
    assert probe.key == untyped_key("perf", "mingru", None, 64, preset.perf_batch_size, 0, params, model, timing)
    boundary = boundary_cell(preset, "mingru", 0, 32, 256, None, "cpu")
    search = {**untyped_perf_config(preset, "cpu"), "start_len": 32, "limit_len": 256, "mem_limit_bytes": None}
    assert isinstance(boundary, MaxLenCell)
    assert boundary.key == untyped_key("max_len", "mingru", None, 0, preset.perf_batch_size, 0, params, model, search)

    config = {"d_model": 64, "n_layers": 2, "vocab_size": 256, "options": {}, "scope": "model"}
    timing = SpeedTiming("float32", 1, 5, 0.2)
    speed = SpeedCell("mingru", "model", SubjectConfig.from_dict(config), 128, 8, 0, timing)
    settings = {"dtype": "float32", "warmup": 1, "repeats": 5, "min_time_s": 0.2, "interleaved": True}
    train = {"scope": "model", "step": "forward+loss+backward", **settings}
    assert speed.key == untyped_key("speed", "mingru", None, 128, 8, 0, {"vocab_size": 256}, config, train)
    failed = SpeedCell("mingru:triton", "scan", SubjectConfig.from_dict({"scope": "scan"}), 128, 8, 0, timing)
    train = {"scope": "scan", "step": "forward", **settings}
    assert failed.key == untyped_key("speed", "mingru:triton", None, 128, 8, 0, {}, {"scope": "scan"}, train)
    with pytest.raises(ValueError, match="unknown speed subject config keys: widht"):
        SubjectConfig.from_dict({"scope": "scan", "widht": 3})


def committed_runs():
    """Committed runs made since early stopping entered the key (older ones predate it: their keys
    were already not the plan's before cells were typed)."""
    return [
        REPO_ROOT / "reports/examples" / name for name in ("cpu-default", "paper-speed-cpu", "paper-memory-cpu")
    ] + [REPO_ROOT / "results/baselines/cpu-smoke"]


@pytest.mark.parametrize("run_dir", committed_runs(), ids=lambda path: path.name)
def test_replanning_a_committed_run_finds_every_recorded_cell(run_dir: Path):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    options = manifest["options"]
    preset = apply_overrides(get_preset(manifest["preset"]), options.get("overrides"))
    cells = build_plan(
        preset,
        models=options["models"],
        tasks=options.get("tasks"),
        seq_lens=options.get("seq_lens"),
        perf_seq_lens=options.get("perf_seq_lens"),
        seeds=options["seeds"],
        kinds=options["kinds"],
        device=manifest["environment"]["device"],
        eval_lens=options.get("eval_lens"),
        lrs=options.get("lrs"),
        match=options.get("match", "width"),
    )
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    recorded = {json.loads(line)["cell_key"] for line in lines if line.strip()}
    assert recorded and recorded <= {cell.key for cell in cells}


def test_cells_are_plain_picklable_data_with_the_common_attributes():
    cells = build_plan(get_preset("tiny"), models=["mingru"], tasks=["mqar"], eval_lens=[32, 64])
    accuracy, perf = cells[0], cells[-1]
    for cell in (accuracy, perf):
        again = pickle.loads(pickle.dumps(cell))
        assert again == cell and again.key == cell.key
    assert (accuracy.kind, accuracy.model, accuracy.family, accuracy.task) == ("accuracy", "mingru", "mingru", "mqar")
    assert accuracy.eval_lens == [32, 64] and accuracy.training.eval_lens == (32, 64)
    assert accuracy.model_config == accuracy.architecture.record_dict()  # what records carry
    assert (perf.kind, perf.task, perf.task_params) == ("perf", None, {"vocab_size": 32})
    assert accuracy.label() == "mingru mqar T=32 seed=0" and perf.label() == "mingru perf T=32 seed=0"
    with pytest.raises(dataclasses.FrozenInstanceError):
        accuracy.seed = 1
    layered = dataclasses.replace(accuracy.architecture, layers=("mingru", "transformer"))
    assert layered.record_dict()["layers"] == ["mingru", "transformer"]  # a mixed stack enters the key
    assert "layers" not in accuracy.model_config  # a uniform stack does not, so old keys stand
