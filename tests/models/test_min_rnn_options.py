"""minGRU/minLSTM options (bias, learned initial state, forget bias, gate normalisation,
weight-decay exemption): the parallel forward equals the step loop on every option
combination and backend, with and without a given state, in outputs and in every
parameter's gradient; the defaults are the models as they were."""

import itertools

import pytest
import torch

import models.mingru
import models.minlstm
from models.scans.log_space import g

BATCH, D_MODEL, SEQ_LEN = 2, 4, 9
FAMILIES = {"mingru": models.mingru, "minlstm": models.minlstm}


def option_sets(family):
    """Every combination of the options that change the maths (forget_bias only with a bias)."""
    combos = []
    for bias, learn in itertools.product((False, True), repeat=2):
        if family == "mingru":
            combos.append(dict(bias=bias, learn_init_state=learn))
            continue
        for forget_bias, gate_norm in itertools.product((0.0, 3.0) if bias else (0.0,), (True, False)):
            combos.append(dict(bias=bias, learn_init_state=learn, forget_bias=forget_bias, gate_norm=gate_norm))
    return combos


CASES = [(family, options) for family in FAMILIES for options in option_sets(family)]


def build(family, backend, seed=0, **options):
    torch.manual_seed(seed)
    mixer = FAMILIES[family].make_mixer(D_MODEL, backend, **options).double()
    with torch.no_grad():  # nn.Linear starts its biases in a narrow band: make them matter
        for name, parameter in mixer.named_parameters():
            if name.endswith("bias"):
                parameter.add_(0.5 * torch.randn_like(parameter))
    return mixer


def loss_of(out, weights):
    return (out * weights).sum()


def stepped(mixer, x, state):
    state = mixer.init_state(x.shape[0], dtype=x.dtype) if state is None else state
    outputs = []
    for t in range(x.shape[1]):
        out, state = mixer.step(x[:, t], state)
        outputs.append(out)
    return torch.stack(outputs, 1), state


@pytest.mark.parametrize("backend", ["linear", "log"])
@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
@pytest.mark.parametrize(
    "family, options", CASES, ids=[f"{f}-{'-'.join(f'{k}={v}' for k, v in o.items())}" for f, o in CASES]
)
def test_parallel_forward_equals_step_loop_with_gradients(family, options, backend, with_state):
    mixer = build(family, backend, **options)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, SEQ_LEN, D_MODEL, generator=generator, dtype=torch.float64)
    weights = torch.randn(BATCH, SEQ_LEN, D_MODEL, generator=generator, dtype=torch.float64)
    state = 0.1 + torch.rand(BATCH, mixer.hidden, generator=generator, dtype=torch.float64) if with_state else None
    parameters = dict(mixer.named_parameters())
    out, last = mixer(x, state=state, return_state=True)
    grads = torch.autograd.grad(loss_of(out, weights), list(parameters.values()), materialize_grads=True)
    expected_out, expected_last = stepped(mixer, x, state)
    expected_grads = torch.autograd.grad(
        loss_of(expected_out, weights), list(parameters.values()), materialize_grads=True
    )
    torch.testing.assert_close(out, expected_out, rtol=0, atol=1e-10)
    torch.testing.assert_close(last, expected_last, rtol=0, atol=1e-10)
    for name, got, want in zip(parameters, grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10, msg=f"gradient of {name}")
        if name.endswith("bias") or (name == "h0_raw" and not with_state):
            assert got.abs().max() > 1e-6, f"no gradient reaches {name}"
    assert ("h0_raw" in parameters) == options["learn_init_state"]
    assert ("to_out.bias" in parameters) == options["bias"]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_learned_initial_state_is_g_of_h0_raw_for_every_start(family):
    mixer = build(family, "linear", learn_init_state=True)
    start = mixer.init_state(3, dtype=torch.float64)
    torch.testing.assert_close(start, g(mixer.h0_raw).expand(3, -1), rtol=0, atol=0)
    x = torch.randn(3, 5, D_MODEL, dtype=torch.float64)
    torch.testing.assert_close(mixer(x), mixer(x, state=start), rtol=0, atol=0)
    assert not torch.equal(mixer(x), mixer(x, state=torch.zeros_like(start)))


