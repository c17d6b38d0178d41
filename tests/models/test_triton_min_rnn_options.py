"""The Triton backend with the official minRNN options: the free-gate minLSTM kernels
(``KIND`` 2) against the float64 step loop and compiled for sm_90, and a minLSTM with every
option on (bias, learned initial state, forget bias, no normalisation) giving the linear
backend's outputs and gradients. Without CUDA the kernels run in Triton's CPU interpreter
(see ``test_triton_scan.py``, which tests the other two kinds the same way): tiny shapes,
with chunks and channel blocks of 4, so that 5 steps and 5 channels cross two chunks, a
partial last chunk and a partial channel block."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed (pip install -e '.[test]' installs it)")

import models.minlstm  # noqa: E402
from models.scans.triton_scan import triton_gated_scan  # noqa: E402
from tests.models.test_scans import assert_match, inputs, output_and_grads, step_loop  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
OFFICIAL = dict(bias=True, learn_init_state=True, forget_bias=3.0, gate_norm=False, decay_gates=False)
KIND = "lstm-unnormalised"

COMPILE_FREE_GATE_KERNELS = """
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from models.scans import triton_scan
from tests.models.triton_aot import signature

block, chunk = triton_scan.BLOCK_H, triton_scan.CHUNK
scan = dict(KIND=triton_scan.LSTM_UNNORMALISED, WIDTH=3, CHUNK=chunk, BLOCK_H=block)
kernels = [(triton_scan._chunk_summary, scan), (triton_scan._chunk_forward, scan),
           (triton_scan._chunk_summary_reverse, scan),
           (triton_scan._chunk_backward, dict(HAS_H0=False, **scan)),
           (triton_scan._chunk_backward, dict(HAS_H0=True, **scan))]
for fn, constants in kernels:
    source = ASTSource(fn=fn, signature=signature(fn, constants),
                       constexprs={(fn.arg_names.index(k),): v for k, v in constants.items()})
    compiled = triton.compile(source, target=GPUTarget("cuda", 90, 32), options={"num_warps": max(1, block // 32)})
    assert compiled.asm.get("cubin"), fn.__name__
    print(fn.__name__, "sm_90 code")
"""


def test_free_gate_kernels_compile_for_sm90_without_a_gpu():
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # real JIT functions, not the interpreter
    done = subprocess.run(
        [sys.executable, "-c", COMPILE_FREE_GATE_KERNELS],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("sm_90 code") == 5


@pytest.mark.parametrize("with_state", [False, True])
def test_free_gate_kernels_equal_step_loop_float32(with_state):
    projection, h0, weights = inputs(KIND, 5, with_state, torch.float32)
    expected = output_and_grads(
        step_loop, projection.double(), h0.double() if with_state else None, weights.double(), 5, KIND
    )
    scan = lambda p, h, hidden, kind: triton_gated_scan(p, h, hidden, kind, chunk=4, block_h=4)  # noqa: E731
    got = output_and_grads(
        scan, projection.to(DEVICE), h0.to(DEVICE) if with_state else None, weights.to(DEVICE), 5, KIND
    )
    assert_match([t.cpu() if t is not None else None for t in got], expected, 1e-5)


def test_triton_minlstm_with_official_options_equals_linear():
    mixers = {}
    for backend in ("linear", "triton"):
        torch.manual_seed(0)
        mixers[backend] = models.minlstm.make_mixer(8, backend, **OFFICIAL).to(DEVICE)
    x = torch.randn(2, 7, 8, generator=torch.Generator().manual_seed(1)).to(DEVICE)
    results = {}
    for backend, mixer in mixers.items():
        out = mixer(x)
        out.square().sum().backward()
        results[backend] = (out.detach(), {name: p.grad for name, p in mixer.named_parameters()})
    torch.testing.assert_close(results["triton"][0], results["linear"][0], rtol=1e-5, atol=1e-5)
    for name, grad in results["linear"][1].items():
        torch.testing.assert_close(results["triton"][1][name], grad, rtol=1e-4, atol=1e-5, msg=name)
    assert results["triton"][1]["h0_raw"].abs().max() > 0
