"""The Triton kernels against the float64 step loop. Without CUDA they run in Triton's
CPU interpreter (``tests/conftest.py`` sets ``TRITON_INTERPRET=1``), which steps a
program at a time in Python: tiny shapes only, with small chunks and channel blocks
so that every path (several chunks, a partial last chunk, a partial channel block,
a carried state) is crossed."""

import pytest
import torch

from tests.models.test_scans import KINDS, assert_match, inputs, output_and_grads, step_loop

pytest.importorskip("triton", reason="triton is not installed (pip install -e '.[test]' installs it)")
from models.scans.triton_scan import triton_gated_scan  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def small_blocks(projection, h0, hidden, kind):
    return triton_gated_scan(projection, h0, hidden, kind, chunk=4, block_h=4)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("seq_len", [1, 4, 11])
@pytest.mark.parametrize("with_state", [False, True])
def test_triton_equals_step_loop_float32(kind, seq_len, with_state):
    projection, h0, weights = inputs(kind, seq_len, with_state, torch.float32)
    expected = output_and_grads(
        step_loop, projection.double(), h0.double() if with_state else None, weights.double(), 5, kind
    )
    to = dict(device=DEVICE)
    got = output_and_grads(
        small_blocks, projection.to(**to), h0.to(**to) if with_state else None, weights.to(**to), 5, kind
    )
    assert_match([t.cpu() if t is not None else None for t in got], expected, 1e-6 * max(seq_len, 1))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_triton_bfloat16_inputs_within_one_percent(kind):
    projection, h0, weights = inputs(kind, 11, True, torch.bfloat16)
    expected = output_and_grads(step_loop, projection.double(), h0.double(), weights.double(), 5, kind)
    got = output_and_grads(small_blocks, projection.to(DEVICE), h0.to(DEVICE), weights.to(DEVICE), 5, kind)
    assert got[0].dtype == torch.float32 and got[1].dtype == torch.bfloat16
    for g_tensor, e_tensor in zip(got, expected):
        torch.testing.assert_close(g_tensor.cpu().double(), e_tensor, rtol=1e-2, atol=1e-2)


def test_triton_default_blocks_in_a_mixer_equal_the_step_loop():
    """The mixer as a model uses it (default chunk and block sizes), forward against ``step``."""
    import models.mingru

    torch.manual_seed(0)
    mixer = models.mingru.make_mixer(8, "triton").to(DEVICE)
    x = torch.randn(1, 9, 8, device=DEVICE)
    with torch.no_grad():
        parallel = mixer(x)
        state, stepped = mixer.init_state(1, device=DEVICE), []
        for t in range(9):
            out, state = mixer.step(x[:, t], state)
            stepped.append(out)
    torch.testing.assert_close(parallel, torch.stack(stepped, 1), rtol=1e-5, atol=1e-5)


def test_triton_refuses_float64():
    with pytest.raises(TypeError, match="use the 'linear' backend"):
        triton_gated_scan(torch.zeros(1, 2, 4, dtype=torch.float64), None, 2, "gru")


def test_kernels_compile_for_sm90_without_a_gpu():
    """The interpreter does not type-check control flow the way the compiler does: compile every
    kernel (both gate kinds, with and without an initial state) to sm_90 machine code on the CPU."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run(
        [sys.executable, str(root / "tests" / "models" / "triton_aot.py")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("sm_90 code") == 20
