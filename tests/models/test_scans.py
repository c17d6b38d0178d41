"""The min-RNN scan backends against a step loop: outputs and gradients, float64 and float32,
with and without a carried state, at lengths on and off every chunk boundary, for every kind
(minGRU, minLSTM, minLSTM with free gates)."""

import contextlib

import pytest
import torch

from models.scans import gated, linear_space
from models.scans.log_space import g

KINDS = {"gru": 2, "lstm": 3}  # projection chunks per kind (test_triton_scan reuses these)
ALL_KINDS = {**KINDS, "lstm-unnormalised": 3}  # the free-gate minLSTM's Triton tests: test_triton_min_rnn_options
LENGTHS = (1, 7, 23, 63, 64, 65, 130, 257)


def step_loop(projection, h0, hidden, kind):
    """The recurrence written the obvious way, one token at a time, autograd through it all."""
    candidate = projection[..., :hidden]
    if kind == "gru":
        z = torch.sigmoid(projection[..., hidden:])
        a, b = 1 - z, z * g(candidate)
    else:
        f = torch.sigmoid(projection[..., hidden : 2 * hidden])
        i = torch.sigmoid(projection[..., 2 * hidden :])
        a, b = (f / (f + i), i / (f + i) * g(candidate)) if kind == "lstm" else (f, i * g(candidate))
    h = h0 if h0 is not None else torch.zeros_like(candidate[:, 0])
    outputs = []
    for t in range(projection.shape[1]):
        h = a[:, t] * h + b[:, t]
        outputs.append(h)
    return torch.stack(outputs, 1)


