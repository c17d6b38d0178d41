"""The sequential baseline's cost against length: one training step (forward + backward) of
``gru:loop``/``lstm:loop`` (the suite's loop, stepping ``x.unbind(1)``) beside the same loop
written with ``x[:, t]`` (how it was written before: each step's backward then writes its slice
into a full ``[B, T, D]`` zero gradient, so the backward is O(T^2)), and minGRU's linear scan,
all at the same shape. A fair baseline grows linearly: T=4096 over T=1024 near 4x.

Not timed assertions: run them for numbers::

    SUITE_LOOP_SHAPE=8,64 pytest tests/benchmarks/test_loop_baseline.py --benchmark-only \\
        --benchmark-columns=median,iqr,rounds --benchmark-sort=name

``SUITE_LOOP_SHAPE`` is ``batch,d_model``; ``SUITE_LOOP_LENGTHS`` the lengths (default 64,256
for a quick plain run; the README's figures use 1024,4096).
"""

import os

import pytest
import torch

from models.rnn import RecurrentMixer
from suite.measure.speed import mixer_subject

BATCH, D_MODEL = (int(v) for v in os.environ.get("SUITE_LOOP_SHAPE", "2,16").split(","))
LENGTHS = [int(v) for v in os.environ.get("SUITE_LOOP_LENGTHS", "64,256").split(",")]


def indexed_loop(mixer: RecurrentMixer, x: torch.Tensor) -> torch.Tensor:
    """The loop as it was: ``x[:, t]`` per step (same cell, same weights, same result)."""
    state = mixer.init_state(x.shape[0], dtype=x.dtype)
    outputs = []
    for t in range(x.shape[1]):
        state = mixer.cell(x[:, t], state)
        outputs.append(state if mixer.cell_kind == "gru" else state[0])
    return torch.stack(outputs, dim=1)


@pytest.mark.parametrize("seq_len", LENGTHS)
@pytest.mark.parametrize("variant", ["unbind", "indexed"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_loop_train_step(benchmark, cell, variant, seq_len):
    torch.manual_seed(0)
    mixer = RecurrentMixer(cell, D_MODEL, backend="loop")
    x = torch.randn(BATCH, seq_len, D_MODEL, requires_grad=True)
    upstream = torch.randn(BATCH, seq_len, D_MODEL)
    run = mixer if variant == "unbind" else (lambda inputs: indexed_loop(mixer, inputs))

    def step():
        x.grad = None
        mixer.zero_grad(set_to_none=True)
        run(x).backward(upstream)

    benchmark.extra_info.update(cell=cell, variant=variant, seq_len=seq_len, batch=BATCH, d_model=D_MODEL)
    benchmark(step)
    with torch.no_grad():
        torch.testing.assert_close(mixer(x), indexed_loop(mixer, x))


@pytest.mark.parametrize("seq_len", LENGTHS)
def test_mingru_linear_train_step(benchmark, seq_len):
    subject = mixer_subject("mingru:linear", seq_len, BATCH, D_MODEL, "cpu", "float32", seed=0)
    benchmark.extra_info.update(seq_len=seq_len, batch=BATCH, d_model=D_MODEL)
    benchmark(subject.step)
