"""GRU/LSTM backends against each other, RoPE's defining properties, and the
transformer's attention and KV cache against a naive reference (tiny shapes)."""

import math

import pytest
import torch

from models import rnn, transformer
from models.transformer import CausalSelfAttention, rotary
from suite.registry import BackendUnavailable, build_model

F64 = torch.float64


def random(*shape, seed=0):
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


# --- GRU / LSTM ---------------------------------------------------------------


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("hidden", [None, 6])
def test_native_equals_loop_with_the_same_weights(cell, hidden):
    torch.manual_seed(0)
    native = rnn.RecurrentMixer(cell, 8, hidden=hidden, backend="native").to(F64)
    loop = rnn.RecurrentMixer(cell, 8, hidden=hidden, backend="loop").to(F64)
    with torch.no_grad():  # nn.GRU's layer 0 and nn.GRUCell share names up to the "_l0" suffix
        for name, parameter in loop.cell.named_parameters():
            parameter.copy_(getattr(native.rnn, f"{name}_l0"))
        if hidden is not None:
            loop.to_out.weight.copy_(native.to_out.weight)
        x = random(3, 13, 8)
        y_native, state_native = native(x, return_state=True)
        y_loop, state_loop = loop(x, return_state=True)
        step_native, _ = native.step(x[:, 0], native.init_state(3))
    torch.testing.assert_close(y_native, y_loop, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(state_native, state_loop, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(step_native, y_loop[:, 0], rtol=1e-10, atol=1e-10)
    assert native.backend == "native-cpu" and loop.backend == "loop"
    assert native.state_elements(100) == (hidden or 8) * (1 if cell == "gru" else 2)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_loop_gradients_match_native_and_its_backward_is_linear_in_length(cell):
    """The loop's input gradient equals nn.GRU/nn.LSTM's; and its backward graph holds one
    gradient-carrying node per step that writes only its own slice (x.unbind, not x[:, t]:
    indexing's backward writes a full [B, T, D] zero gradient per step, O(T^2))."""
    torch.manual_seed(0)
    native = rnn.RecurrentMixer(cell, 8, backend="native").to(F64)
    loop = rnn.RecurrentMixer(cell, 8, backend="loop").to(F64)
    with torch.no_grad():
        for name, parameter in loop.cell.named_parameters():
            parameter.copy_(getattr(native.rnn, f"{name}_l0"))
    grads = []
    for mixer in (native, loop):
        x = random(2, 9, 8).requires_grad_()
        mixer(x).square().sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-10)
    x = random(2, 9, 8).requires_grad_()
    names, seen = set(), set()
    pending = [loop(x).grad_fn]
    while pending:  # every node of the backward graph once (paths through it multiply with T)
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        pending.extend(next_node for next_node, _ in node.next_functions if next_node is not None)
    assert "UnbindBackward0" in names and "SelectBackward0" not in names


def test_rnn_backend_names_the_dtype_autocast_ran_it_in():
    mixer = rnn.RecurrentMixer("lstm", 8, backend="native")
    assert mixer.backend == "native-cpu"
    with torch.autocast("cpu", dtype=torch.bfloat16):  # CPU autocast casts nn.LSTM to bfloat16
        out = mixer(torch.randn(2, 5, 8))
    assert out.dtype == torch.bfloat16 and mixer.backend == "native-cpu-bfloat16"
    mixer(torch.randn(2, 5, 8))
    assert mixer.backend == "native-cpu"


# --- RoPE ---------------------------------------------------------------------


def test_rotary_at_position_zero_is_identity():
    x = random(2, 3, 1, 8)
    torch.testing.assert_close(rotary(x, torch.tensor([0])), x, rtol=0, atol=0)


def test_rotary_scores_depend_only_on_the_position_difference():
    q, k = random(8, seed=1), random(8, seed=2)

    def score(m, n):
        return (rotary(q[None], torch.tensor([m])) * rotary(k[None], torch.tensor([n]))).sum()

    for offset in [0, 1, 5, -3]:
        reference = score(10 + offset, 10)
        for m in [3 + offset, 40 + offset, 1000 + offset]:
            torch.testing.assert_close(score(m, m - offset), reference, rtol=1e-10, atol=1e-10)
    assert not torch.isclose(score(4, 0), score(5, 0))  # and it does depend on the difference


# --- attention ----------------------------------------------------------------


def naive_attention(mixer: CausalSelfAttention, x):
    """Masked softmax attention written out, positions 0..T-1."""
    batch, length, dim = x.shape
    heads, head_dim = mixer.n_heads, mixer.head_dim
    q, k, v = (x @ mixer.to_qkv.weight.T).split(dim, dim=-1)
    q, k, v = (t.view(batch, length, heads, head_dim).transpose(1, 2) for t in (q, k, v))
    positions = torch.arange(length)
    q, k = rotary(q, positions), rotary(k, positions)
    scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim)
    scores = scores.masked_fill(~torch.ones(length, length, dtype=torch.bool).tril(), float("-inf"))
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, dim)
    return y @ mixer.to_out.weight.T


