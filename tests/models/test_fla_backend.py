"""The ``fla`` backends of minGRU and minLSTM (flash-linear-attention's ``chunk_hgrn``, CUDA only).

On any machine: registered for both families, never the default, a one-line reason on CPU (and
when fla does not import) without fla ever imported, and a skipped bench entry on CPU. Where fla
imports: the ``(x, g)`` the backend builds equal the suite's scans in float64 through a float64
step loop, and through FLA's own pure-PyTorch ``naive_recurrent_hgrn`` (which works in float32),
outputs and gradients; and the whole mixers, with FLA's kernel swapped for that reference, equal
the ``linear`` backend. On CUDA (``gpu``): the real modules against ``linear`` in float32."""

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import models.mingru
import models.minlstm
from models.probe import import_reason
from models.scans import gated
from models.scans.fla_hgrn import hgrn_inputs
from tests.models.test_scans import ALL_KINDS, assert_match, inputs, output_and_grads, step_loop

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = {"mingru": models.mingru, "minlstm": models.minlstm}
OFFICIAL = {  # the official minRNN options: a bias, a learned initial state, free minLSTM gates
    "mingru": dict(bias=True, learn_init_state=True, decay_gates=False),
    "minlstm": dict(bias=True, learn_init_state=True, forget_bias=3.0, gate_norm=False, decay_gates=False),
}
OPTION_SETS = [(family, options) for family in FAMILIES for options in ({}, OFFICIAL[family])]
OPTION_IDS = [f"{family}-{'official' if options else 'defaults'}" for family, options in OPTION_SETS]

PROBE_WITHOUT_IMPORTING = """
import sys
from suite.registry import BackendUnavailable, get_family, resolve_backend
for name in ("mingru", "minlstm"):
    family = get_family(name)
    print(family.probe("fla", "cpu"))
    assert resolve_backend(name, "cpu")[1] == "linear"  # a bare family never picks fla
    try:
        resolve_backend(name + ":fla", "cpu")
    except BackendUnavailable as error:
        print(error)
print("fla imported" if any(m == "fla" or m.startswith("fla.") for m in sys.modules) else "fla not imported")
"""

PROBE_WITHOUT_FLA = """
import sys
sys.modules["fla"] = None  # as where fla-core is not installed: importing it raises ImportError
from models.scans import gated
gated.cuda_reason = lambda device: None  # as if a CUDA device were here
print(gated.probe("fla", "cuda:0"))
"""


