"""suite.analysis.regimes: MQAR's measured filler-key rate per vocabulary, reported above the limit."""

import pytest

from suite.analysis import tables as analysis
from suite.analysis.regimes import FILLER_KEY_RATE_LIMIT, filler_key_rates
from tests.suite.report.test_report import make_record, write_run


def mqar(seq_len, vocab, rate, seed=0, status="ok", task="mqar"):
    record = make_record("accuracy", "mingru", task, seq_len, seed=seed, status=status)
    record["task_params"] = {"vocab_size": vocab}
    record["task_diagnostics"] = {"key_in_filler_rate": rate}
    return record


def test_filler_key_rates_reports_vocabularies_above_the_limit(tmp_path):
    records = [
        mqar(64, 32, 0.2),
        mqar(64, 32, 0.4, seed=1),
        mqar(256, 8192, 0.001),  # below the limit: not reported
        mqar(256, 32, 0.9, status="error"),  # not ok: not counted
        mqar(64, 32, 0.9, task="copy"),  # another task
    ]
    rates = filler_key_rates(analysis.load_results(write_run(tmp_path, records)))
    assert len(rates) == 1
    (entry,) = rates
    assert entry["task"] == "mqar" and entry["vocab_size"] == 32
    assert entry["rate"] == pytest.approx(0.3)
    assert (entry["low"], entry["high"]) == (pytest.approx(0.2), pytest.approx(0.4))
    assert entry["high"] > FILLER_KEY_RATE_LIMIT


def test_filler_key_rates_is_empty_without_mqar_diagnostics(tmp_path):
    records = [make_record("perf", "mingru", "mqar", 128), make_record("accuracy", "mingru", "mqar", 64)]
    assert filler_key_rates(analysis.load_results(write_run(tmp_path, records))) == []
