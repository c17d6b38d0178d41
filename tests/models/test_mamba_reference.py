"""The pure-PyTorch Mamba-1 / Mamba-2 references against independent implementations:
mambapy's MambaBlock (same parameter names, so weights copy across), sequential
loops of the recurrences, and Mamba-2's quadratic "attention" form. Tiny shapes."""

import importlib.util
import math

import pytest
import torch

from models import mamba, mamba2
from models.mamba import Mamba
from models.mamba2 import Mamba2
from models.scans.selective_scan import chunk_length, selective_scan, selective_scan_loop
from models.scans.ssd import segment_sums, ssd_scan, ssd_loop

F64 = torch.float64


def random_s6(batch=2, length=23, d_inner=6, d_state=4, dt_scale=0.5, dtype=F64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        x=torch.randn(batch, length, d_inner, generator=g, dtype=dtype),
        dt=torch.rand(batch, length, d_inner, generator=g, dtype=dtype) * dt_scale,
        A=-torch.rand(d_inner, d_state, generator=g, dtype=dtype) * 16,
        B=torch.randn(batch, length, d_state, generator=g, dtype=dtype),
        C=torch.randn(batch, length, d_state, generator=g, dtype=dtype),
        initial_state=torch.randn(batch, d_inner, d_state, generator=g, dtype=dtype),
    )


def random_ssd(batch=2, length=23, heads=4, groups=2, head_dim=3, d_state=5, dtype=F64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        x=torch.randn(batch, length, heads, head_dim, generator=g, dtype=dtype),
        dt=torch.rand(batch, length, heads, generator=g, dtype=dtype) * 0.5,
        A=-torch.rand(heads, generator=g, dtype=dtype) * 16,
        B=torch.randn(batch, length, groups, d_state, generator=g, dtype=dtype),
        C=torch.randn(batch, length, groups, d_state, generator=g, dtype=dtype),
        initial_state=torch.randn(batch, heads, head_dim, d_state, generator=g, dtype=dtype),
    )


def grads_of(fn, inputs):
    inputs = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    y, state = fn(**inputs)
    (y.sin().sum() + state.cos().sum()).backward()
    return y.detach(), state.detach(), {k: v.grad for k, v in inputs.items()}


def assert_same_outputs_and_grads(reference, candidate, inputs):
    """``candidate`` equals ``reference`` in outputs, final state and every input gradient."""
    y_ref, state_ref, grads_ref = grads_of(reference, inputs)
    y, state, grads = grads_of(candidate, inputs)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(state, state_ref, rtol=1e-12, atol=1e-12)
    for name in grads_ref:
        torch.testing.assert_close(grads[name], grads_ref[name], rtol=1e-10, atol=1e-10, msg=name)


# ---- Mamba-1 selective scan ---------------------------------------------------------------


@pytest.mark.parametrize("max_chunk", [1, 4, 5, 23, 64])
def test_chunked_selective_scan_equals_loop_with_gradients(max_chunk):
    inputs = random_s6()
    assert_same_outputs_and_grads(selective_scan_loop, lambda **kw: selective_scan(**kw, max_chunk=max_chunk), inputs)


def test_selective_scan_gradcheck_without_initial_state():
    inputs = random_s6(length=9, d_inner=3, d_state=2)
    del inputs["initial_state"]
    args = [v.requires_grad_() for v in inputs.values()]
    assert torch.autograd.gradcheck(lambda *a: selective_scan(*a, max_chunk=4), args)


def test_selective_scan_float32_with_large_decays_stays_finite_and_accurate():
    # dt up to 8 and |A| up to 16: log-decays of ~128 per step would overflow exp(-S)
    # in one chunk; the chunk length shrinks instead.
    inputs = random_s6(length=40, dt_scale=8.0, dtype=torch.float32)
    assert chunk_length(inputs["dt"], inputs["A"], 64, 30.0) == 1
    y, state = selective_scan(**inputs)
    y_exact, state_exact = selective_scan_loop(**{k: v.double() for k, v in inputs.items()})
    assert torch.isfinite(y).all() and torch.isfinite(state).all()
    torch.testing.assert_close(y.double(), y_exact, rtol=1e-5, atol=1e-5)


def test_selective_scan_runs_in_float32_for_bfloat16_inputs():
    inputs = {k: v.to(torch.bfloat16) for k, v in random_s6().items()}
    y, state = selective_scan(**inputs)
    assert y.dtype == state.dtype == torch.float32


# ---- Mamba-1 mixer against mambapy -------------------------------------------------------