def attention(seed=0, max_seq_len=64):
    torch.manual_seed(seed)
    return CausalSelfAttention(32, n_heads=4, max_seq_len=max_seq_len).to(F64)


@pytest.mark.parametrize("kernel", ["flash", "math"])
def test_sdpa_equals_naive_attention(kernel, monkeypatch):
    monkeypatch.setattr(transformer, "prefill_kernel", lambda device, dtype, head_dim: kernel)
    mixer, x = attention(), random(2, 19, 32)
    with torch.no_grad():
        torch.testing.assert_close(mixer(x), naive_attention(mixer, x), rtol=1e-10, atol=1e-10)
    assert mixer.backend == f"sdpa-{kernel}"


def test_attention_backend_is_the_kernel_of_the_call_that_ran(monkeypatch):
    """The label comes from the dtype and device of the call, not from the weights: under autocast
    the bf16 kernel. Here a stand-in kernel choice picks math for bf16 and flash for fp32."""
    monkeypatch.setattr(
        transformer, "prefill_kernel", lambda device, dtype, head_dim: "math" if dtype == torch.bfloat16 else "flash"
    )
    torch.manual_seed(0)
    mixer = CausalSelfAttention(32, n_heads=4)
    assert mixer.backend == "sdpa-flash"  # not run yet: what fp32 weights would pick
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        mixer(torch.randn(2, 7, 32))
    assert mixer.backend == "sdpa-math"


def test_prefill_kernel_prefers_flash_then_efficient_then_math():
    transformer.prefill_kernel.cache_clear()
    assert transformer.prefill_kernel("cpu", torch.float32, 8) == "flash"  # CPU has a float32 flash kernel
    assert list(transformer.SDPA_KERNELS) == ["flash", "efficient", "math"]


def test_kv_cache_grows_by_doubling_and_still_matches_forward():
    mixer, x = attention(max_seq_len=4), random(2, 11, 32)
    with torch.no_grad():
        full = mixer(x)
        state = mixer.init_state(2)
        capacities, stepped = [], []
        for t in range(11):
            y, state = mixer.step(x[:, t], state)
            stepped.append(y)
            capacities.append(state["k"].shape[2])
        _, prefilled = mixer(x[:, :9], return_state=True)  # a prefill longer than max_seq_len
    assert capacities == [4] * 4 + [8] * 4 + [16] * 3
    assert prefilled["k"].shape[2] == 16 and prefilled["pos"] == 9
    torch.testing.assert_close(torch.stack(stepped, 1), full, rtol=1e-10, atol=1e-10)


def test_several_new_tokens_after_a_cache_equal_the_longer_forward():
    mixer, x = attention(), random(2, 17, 32)
    with torch.no_grad():
        full = mixer(x)
        _, state = mixer(x[:, :6], return_state=True)
        rest, state = mixer(x[:, 6:], state=state, return_state=True)
        # SDPA's own is_causal=True aligns the mask top-left: the trap this path avoids.
        q, k, v = mixer._heads(x, 0)
        top_left = torch.nn.functional.scaled_dot_product_attention(q[:, :, 6:], k, v, is_causal=True)
    torch.testing.assert_close(rest, full[:, 6:], rtol=1e-10, atol=1e-10)
    assert state["pos"] == 17
    right = mixer.to_out(top_left.transpose(1, 2).reshape(2, 11, 32))
    assert not torch.allclose(right, full[:, 6:])


# --- probes -------------------------------------------------------------------


def test_unavailable_backends_say_cuda():
    assert "CUDA" in rnn.probe("cudnn", "cpu")
    assert "CUDA" in transformer.probe("flash_attn", "cpu")
    for spec in ["gru:cudnn", "lstm:cudnn", "transformer:flash_attn"]:
        with pytest.raises(BackendUnavailable, match="CUDA"):
            build_model(spec, vocab_size=5, device="cpu")


def test_auto_picks_the_cpu_backends():
    assert build_model("gru", vocab_size=5).backend == "native-cpu"
    assert build_model("lstm", vocab_size=5, hidden=8).backend == "native-cpu"
    assert build_model("transformer", vocab_size=5).backend.startswith("sdpa-")
