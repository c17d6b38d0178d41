"""Micro-benchmarks of one model forward + backward per family at a small CPU
shape (batch 4, 256 tokens, d_model 64, 2 layers). Benchmarks, not timed
assertions: save a run and compare a later one against it with

    pytest tests/benchmarks --benchmark-only --benchmark-autosave
    pytest tests/benchmarks --benchmark-only --benchmark-compare --benchmark-compare-fail=median:10%

(pytest-benchmark stores runs under .benchmarks/; the compare fails when a
median grew by more than 10% — meaningful on a dedicated machine only)."""

import pytest
import torch

from suite import build_model

FAMILIES = ("mingru", "minlstm", "gru", "lstm", "mamba", "mamba2", "transformer")


@pytest.mark.parametrize("spec", FAMILIES)
def test_forward_backward(benchmark, spec):
    torch.manual_seed(0)
    options = {"headdim": 16} if spec == "mamba2" else {}
    model = build_model(spec, vocab_size=64, d_model=64, n_layers=2, **options)
    tokens = torch.randint(0, 64, (4, 256))

    def step():
        model.zero_grad(set_to_none=True)
        logits = model(tokens)
        logits.float().mean().backward()
        return logits

    logits = benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=1)
    assert logits.shape == (4, 256, 64) and torch.isfinite(logits).all()