def mambapy_pair(d_model=16, d_state=4):
    mambapy = pytest.importorskip("mambapy.mamba")
    torch.manual_seed(0)
    theirs = mambapy.MambaBlock(mambapy.MambaConfig(d_model=d_model, n_layers=1, d_state=d_state)).double()
    ours = Mamba(d_model, d_state=d_state).double()
    ours.load_state_dict(theirs.state_dict())  # same names and shapes
    return ours, theirs


# mambapy rounds A = -exp(A_log) to float32 even in a float64 module, hence 1e-8, not 1e-12.
@pytest.mark.parametrize("length", [1, 13, 40])
def test_mamba_equals_mambapy_outputs_and_gradients(length):
    ours, theirs = mambapy_pair()
    x = torch.randn(2, length, 16, dtype=F64, generator=torch.Generator().manual_seed(length))
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
    torch.testing.assert_close(y_ours, y_theirs, rtol=1e-8, atol=1e-8)
    y_ours.sin().sum().backward()
    y_theirs.sin().sum().backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, rtol=1e-7, atol=1e-8)
    their_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        torch.testing.assert_close(param.grad, their_params[name].grad, rtol=1e-7, atol=1e-8, msg=name)


def test_mamba_step_equals_mambapy_step():
    ours, theirs = mambapy_pair()
    x = torch.randn(2, 9, 16, dtype=F64)
    state, cache = ours.init_state(2), (None, torch.zeros(2, ours.d_inner, ours.d_conv - 1, dtype=F64))
    with torch.no_grad():
        for t in range(x.shape[1]):
            y_ours, state = ours.step(x[:, t], state)
            y_theirs, cache = theirs.step(x[:, t], cache)
            torch.testing.assert_close(y_ours, y_theirs, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(state.ssm, cache[0], rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(state.conv, cache[1])


def test_mamba_hyperparameters_and_initialisation_follow_mamba_ssm():
    torch.manual_seed(0)
    m = Mamba(40)
    assert (m.d_inner, m.d_state, m.d_conv, m.dt_rank) == (80, 16, 4, math.ceil(40 / 16))
    torch.testing.assert_close(m.A_log.exp(), torch.arange(1.0, 17.0).repeat(80, 1))
    assert torch.equal(m.D, torch.ones(80))
    dt = torch.nn.functional.softplus(m.dt_proj.bias)
    assert dt.min() >= 1e-3 * 0.999 and dt.max() <= 0.1 * 1.001
    assert m.state_elements(100) == 80 * (16 + 4 - 1)
    state = m.init_state(3)
    assert sum(t.numel() for t in state) == 3 * m.state_elements(100)


# ---- Mamba-2 SSD ------------------------------------------------------------------------


def quadratic_ssd(x, dt, A, B, C, initial_state):
    """SSD's dual form over the whole sequence: y = (L ∘ C B^T) (dt x) + decayed C H0."""
    per_group = x.shape[2] // B.shape[2]
    B, C = B.repeat_interleave(per_group, 2), C.repeat_interleave(per_group, 2)  # [b, T, h, n]
    log_a = (dt * A).transpose(1, 2)  # [b, h, T]
    mask = torch.exp(segment_sums(log_a))  # [b, h, T, T]
    scores = torch.einsum("bthn,bshn->bhts", C, B) * mask
    y = torch.einsum("bhts,bshp->bthp", scores, x * dt.unsqueeze(-1))
    from_start = torch.exp(log_a.cumsum(-1)).transpose(1, 2)  # [b, T, h]
    return y + torch.einsum("bthn,bhpn->bthp", C, initial_state) * from_start.unsqueeze(-1)


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 23, 64])
def test_chunked_ssd_equals_loop_with_gradients(chunk_size):
    inputs = random_ssd()
    assert_same_outputs_and_grads(ssd_loop, lambda **kw: ssd_scan(**kw, chunk_size=chunk_size), inputs)


def test_chunked_ssd_equals_quadratic_dual_form():
    inputs = random_ssd(length=30)
    y, _ = ssd_scan(**inputs, chunk_size=8)
    torch.testing.assert_close(y, quadratic_ssd(**inputs), rtol=1e-12, atol=1e-12)


def test_ssd_float32_close_to_float64():
    inputs = random_ssd(length=200, groups=1)
    y, _ = ssd_scan(**{k: v.float() for k, v in inputs.items()}, chunk_size=64)
    torch.testing.assert_close(y.double(), ssd_scan(**inputs, chunk_size=64)[0], rtol=1e-5, atol=1e-5)