def inputs(kind, seq_len, with_state, dtype, hidden=5, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    projection = (2 * torch.randn(batch, seq_len, ALL_KINDS[kind] * hidden, generator=generator)).to(dtype)
    h0 = torch.rand(batch, hidden, generator=generator).to(dtype) if with_state else None
    weights = torch.randn(batch, seq_len, hidden, generator=generator).to(dtype)
    return projection, h0, weights


def output_and_grads(function, projection, h0, weights, hidden, kind):
    projection = projection.detach().clone().requires_grad_()
    h0 = h0.detach().clone().requires_grad_() if h0 is not None else None
    out = function(projection, h0, hidden, kind)
    (out * weights.to(out.dtype)).sum().backward()
    return out.detach(), projection.grad, (h0.grad if h0 is not None else None)


def assert_match(got, expected, tolerance):
    for g_tensor, e_tensor in zip(got, expected):
        if e_tensor is None:
            assert g_tensor is None
            continue
        error = (g_tensor.double() - e_tensor.double()).abs().max().item()
        assert error <= tolerance, f"max abs error {error:.3g} > {tolerance:.3g}"


def backend_function(backend):
    return lambda projection, h0, hidden, kind: gated.scan_projection(backend, projection, h0, hidden, kind)


@pytest.mark.parametrize("backend", ["linear", "log"])
@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
@pytest.mark.parametrize("seq_len", LENGTHS)
@pytest.mark.parametrize("with_state", [False, True])
def test_scan_equals_step_loop_float64(backend, kind, seq_len, with_state):
    projection, h0, weights = inputs(kind, seq_len, with_state, torch.float64)
    expected = output_and_grads(step_loop, projection, h0, weights, 5, kind)
    got = output_and_grads(backend_function(backend), projection, h0, weights, 5, kind)
    assert_match(got, expected, 1e-10)


@pytest.mark.parametrize("backend", ["linear", "log"])
@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
@pytest.mark.parametrize("seq_len", [23, 257])
def test_scan_float32_within_length_scaled_tolerance(backend, kind, seq_len):
    """float32 against the float64 step loop: error grows at most linearly with T (rtol 1e-6 * T),
    relative to the tensor's largest element (atol 1e-6 * T * max |expected|): the log-space scan
    forms log h = a* + logcumsumexp(...), two terms of size ~T whose float32 rounding the
    difference keeps (at T = 257 the free-gate minLSTM's gradients, up to 4.7, are 4.4e-4 off)."""
    projection, h0, weights = inputs(kind, seq_len, True, torch.float32)
    expected = output_and_grads(step_loop, projection.double(), h0.double(), weights.double(), 5, kind)
    got = output_and_grads(backend_function(backend), projection, h0, weights, 5, kind)
    for g_tensor, e_tensor in zip(got, expected):
        scale = max(1.0, e_tensor.abs().max().item())
        torch.testing.assert_close(g_tensor.double(), e_tensor, rtol=1e-6 * seq_len, atol=1e-6 * seq_len * scale)


@pytest.mark.parametrize("kind, seq_len", [(kind, 5) for kind in sorted(ALL_KINDS)] + [("gru", 70), ("lstm", 70)])
def test_linear_scan_gradcheck(kind, seq_len):
    """Length 70 crosses the chunked scans, which every kind shares (the float64 test above runs
    the free-gate kind through them too)."""
    projection, h0, _ = inputs(kind, seq_len, True, torch.float64, hidden=2, batch=1)
    projection.requires_grad_()
    h0.requires_grad_()
    with linear_space.saved_buffers_kept():  # gradcheck differentiates one graph once per output element
        assert torch.autograd.gradcheck(
            lambda p, h: linear_space.gated_scan_projection(p, h, 2, kind), (projection, h0)
        )


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_backward_into_saved_buffers_equals_the_kept_buffers_and_runs_once(kind):
    """The default backward writes its gradients into the forward's buffers: the same gradients
    as with the buffers kept, bit for bit; a second backward through that graph is refused."""
    projection, h0, _ = inputs(kind, 70, True, torch.float32, hidden=3, batch=2)
    upstream = torch.randn(2, 70, 3, generator=torch.Generator().manual_seed(5))
    grads = []
    for context in (linear_space.saved_buffers_kept, contextlib.nullcontext):
        p, h = projection.clone().requires_grad_(), h0.clone().requires_grad_()
        with context():
            out = linear_space.gated_scan_projection(p, h, 3, kind)
        kept = out.detach().clone()
        out.backward(upstream, retain_graph=True)
        torch.testing.assert_close(out.detach(), kept, rtol=0, atol=0)  # the output itself is never written
        grads.append((p.grad, h.grad))
        if context is contextlib.nullcontext:
            with pytest.raises(RuntimeError, match="runs once per forward"):
                out.backward(upstream)
        else:
            out.backward(upstream)  # kept buffers: a second backward is allowed
    torch.testing.assert_close(grads[0][0] / 2, grads[1][0], rtol=0, atol=0)
    torch.testing.assert_close(grads[0][1] / 2, grads[1][1], rtol=0, atol=0)


@pytest.mark.parametrize("seq_len", [1, 63, 64, 65, 100, 1000])
def test_chunked_scans_equal_plain_recurrence(seq_len):
    generator = torch.Generator().manual_seed(1)
    a = torch.rand(2, seq_len, 3, generator=generator, dtype=torch.float64)
    b = torch.randn(2, seq_len, 3, generator=generator, dtype=torch.float64)
    forward, h = [], torch.zeros(2, 3, dtype=torch.float64)
    for t in range(seq_len):
        h = a[:, t] * h + b[:, t]
        forward.append(h)
    torch.testing.assert_close(linear_space.scan(a, b.clone()), torch.stack(forward, 1), rtol=1e-12, atol=1e-12)
    backward, carry = [], torch.zeros(2, 3, dtype=torch.float64)
    for t in range(seq_len - 1, -1, -1):
        carry = b[:, t] + (a[:, t + 1] * carry if t + 1 < seq_len else 0)
        backward.append(carry)
    torch.testing.assert_close(
        linear_space.reverse_scan(a, b.clone()), torch.stack(backward[::-1], 1), rtol=1e-12, atol=1e-12
    )


def test_decay_underflow_gives_zero_not_nan():
    """Keep gates near 0 make running products underflow: the linear scan stays finite."""
    projection = torch.cat([torch.randn(1, 300, 4), torch.full((1, 300, 4), 120.0)], dim=-1)  # z = 1: a = 0
    projection.requires_grad_()
    h = linear_space.gated_scan_projection(projection, None, 4, "gru")
    h.sum().backward()
    assert torch.isfinite(h).all() and torch.isfinite(projection.grad).all()


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_linear_scan_runs_in_float32_under_bfloat16(kind):
    projection, h0, weights = inputs(kind, 40, True, torch.bfloat16)
    out, grad_projection, grad_h0 = output_and_grads(backend_function("linear"), projection, h0, weights, 5, kind)
    assert out.dtype == torch.float32
    assert grad_projection.dtype == torch.bfloat16 and grad_h0.dtype == torch.bfloat16
    expected = step_loop(projection.double(), h0.double(), 5, kind)
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


def test_unknown_backend_named():
    with pytest.raises(ValueError, match="unknown min-RNN scan backend 'fast'"):
        gated.scan_projection("fast", torch.zeros(1, 2, 4), None, 2, "gru")


def test_triton_backend_needs_cuda_on_cpu():
    assert "CUDA" in gated.probe("triton", "cpu")
    assert gated.probe("linear", "cpu") is None and gated.probe("log", "cpu") is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_minlstm_gates_deep_in_the_negative_tail_stay_exact(dtype):
    """Both gate pre-activations far below zero: sigmoid underflows, so the ratio f / (f + i)
    would be 0/0; the log-space fallback gives f' = sigmoid(k_f - k_i) to float precision."""
    generator = torch.Generator().manual_seed(3)
    candidate = torch.randn(1, 30, 4, generator=generator, dtype=dtype)
    forget = -900 + torch.randn(1, 30, 4, generator=generator, dtype=dtype)
    inp = -900 + torch.randn(1, 30, 4, generator=generator, dtype=dtype)
    pieces = [t.clone().requires_grad_() for t in (candidate, forget, inp)]
    h = linear_space.gated_scan(None, *pieces)
    h.sum().backward()
    keep = torch.sigmoid(forget.double() - inp.double())
    expected, state = [], torch.zeros(1, 4, dtype=torch.float64)
    for t in range(30):
        state = keep[:, t] * state + (1 - keep[:, t]) * g(candidate[:, t].double())
        expected.append(state)
    torch.testing.assert_close(h.double(), torch.stack(expected, 1), rtol=1e-5, atol=1e-6)
    assert all(torch.isfinite(p.grad).all() for p in pieces)


def test_unnormalised_scan_backward_runs_twice():
    """The free-gate scan writes its gradients into new tensors: a second backward through one
    graph gives the same gradients again."""
    projection, h0, _ = inputs("lstm-unnormalised", 70, True, torch.float64, hidden=3)
    projection.requires_grad_()
    out = linear_space.gated_scan_projection(projection, h0, 3, "lstm-unnormalised")
    out.sum().backward(retain_graph=True)
    first = projection.grad.clone()
    out.sum().backward()
    torch.testing.assert_close(projection.grad, 2 * first, rtol=0, atol=0)


@pytest.mark.parametrize("backend", ["linear", "log"])
def test_unknown_kind_named(backend):
    with pytest.raises(ValueError, match="kind must be one of 'gru', 'lstm', 'lstm-unnormalised', not 'rnn'"):
        gated.scan_projection(backend, torch.zeros(1, 2, 6), None, 2, "rnn")


def test_gated_scan_normalised_false_needs_two_gates():
    with pytest.raises(ValueError, match="two gates"):
        linear_space.gated_scan(None, torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), normalised=False)
