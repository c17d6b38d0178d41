"""Kernel-level speed tracking with pytest-benchmark: one training step (forward + loss +
backward) of each min-RNN scan backend and of the layers it is compared with.

Not timed assertions: run them for numbers, save, and compare runs::

    SUITE_BENCH_SHAPE=8,512,256 pytest tests/benchmarks/test_scan_speed.py --benchmark-only \\
        --benchmark-autosave
    SUITE_BENCH_SHAPE=8,512,256 pytest tests/benchmarks/test_scan_speed.py --benchmark-only \\
        --benchmark-compare --benchmark-compare-fail=median:10%

``SUITE_BENCH_SHAPE`` is ``batch,seq_len,d_model`` (default a small shape, so that the
plain test run stays quick); ``SUITE_BENCH_DEVICE`` picks the device (default cpu).
For the interleaved comparison with speed-ups, use ``python -m suite bench speed``.
"""

import os

import pytest
import torch

from models.scans import gated
from suite.measure.speed import mixer_subject

BATCH, SEQ_LEN, D_MODEL = (int(v) for v in os.environ.get("SUITE_BENCH_SHAPE", "2,128,32").split(","))
DEVICE = os.environ.get("SUITE_BENCH_DEVICE", "cpu")
DTYPE = "bfloat16-autocast" if DEVICE.startswith("cuda") else "float32"


def runnable(specs):
    from suite.registry import resolve_backend

    chosen = []
    for spec in specs:
        try:
            resolve_backend(spec, DEVICE)
            chosen.append(spec)
        except Exception as error:  # noqa: BLE001 — shown as the skip reason
            chosen.append(pytest.param(spec, marks=pytest.mark.skip(reason=str(error))))
    return chosen


@pytest.mark.parametrize("backend", gated.BACKENDS)
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_scan_forward_backward(benchmark, backend, kind):
    reason = gated.probe(backend, DEVICE)
    if reason:
        pytest.skip(reason)
    width = 2 if kind == "gru" else 3
    element = torch.bfloat16 if DEVICE.startswith("cuda") else torch.float32
    projection = torch.randn(BATCH, SEQ_LEN, width * D_MODEL, device=DEVICE, dtype=element, requires_grad=True)

    def step():
        projection.grad = None
        gated.scan_projection(backend, projection, None, D_MODEL, kind).square().mean().backward()
        if DEVICE.startswith("cuda"):
            torch.cuda.synchronize()

    benchmark.extra_info.update(batch=BATCH, seq_len=SEQ_LEN, hidden=D_MODEL, device=DEVICE)
    benchmark(step)
    assert torch.isfinite(projection.grad).all()


@pytest.mark.parametrize(
    "spec",
    runnable(
        [
            "mingru:linear",
            "mingru:log",
            "minlstm:linear",
            "minlstm:log",
            "gru",
            "gru:loop",
            "lstm",
            "lstm:loop",
            "mingru:triton",
            "minlstm:triton",
            "mingru:fla",
            "minlstm:fla",
        ]
    ),
)
def test_mixer_training_step(benchmark, spec):
    subject = mixer_subject(spec, SEQ_LEN, BATCH, D_MODEL, DEVICE, DTYPE, seed=0)

    def step():
        subject.step()
        if DEVICE.startswith("cuda"):
            torch.cuda.synchronize()

    benchmark.extra_info.update(batch=BATCH, seq_len=SEQ_LEN, d_model=D_MODEL, backend=subject.backend)
    benchmark(step)
