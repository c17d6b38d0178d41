"""The paper presets are valid, registered, and keep the paper's shapes."""

from suite.plan.paper_presets import (
    OFFICIAL_MINGRU,
    OFFICIAL_MINLSTM,
    PAPER_COPY_MODELS,
    PAPER_PRESETS,
    PAPER_SPEED_MODELS,
)
from suite.plan.preset_checks import value_problems
from suite.plan.presets import PRESETS
from suite.registry import parse_spec


def test_each_paper_preset_is_registered_under_its_own_name_and_valid():
    assert PAPER_PRESETS
    for name, preset in PAPER_PRESETS.items():
        assert preset.name == name
        assert PRESETS[name] is preset
        assert value_problems(preset) == []


def test_each_paper_preset_has_a_cpu_variant_sized_for_the_cpu():
    for name, preset in PAPER_PRESETS.items():
        if name.endswith("-cpu"):
            assert preset.device == "cpu"
            assert name.removesuffix("-cpu") in PAPER_PRESETS
        else:
            assert preset.device == "cuda" and f"{name}-cpu" in PAPER_PRESETS


def test_speed_presets_time_every_paper_model_at_the_same_depth():
    for name in ("paper-speed", "paper-speed-cpu"):
        preset = PAPER_PRESETS[name]
        assert preset.models == PAPER_SPEED_MODELS and preset.kinds == ("perf",)
        assert preset.dtype == "float32" and preset.energy
    assert PAPER_PRESETS["paper-speed"].perf_seq_lens[-1] == 4096


def test_copy_presets_use_the_official_cells_on_selective_copy():
    preset = PAPER_PRESETS["paper-selective-copy"]
    assert preset.tasks == ("selective-copy",) and preset.kinds == ("accuracy",)
    assert preset.seq_lens == (4096,) and preset.n_layers_grid == (1, 2, 3) and preset.mlp_mult == 0
    assert preset.family_options["mingru"] == OFFICIAL_MINGRU
    assert preset.family_options["minlstm"] == {**OFFICIAL_MINGRU, "forget_bias": 3.0, "gate_norm": False}
    assert OFFICIAL_MINLSTM["expansion"] == 6.0
    assert preset.models == PAPER_COPY_MODELS


def test_every_paper_model_spec_is_known():
    for spec in (*PAPER_SPEED_MODELS, *PAPER_COPY_MODELS):
        parse_spec(spec)  # raises on an unknown family or backend
