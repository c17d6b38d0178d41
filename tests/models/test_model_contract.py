"""The contract every model keeps, checked for every family and every backend
that can run on this machine: parallel forward = step loop, causality, and
prefill-then-step = forward on the longer sequence."""

import pytest
import torch

from suite.registry import BackendUnavailable, builtin_family_names, get_family
from suite.stacks import build_model

VOCAB = 11


def runnable_specs(device="cpu"):
    specs = []
    for name in builtin_family_names():
        family = get_family(name)
        for backend in family.backends:
            if family.probe(backend, device) is None:
                specs.append(f"{name}:{backend}")
    return specs


SPECS = runnable_specs()
# Mixed stacks (suite.stacks) and sliding-window attention keep the same contract.
STACK_SPECS = [
    "mingru*3+transformer:sdpa",
    "mingru+transformer:sdpa[window=5]+mingru:log",
    "transformer:sdpa[window=5]*2",
    "mamba:reference+transformer:sdpa",
]
CONTRACT_SPECS = SPECS + STACK_SPECS


def small_model(spec, dtype, seed=0, **config):
    torch.manual_seed(seed)
    model = build_model(spec, vocab_size=VOCAB, d_model=16, n_layers=2, **config)
    return model.to(dtype).eval()


def step_loop(model, tokens):
    state = model.init_state(tokens.shape[0])
    outputs = []
    for t in range(tokens.shape[1]):
        logits, state = model.step(tokens[:, t], state)
        outputs.append(logits)
    return torch.stack(outputs, dim=1)


def test_every_builtin_family_has_a_cpu_backend():
    families = {spec.split(":")[0] for spec in SPECS}
    assert families == set(builtin_family_names())


@pytest.mark.parametrize("spec", CONTRACT_SPECS)
@pytest.mark.parametrize("seq_len", [1, 7, 23, 64, 257])
def test_parallel_forward_equals_step_loop_float64(spec, seq_len):
    model = small_model(spec, torch.float64)
    tokens = torch.randint(0, VOCAB, (2, seq_len), generator=torch.Generator().manual_seed(seq_len))
    with torch.no_grad():
        parallel = model(tokens)
        stepped = step_loop(model, tokens)
    assert parallel.shape == (2, seq_len, VOCAB)
    torch.testing.assert_close(parallel, stepped, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("spec", CONTRACT_SPECS)
@pytest.mark.parametrize("seq_len", [7, 64, 257])
def test_parallel_forward_equals_step_loop_float32(spec, seq_len):
    model = small_model(spec, torch.float32)
    tokens = torch.randint(0, VOCAB, (2, seq_len), generator=torch.Generator().manual_seed(seq_len))
    with torch.no_grad():
        parallel = model(tokens)
        stepped = step_loop(model, tokens)
    tolerance = 1e-6 * seq_len
    torch.testing.assert_close(parallel, stepped, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("spec", CONTRACT_SPECS)
def test_causal(spec):
    model = small_model(spec, torch.float64)
    tokens = torch.randint(0, VOCAB, (2, 40), generator=torch.Generator().manual_seed(1))
    changed = tokens.clone()
    changed[:, 25:] = (changed[:, 25:] + 3) % VOCAB
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    torch.testing.assert_close(before[:, :25], after[:, :25], rtol=0, atol=1e-12)
    assert not torch.allclose(before[:, 25:], after[:, 25:])


@pytest.mark.parametrize("spec", CONTRACT_SPECS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_prefill_state_then_step_equals_longer_forward(spec, dtype):
    model = small_model(spec, dtype)
    tokens = torch.randint(0, VOCAB, (3, 30), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model(tokens)
        prefix, state = model(tokens[:, :21], return_state=True)
        stepped = []
        for t in range(21, 30):
            logits, state = model.step(tokens[:, t], state)
            stepped.append(logits)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(prefix, full[:, :21], rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(torch.stack(stepped, 1), full[:, 21:], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("spec", CONTRACT_SPECS)
def test_forward_continues_from_a_state(spec):
    model = small_model(spec, torch.float64)
    tokens = torch.randint(0, VOCAB, (2, 24), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(tokens)
        _, state = model(tokens[:, :10], return_state=True)
        rest = model(tokens[:, 10:], state=state)
    torch.testing.assert_close(rest, full[:, 10:], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("spec", CONTRACT_SPECS)
def test_state_bytes_positive_and_backend_named(spec):
    model = small_model(spec, torch.float32)
    assert model.state_bytes(batch=2, seq_len=100) > 0
    assert model.backend


def test_unavailable_backend_says_why():
    with pytest.raises(BackendUnavailable, match="CUDA"):
        build_model("mamba:mamba_ssm", vocab_size=VOCAB, device="cpu")


def state_storage_bytes(state) -> int:
    """Bytes of the storages the state's tensors keep alive (a view pins its whole base)."""
    if isinstance(state, torch.Tensor):
        return state.untyped_storage().nbytes()
    if isinstance(state, dict):
        return sum(state_storage_bytes(value) for value in state.values())
    if isinstance(state, (list, tuple)):
        return sum(state_storage_bytes(value) for value in state)
    return 0


@pytest.mark.parametrize("spec", CONTRACT_SPECS)
def test_returned_state_does_not_pin_the_prefix(spec):
    """Decoding after a long prefill must hold the state, not the prefill's activations."""
    model = small_model(spec, torch.float32)
    sizes = []
    for length in (40, 300):
        tokens = torch.randint(0, VOCAB, (2, length), generator=torch.Generator().manual_seed(length))
        with torch.no_grad():
            _, state = model(tokens, return_state=True)
        sizes.append(state_storage_bytes(state))
    assert sizes[0] == sizes[1], f"state storage grew with the prefix: {sizes}"