def run_python(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()


@pytest.fixture(scope="module")
def naive_recurrent_hgrn():
    """FLA's pure-PyTorch HGRN recurrence, or a skip saying why fla does not import here (an
    ImportError, or any error some fla releases raise at import on a machine without a GPU)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fla warns at import that it finds no GPU for Triton
        reason = import_reason("fla.ops.hgrn.naive")
    if reason:
        pytest.skip(reason)
    from fla.ops.hgrn.naive import naive_recurrent_hgrn

    return naive_recurrent_hgrn


def hgrn_loop(x, log_keep):
    """``h_t = exp(g_t) h_{t-1} + x_t`` from a zero state, in the inputs' dtype: FLA's recurrence."""
    h, outputs = torch.zeros_like(x[:, 0]), []
    for t in range(x.shape[1]):
        h = torch.exp(log_keep[:, t]) * h + x[:, t]
        outputs.append(h)
    return torch.stack(outputs, 1)


# --- registration and probes (no fla needed) ----------------------------------------------------


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fla_is_a_backend_of_both_families_and_last_in_preference(family):
    assert FAMILIES[family].BACKENDS == ("triton", "linear", "log", "fla")


def test_the_probe_on_cpu_says_why_without_importing_fla():
    lines = run_python(PROBE_WITHOUT_IMPORTING)
    reason = "needs a CUDA device, this cell runs on cpu"
    assert lines == [
        reason,
        f"mingru:fla cannot run here: {reason}",
        reason,
        f"minlstm:fla cannot run here: {reason}",
        "fla not imported",
    ]


def test_the_probe_says_when_fla_does_not_import():
    [line] = run_python(PROBE_WITHOUT_FLA)
    assert line.startswith("fla.ops.hgrn does not import here (ModuleNotFoundError:"), line


def test_bench_speed_on_cpu_skips_the_fla_backends_with_the_reason(tmp_path):
    from suite.commands.cli import main
    from suite.records.store import read_records

    tiny = ["--batch-size", "1", "--d-model", "4", "--repeats", "1", "--warmup", "0", "--min-time-s", "0"]
    argv = ["bench", "speed", "--device", "cpu", "--seq-lens", "8", *tiny, "--no-report"]
    code = main([*argv, "--models", "mingru:fla,minlstm:fla", "--scopes", "mixer,scan", "--out", str(tmp_path / "r")])
    assert code == 0
    records = {(r["scope"], r["model"]): r for r in read_records(tmp_path / "r")}
    for scope in ("mixer", "scan"):
        for family in FAMILIES:
            record = records[(scope, f"{family}:fla")]
            assert record["status"] == "skipped", record
            assert "needs a CUDA device, this cell runs on cpu" in record["error"]
    assert records[("scan", "mingru:linear")]["status"] == "ok"  # the runnable scans still ran


# --- the inputs the backend builds (no fla needed) ----------------------------------------------


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
def test_hgrn_inputs_give_the_suite_scan_in_float64(kind, with_state):
    projection, h0, weights = inputs(kind, 70, with_state, torch.float64)
    expected = output_and_grads(step_loop, projection, h0, weights, 5, kind)
    for backend in ("linear", "log"):
        mine = output_and_grads(
            lambda p, h, hidden, k, b=backend: gated.scan_projection(b, p, h, hidden, k),
            projection,
            h0,
            weights,
            5,
            kind,
        )
        assert_match(mine, expected, 1e-10)
    hgrn = output_and_grads(
        lambda p, h, hidden, k: hgrn_loop(*hgrn_inputs(p, h, hidden, k)), projection, h0, weights, 5, kind
    )
    assert_match(hgrn, expected, 1e-10)
    x, log_keep = hgrn_inputs(projection, h0, 5, kind)
    assert x.dtype == log_keep.dtype == torch.float64 and x.shape == log_keep.shape == (2, 70, 5)


# --- against FLA's own pure-PyTorch recurrence (where fla imports) ------------------------------


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
def test_naive_recurrent_hgrn_on_the_fla_inputs_equals_our_scan(naive_recurrent_hgrn, kind, with_state):
    """float64 inputs; FLA's reference casts them to float32 inside, hence the tolerance."""
    projection, h0, weights = inputs(kind, 70, with_state, torch.float64)
    expected = output_and_grads(backend_function("log"), projection, h0, weights, 5, kind)

    def through_fla(p, h, hidden, k):
        output, final = naive_recurrent_hgrn(*hgrn_inputs(p, h, hidden, k), output_final_state=True)
        torch.testing.assert_close(final.to(output.dtype), output[:, -1], rtol=0, atol=0)  # kept in float32
        return output

    assert_match(output_and_grads(through_fla, projection, h0, weights, 5, kind), expected, 1e-5)


@pytest.mark.parametrize("family, options", OPTION_SETS, ids=OPTION_IDS)
@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
def test_fla_mixers_with_the_reference_kernel_equal_linear(
    naive_recurrent_hgrn, monkeypatch, family, options, with_state
):
    """The whole ``fla`` mixer on CPU, FLA's CUDA kernel swapped for its pure-PyTorch reference:
    the wiring (dtypes, the folded initial state, the learned one's gradient) against ``linear``."""
    import fla.ops.hgrn

    monkeypatch.setattr(fla.ops.hgrn, "chunk_hgrn", naive_recurrent_hgrn)
    x = torch.randn(2, 70, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    state = 0.1 + torch.rand(2, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got, want = (
        forward_and_grads(mixer(family, backend, **options).double(), x, state if with_state else None)
        for backend in ("fla", "linear")
    )
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-5, atol=1e-5, msg=f"{family} {name}")
    if options.get("learn_init_state") and not with_state:
        assert got["h0_raw"].abs().max() > 1e-6  # the learned initial state is trained


def backend_function(backend):
    return lambda projection, h0, hidden, kind: gated.scan_projection(backend, projection, h0, hidden, kind)


def mixer(family, backend, seed=0, **options):
    torch.manual_seed(seed)
    return FAMILIES[family].make_mixer(4, backend, **options)


def forward_and_grads(module, x, state):
    """The output, the last state and every parameter's gradient of one weighted loss, by name."""
    out, last = module(x, state=state, return_state=True)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(3), dtype=out.dtype).to(out.device)
    names, parameters = zip(*module.named_parameters())
    grads = torch.autograd.grad((out * weights).sum(), parameters, materialize_grads=True)
    return {"out": out.detach(), "last": last.detach(), **dict(zip(names, grads))}


# --- the real kernels (CUDA) ---------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("family, options", OPTION_SETS, ids=OPTION_IDS)
@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
def test_fla_mixers_on_cuda_equal_linear_in_float32(family, options, with_state):
    reason = gated.probe("fla", "cuda")
    if reason:
        pytest.skip(reason)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 300, 4, generator=generator).cuda()  # 300 steps: two full chunks of 128 and a part
    state = (0.1 + torch.rand(3, 8, generator=generator)).cuda() if with_state else None
    fla_mixer = mixer(family, "fla", **options).cuda()
    assert fla_mixer.backend == "fla"
    got = forward_and_grads(fla_mixer, x, state)
    want = forward_and_grads(mixer(family, "linear", **options).cuda(), x, state)
    for name in want:
        scale = want[name].abs().max().item()
        error = (got[name] - want[name]).abs().max().item()
        assert error <= 1e-4 * max(scale, 1.0), f"{family} {name}: max abs error {error:.3g} (scale {scale:.3g})"
