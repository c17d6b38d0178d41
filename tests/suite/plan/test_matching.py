"""``--match params`` picks the width whose parameter count is nearest the transformer's."""

import pytest

from suite.errors import UsageError
from suite.plan.matching import REFERENCE_FAMILY, TOLERANCE, WIDTH_STEP, matched_d_model, param_count
from suite.plan.preset_groups import Preset

PRESET = Preset(name="p", description="d", n_layers=1, mlp_mult=1, family_options={"transformer": {"n_heads": 2}})
VOCAB = 16


def count(family, d_model):
    options = tuple(sorted(PRESET.family_options.get(family, {}).items()))
    return param_count(family, VOCAB, d_model, PRESET.n_layers, PRESET.mlp_mult, options)


def test_the_reference_keeps_its_width():
    assert matched_d_model(REFERENCE_FAMILY, PRESET, VOCAB, 16) == 16


def test_counts_grow_with_the_width():
    assert count("gru", 8) < count("gru", 16) < count("gru", 32)


@pytest.mark.parametrize("spec", ["gru", "lstm", "mingru"])
def test_a_matched_family_comes_within_tolerance_and_nearest(spec):
    target = count(REFERENCE_FAMILY, 16)
    width = matched_d_model(spec, PRESET, VOCAB, 16)
    assert width % WIDTH_STEP == 0
    assert abs(count(spec.partition(":")[0], width) - target) <= TOLERANCE * target
    for neighbour in (width - WIDTH_STEP, width + WIDTH_STEP):  # no even neighbour is closer
        assert abs(count(spec, neighbour) - target) >= abs(count(spec, width) - target)


def test_lstm_is_matched_narrower_than_the_transformer():
    # an LSTM layer holds 8·d² weights, attention plus its feed-forward fewer at mlp_mult 1
    assert matched_d_model("lstm", PRESET, VOCAB, 32) < 32


def test_an_unbuildable_reference_is_a_usage_error():
    with pytest.raises(UsageError, match="cannot be built at d_model 15"):
        matched_d_model("gru", PRESET, VOCAB, 15)  # 15 is not divisible by 2 heads