# ---- Mamba-2 mixer ----------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"ngroups": 2, "headdim": 8}, {"d_conv": 2, "chunk_size": 5}])
def test_mamba2_forward_equals_step_loop_and_continues_from_state(options):
    torch.manual_seed(0)
    m = Mamba2(16, d_state=8, **options).double()
    x = torch.randn(2, 19, 16, dtype=F64)
    with torch.no_grad():
        y, final = m(x, return_state=True)
        state, steps = m.init_state(2), []
        for t in range(x.shape[1]):
            out, state = m.step(x[:, t], state)
            steps.append(out)
        torch.testing.assert_close(torch.stack(steps, 1), y, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(state.ssm, final.ssm, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(state.conv, final.conv)
        _, half = m(x[:, :7], return_state=True)
        torch.testing.assert_close(m(x[:, 7:], state=half), y[:, 7:], rtol=1e-10, atol=1e-10)


def test_mamba2_hyperparameters_initialisation_and_names_follow_mamba_ssm():
    torch.manual_seed(0)
    m = Mamba2(64)
    assert (m.d_inner, m.headdim, m.nheads, m.d_state, m.ngroups) == (128, 64, 2, 64, 1)
    assert set(dict(m.named_parameters())) == {
        "in_proj.weight",
        "conv1d.weight",
        "conv1d.bias",
        "dt_bias",
        "A_log",
        "D",
        "norm.weight",
        "out_proj.weight",
    }
    assert m.in_proj.out_features == 2 * 128 + 2 * 64 + 2
    assert 1.0 <= m.A_log.exp().min() and m.A_log.exp().max() <= 16.0
    dt = torch.nn.functional.softplus(m.dt_bias)
    assert dt.min() >= 1e-3 * 0.999 and dt.max() <= 0.1 * 1.001
    assert m.state_elements(10) == 2 * 64 * 64 + 3 * (128 + 2 * 64)
    assert sum(t.numel() for t in m.init_state(1)) == m.state_elements(10)
    assert Mamba2(16).headdim == 16 and Mamba2(24).headdim == 8  # small models still get 2+ heads


def test_mamba2_gated_norm_matches_formula():
    norm = mamba2.GatedRMSNorm(8, group_size=4).double()
    with torch.no_grad():
        norm.weight.uniform_()
    y, z = torch.randn(3, 8, dtype=F64), torch.randn(3, 8, dtype=F64)
    gated = (y * torch.nn.functional.silu(z)).view(3, 2, 4)
    expected = (gated / torch.sqrt(gated.pow(2).mean(-1, keepdim=True) + 1e-5)).view(3, 8) * norm.weight
    torch.testing.assert_close(norm(y, z), expected)


# ---- backends ---------------------------------------------------------------------------


@pytest.mark.parametrize("family", [mamba, mamba2])
def test_mamba_ssm_backend_is_refused_off_cuda_with_a_reason(family):
    assert family.probe("reference", "cpu") is None
    assert "CUDA" in family.probe("mamba_ssm", "cpu")
    assert family.BACKENDS == ("mamba_ssm", "reference")


def test_options_reach_the_mixer_through_the_registry():
    from suite.registry import build_model

    model = build_model("mamba2", vocab_size=11, d_model=32, n_layers=1, headdim=16, d_state=8)
    mixer = model.blocks[0].mixer
    assert (mixer.headdim, mixer.nheads, mixer.d_state, mixer.backend) == (16, 4, 8, "reference-torch")
    model = build_model("mamba", vocab_size=11, d_model=32, n_layers=1, d_state=8, expand=1)
    assert (model.blocks[0].mixer.d_inner, model.blocks[0].mixer.d_state) == (32, 8)


# ---- the mamba_ssm glue -------------------------------------------------------------------


class FakePackageMamba(Mamba):
    """The reference behind mamba_ssm's module interface, as read from its source: a
    ``d_conv``-wide conv cache, ``forward(x, inference_params)`` writing the caches,
    ``step(x[b, 1, d], conv_state, ssm_state)`` updating them in place."""

    layer_idx = 3

    def allocate_inference_cache(self, batch_size, max_seqlen, dtype=None):
        weight = self.out_proj.weight
        return (
            torch.zeros(batch_size, self.d_inner, self.d_conv, dtype=weight.dtype),
            torch.zeros(batch_size, self.d_inner, self.d_state, dtype=weight.dtype),
        )

    def forward(self, x, inference_params=None):
        if inference_params is None:
            return super().forward(x)
        conv_state, ssm_state = inference_params.key_value_memory_dict[self.layer_idx]
        y, state = super().forward(x, return_state=True)
        conv_state[..., 0] = float("nan")  # the package keeps one more column; it is never read
        conv_state[..., 1:], ssm_state[:] = state
        return y

    def step(self, x, conv_state, ssm_state):
        y, state = super().step(x[:, 0], mamba.ConvSSMState(conv_state[..., 1:], ssm_state))
        conv_state[..., :-1] = conv_state[..., 1:].clone()
        conv_state[..., 1:], ssm_state[:] = state
        return y.unsqueeze(1), conv_state, ssm_state


def test_package_glue_keeps_the_contract_with_a_fake_package():
    torch.manual_seed(0)
    reference = Mamba(16, d_state=4).double()
    fake = FakePackageMamba(16, d_state=4).double()
    fake.load_state_dict(reference.state_dict())
    glue = mamba.PackageMixer(fake, reference.state_elements(0))
    x = torch.randn(2, 12, 16, dtype=F64)
    with torch.no_grad():
        y, state = glue(x[:, :8], return_state=True)
        torch.testing.assert_close(y, reference(x[:, :8]))
        torch.testing.assert_close(glue(x[:, 8:], state=state), reference(x)[:, 8:])
        out, state = glue.step(x[:, 8], state)
        torch.testing.assert_close(out, reference(x[:, :9])[:, 8])
        assert sum(t.numel() for t in glue.init_state(2)) == 2 * glue.state_elements(0)


@pytest.mark.gpu
@pytest.mark.parametrize("family", [mamba, mamba2])
def test_reference_on_cuda_matches_cpu(family):
    torch.manual_seed(0)
    cpu = family.make_mixer(64, "reference")
    gpu = family.make_mixer(64, "reference").cuda()
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(2, 300, 64)
    torch.testing.assert_close(gpu(x.cuda()).cpu(), cpu(x), rtol=1e-4, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("family", [mamba, mamba2])
def test_mamba_ssm_matches_reference(family):
    pytest.importorskip("mamba_ssm")
    torch.manual_seed(0)
    package = family.make_mixer(64, "mamba_ssm", layer_index=0).cuda()
    reference = family.make_mixer(64, "reference").cuda()
    reference.load_state_dict(package.inner.state_dict())
    conv = "causal_conv1d" if importlib.util.find_spec("causal_conv1d") else "torch-conv"
    assert package.backend == f"mamba_ssm-{'cuda' if family is mamba else 'triton'}+{conv}"
    x = torch.randn(2, 300, 64, device="cuda")
    close = dict(rtol=1e-2, atol=1e-2)  # the package's Triton matmuls run in TF32
    with torch.no_grad():
        expected, expected_state = reference(x, return_state=True)
        torch.testing.assert_close(package(x), expected, **close)
        y, state = package(x[:, :200], return_state=True)
        torch.testing.assert_close(y, expected[:, :200], **close)
        torch.testing.assert_close(package(x[:, 200:], state=state), expected[:, 200:], **close)
        _, state = package(x, return_state=True)
        for mine, theirs in zip(state, expected_state):
            torch.testing.assert_close(mine, theirs, **close)


@pytest.mark.parametrize("family", ["mamba", "mamba2"])
def test_reference_scan_state_stays_float32_under_bf16_autocast(family):
    """Autocast would run the scans' matmuls (and so their state) in bf16; the references switch it
    off inside the scan, so the state is float32 and the output within bf16 rounding of fp32."""
    from suite.registry import build_model

    torch.manual_seed(0)
    model = build_model(f"{family}:reference", vocab_size=16, d_model=32, n_layers=2)
    tokens = torch.randint(0, 16, (2, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference, _ = model(tokens, return_state=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits, states = model(tokens, return_state=True)
            _, stepped = model.step(logits[:, -1].argmax(-1), states)
    assert all(state.ssm.dtype == torch.float32 for state in states + stepped)
    relative = (logits.float() - reference).norm() / reference.norm()
    assert relative < 2e-2, relative


def test_selective_scan_backward_under_autocast_is_float32():
    x, dt, A, B, C = (
        torch.randn(*shape, requires_grad=True) for shape in ((2, 20, 4), (2, 20, 4), (4, 3), (2, 20, 3), (2, 20, 3))
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, state = selective_scan(x, torch.nn.functional.softplus(dt), -torch.exp(A), B, C)
    assert y.dtype == state.dtype == torch.float32
    y.sum().backward()
    assert all(t.grad.dtype == torch.float32 and torch.isfinite(t.grad).all() for t in (x, dt, A, B, C))
