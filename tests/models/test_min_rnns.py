"""minGRU/minLSTM specifics: the log-space scan's precision and the paper's maths."""

import pytest
import torch

import models.mingru
import models.minlstm
from models.scans import gated
from models.scans.log_space import g, log_g, parallel_scan_log


@pytest.mark.parametrize("module", [models.mingru, models.minlstm])
def test_log_space_scan_never_runs_in_bfloat16(module, monkeypatch):
    seen = []

    def recording_scan(log_coeffs, log_values, has_initial=True):
        seen.append((log_coeffs.dtype, log_values.dtype))
        return parallel_scan_log(log_coeffs, log_values, has_initial)

    monkeypatch.setattr(gated, "parallel_scan_log", recording_scan)
    mixer = module.make_mixer(16, "log").to(torch.bfloat16)
    out = mixer(torch.randn(2, 9, 16, dtype=torch.bfloat16))
    assert seen == [(torch.float32, torch.float32)]
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_g_and_log_g_agree_and_are_positive():
    x = torch.linspace(-30, 30, 601, dtype=torch.float64)
    assert (g(x) > 0).all()
    torch.testing.assert_close(log_g(x), torch.log(g(x)))


def test_log_scan_equals_linear_recurrence_with_initial_state():
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(2, 50, 3, generator=generator, dtype=torch.float64)
    b = torch.rand(2, 50, 3, generator=generator, dtype=torch.float64)
    h0 = torch.rand(2, 3, generator=generator, dtype=torch.float64)
    expected, h = [], h0
    for t in range(50):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    log_values = torch.cat([h0.log().unsqueeze(1), b.log()], dim=1)
    torch.testing.assert_close(parallel_scan_log(a.log(), log_values), torch.stack(expected, 1))
    torch.testing.assert_close(parallel_scan_log(a.log(), b.log(), has_initial=False)[:, 0], b[:, 0])


def test_minlstm_gates_are_normalised():
    mixer = models.minlstm.make_mixer(8, "log").double()
    x = torch.randn(3, 8, dtype=torch.float64)
    state = torch.rand(3, mixer.hidden, dtype=torch.float64)
    candidate, forget, inp = mixer.to_hidden_and_gates(x).chunk(3, dim=-1)
    f, i = torch.sigmoid(forget), torch.sigmoid(inp)
    expected = f / (f + i) * state + i / (f + i) * g(candidate)
    _, h = mixer.step(x, state)
    torch.testing.assert_close(h, expected)


def test_minlstm_without_gate_norm_keeps_the_gates_free():
    """The official code's ``use_coeff_norm=False``: h_t = sigmoid(k_f) h_{t-1} + sigmoid(k_i) g(h~_t)."""
    mixer = models.minlstm.make_mixer(8, "log", bias=True, gate_norm=False).double()
    x = torch.randn(3, 8, dtype=torch.float64)
    state = torch.rand(3, mixer.hidden, dtype=torch.float64)
    candidate, forget, inp = mixer.to_hidden_and_gates(x).chunk(3, dim=-1)
    expected = torch.sigmoid(forget) * state + torch.sigmoid(inp) * g(candidate)
    _, h = mixer.step(x, state)
    torch.testing.assert_close(h, expected)
