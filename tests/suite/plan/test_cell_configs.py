"""The typed cell configurations give the dicts records store: unused optional entries left out."""

import pytest

from suite.plan.cell_configs import (
    REQUIRED_TRAIN_FIELDS,
    ModelConfig,
    SubjectConfig,
    TimingConfig,
    TrainConfig,
)


def test_model_config_splits_its_spec_and_leaves_out_unset_entries():
    model = ModelConfig(spec="mingru:log", vocab_size=16, d_model=8, n_layers=2, mlp_mult=2, options={"bias": True})
    assert (model.family, model.backend) == ("mingru", "log")
    assert ModelConfig("gru", 16, 8, 1, 2).backend is None
    config = model.record_dict()
    assert config == {"vocab_size": 16, "d_model": 8, "n_layers": 2, "mlp_mult": 2, "options": {"bias": True}}
    config["options"]["bias"] = False  # a copy: the frozen config keeps its options
    assert model.options == {"bias": True}


def test_model_config_adds_param_match_and_layers_when_set():
    model = ModelConfig("gru", 16, 10, 2, 2, param_match="params", reference_d_model=8, layers=("gru", "mingru"))
    config = model.record_dict()
    assert config["param_match"] == "params" and config["reference_d_model"] == 8
    assert config["layers"] == ["gru", "mingru"]


def test_train_config_holds_every_required_field_and_optional_ones_only_when_set():
    base = dict(steps=10, lr=1e-3, weight_decay=0.1, warmup_steps=2, grad_clip=1.0, eval_batches=1, eval_batch_size=4)
    plain = TrainConfig(**base, dtype="float32").record_dict()
    assert list(plain) == list(REQUIRED_TRAIN_FIELDS)
    assert plain["schedule"] == "cosine" and plain["target_accuracy"] is None
    full = TrainConfig(**base, dtype="float32", time_limit_s=5.0, tf32=True, eval_lens=(8, 16), lr_sweep=(1e-3, 1e-2))
    extra = {key: value for key, value in full.record_dict().items() if key not in REQUIRED_TRAIN_FIELDS}
    assert extra == {"time_limit_s": 5.0, "tf32": True, "eval_lens": [8, 16], "lr_sweep": [1e-3, 1e-2]}


def test_timing_config_adds_energy_and_probe_only_when_asked():
    timing = TimingConfig(warmup=1, repeats=3, decode_tokens=4, lr=1e-3, dtype="float32")
    assert timing.record_dict() == {
        "warmup": 1,
        "repeats": 3,
        "decode_tokens": 4,
        "lr": 1e-3,
        "dtype": "float32",
        "optimizer": "AdamW",
    }
    asked = TimingConfig(1, 3, 4, 1e-3, "float32", min_time_s=0.1, energy=True, energy_seq_lens=(64,), probe="p")
    config = asked.record_dict()
    assert config["min_time_s"] == 0.1 and config["energy"] is True and config["energy_seq_lens"] == [64]
    assert config["probe"] == "p" and "tf32" not in config


def test_subject_config_from_dict_refuses_unknown_keys_and_drops_none():
    subject = SubjectConfig.from_dict({"scope": "mixer", "d_model": 8, "n_layers": 1})
    assert subject.record_dict() == {"scope": "mixer", "d_model": 8, "n_layers": 1}
    with pytest.raises(ValueError, match="unknown speed subject config keys: colour, size"):
        SubjectConfig.from_dict({"scope": "scan", "size": 1, "colour": "red"})