def test_minlstm_forget_bias_is_added_to_the_forget_gate_at_init():
    torch.manual_seed(0)
    plain = models.minlstm.make_mixer(D_MODEL, "linear", bias=True)
    torch.manual_seed(0)
    shifted = models.minlstm.make_mixer(D_MODEL, "linear", bias=True, forget_bias=3.0)
    hidden = plain.hidden
    difference = shifted.to_hidden_and_gates.bias - plain.to_hidden_and_gates.bias
    expected = torch.zeros(3 * hidden)
    expected[hidden : 2 * hidden] = 3.0
    torch.testing.assert_close(difference, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(shifted.to_hidden_and_gates.weight, plain.to_hidden_and_gates.weight, rtol=0, atol=0)


def test_minlstm_forget_bias_without_bias_is_refused():
    with pytest.raises(ValueError, match="needs bias=True"):
        models.minlstm.make_mixer(D_MODEL, "linear", forget_bias=3.0)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("decay_gates", [True, False])
def test_no_weight_decay_marks_exactly_the_input_projection(family, bias, decay_gates):
    mixer = (
        FAMILIES[family]
        .make_mixer(D_MODEL, "linear", bias=bias, learn_init_state=True, decay_gates=decay_gates)
        .double()
    )  # .double() keeps the marks
    for name, parameter in mixer.named_parameters():
        marked = getattr(parameter, "_no_weight_decay", False)
        assert marked == (not decay_gates and name.startswith("to_hidden_and_gate")), name


# Outputs of the models before the options existed: make_mixer(4, backend) under manual_seed(0),
# in float64, on x = randn(2, 5, 4) from a generator seeded 1: out[1, -1] and the state's h[0, :3].
BEFORE = {
    "mingru": (
        [0.385824811562704, 0.3094031371011005, -0.2931886456289166, 0.10370291933120551],
        [0.38893725745110297, 1.0280176997212016, 0.4400480351047758],
    ),
    "minlstm": (
        [0.15046273072855554, -0.40937787009270377, 0.024275202958211103, -0.4475941501622184],
        [0.34010823950554414, 0.8942369363407684, 0.4475468693991236],
    ),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("backend", ["linear", "log"])
def test_defaults_are_the_models_as_they_were(family, backend):
    torch.manual_seed(0)
    mixer = FAMILIES[family].make_mixer(4, backend).double()
    projection = "to_hidden_and_gate" if family == "mingru" else "to_hidden_and_gates"
    assert [name for name, _ in mixer.named_parameters()] == [f"{projection}.weight", "to_out.weight"]
    x = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out, h = mixer(x, return_state=True)
    expected_out, expected_h = BEFORE[family]
    torch.testing.assert_close(out[1, -1], torch.tensor(expected_out, dtype=torch.float64), rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(h[0, :3], torch.tensor(expected_h, dtype=torch.float64), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_defaults_listed_match_make_mixer(family):
    """``DEFAULTS`` (what ``--set family_options.<family>.<option>`` may change) names every option."""
    import inspect

    signature = inspect.signature(FAMILIES[family].make_mixer)
    keywords = {
        name: p.default for name, p in signature.parameters.items() if name not in ("d_model", "backend", "layer_index")
    }
    assert keywords == FAMILIES[family].DEFAULTS


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_options_reach_every_layer_through_build_model(family):
    """What ``family_options`` / ``--set family_options.<family>.<option>=...`` hands ``build_model``."""
    from suite.registry import build_model

    official = dict(bias=True, learn_init_state=True, decay_gates=False)
    if family == "minlstm":
        official.update(forget_bias=3.0, gate_norm=False)
    model = build_model(f"{family}:log", vocab_size=8, d_model=8, n_layers=2, **official)
    for block in model.blocks:
        mixer = block.mixer
        assert mixer.h0_raw is not None and mixer.to_out.bias is not None
        projection = mixer.to_hidden_and_gate if family == "mingru" else mixer.to_hidden_and_gates
        assert projection.weight._no_weight_decay and projection.bias._no_weight_decay
        if family == "minlstm":
            assert mixer.kind == "lstm-unnormalised"
            assert projection.bias[mixer.hidden : 2 * mixer.hidden].min() > 2.0  # 3 + U(-1/sqrt(8), 1/sqrt(8))
    logits = model(torch.randint(0, 8, (2, 6)))
    assert logits.shape == (2, 6, 8) and torch.isfinite(logits).all()
