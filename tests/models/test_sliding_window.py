"""Sliding-window attention (``transformer`` with ``window=W``): banded causal attention in the
parallel forward, a ring buffer of W slots when decoding."""

import pytest
import torch

from models.transformer import CausalSelfAttention
from suite.stacks import build_model

VOCAB = 11


def model_of(dtype=torch.float64, seed=0, **options):
    torch.manual_seed(seed)
    return build_model("transformer:sdpa", vocab_size=VOCAB, d_model=16, n_layers=2, **options).to(dtype).eval()


def tokens_of(length, seed=0, batch=2):
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def step_loop(model, tokens):
    state = model.init_state(tokens.shape[0])
    outputs = []
    for t in range(tokens.shape[1]):
        logits, state = model.step(tokens[:, t], state)
        outputs.append(logits)
    return torch.stack(outputs, dim=1), state


def test_window_equal_to_the_length_is_full_attention():
    tokens = tokens_of(19)
    with torch.no_grad():
        full, windowed = model_of()(tokens), model_of(window=19)(tokens)
    torch.testing.assert_close(windowed, full, rtol=1e-12, atol=1e-12)


def test_a_short_window_differs_from_full_attention_past_the_window():
    tokens = tokens_of(19)
    with torch.no_grad():
        full, windowed = model_of()(tokens), model_of(window=4)(tokens)
    torch.testing.assert_close(windowed[:, :4], full[:, :4], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(windowed[:, 4:], full[:, 4:])


@pytest.mark.parametrize("window", [1, 3, 8])
@pytest.mark.parametrize("seq_len", [1, 7, 23])
def test_parallel_forward_equals_step_loop(window, seq_len):
    model, tokens = model_of(window=window), tokens_of(seq_len, seed=seq_len)
    with torch.no_grad():
        parallel = model(tokens)
        stepped, _ = step_loop(model, tokens)
    torch.testing.assert_close(parallel, stepped, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("split", [2, 5, 9, 17])
def test_chunked_state_carry(split):
    model, tokens = model_of(window=5), tokens_of(24, seed=3)
    with torch.no_grad():
        full = model(tokens)
        first, state = model(tokens[:, :split], return_state=True)
        second, state = model(tokens[:, split : split + 3], state=state, return_state=True)
        rest = model(tokens[:, split + 3 :], state=state)
    torch.testing.assert_close(torch.cat([first, second, rest], 1), full, rtol=1e-10, atol=1e-10)


def test_no_causal_leak_and_nothing_seen_beyond_the_window():
    model, tokens = model_of(window=4), tokens_of(30, seed=1)
    changed = tokens.clone()
    changed[:, 20:] = (changed[:, 20:] + 3) % VOCAB
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    torch.testing.assert_close(before[:, :20], after[:, :20], rtol=0, atol=1e-12)
    assert not torch.allclose(before[:, 20:], after[:, 20:])


def test_one_layer_sees_only_the_last_window_tokens():
    torch.manual_seed(0)
    layer = CausalSelfAttention(8, n_heads=2, window=3).double()
    x = torch.randn(1, 12, 8, dtype=torch.float64)
    changed = x.clone()
    changed[:, 5] += 1.0
    with torch.no_grad():
        before, after = layer(x), layer(changed)
    moved = (before - after).abs().amax(dim=-1)[0]
    assert moved[:5].max() == 0 and moved[5:8].min() > 0 and moved[8:].max() == 0


def test_the_decode_cache_stays_window_slots_past_the_window():
    model = model_of(window=6)
    with torch.no_grad():
        _, stepped = step_loop(model, tokens_of(20))
        _, prefilled = model(tokens_of(40), return_state=True)
    for state in (stepped, prefilled):
        assert all(layer["k"].shape[2] == 6 and layer["v"].shape[2] == 6 for layer in state)
    assert [layer["pos"] for layer in stepped] == [20, 20]
    assert model.state_bytes(1, 6) == model.state_bytes(1, 600) == 2 * 2 * 6 * 16 * 4
    assert model_of().state_bytes(1, 600) == 2 * 2 * 600 * 16 * 4


def test_the_backend_names_the_window():
    model = model_of(window=6)
    with torch.no_grad():
        model(tokens_of(9))
    assert model.backend == "sdpa-math+window6"


@pytest.mark.parametrize("window", [0, -3, 2.5, True])
def test_a_window_below_one_is_refused(window):
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        CausalSelfAttention(8, n_heads=2, window=window)
