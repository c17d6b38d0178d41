"""The task regimes a run measured, which the report warns about: where a task is not the one
published numbers come from (reads records only; no torch)."""

from __future__ import annotations

import pandas as pd

from suite.analysis.missing import is_present
from suite.analysis.questions import _config, accuracy_records

FILLER_KEY_RATE_LIMIT = 0.05  # MQAR: above this, the task is not the one published numbers measure
ZOOLOGY_VOCAB_SIZE, ZOOLOGY_FILLER_KEY_RATE = 8192, 0.006


def filler_key_rates(records: pd.DataFrame) -> list[dict]:
    """MQAR's regime per vocabulary size: the mean measured ``task_diagnostics.key_in_filler_rate``
    (the fraction of queries whose key also occurs in the filler tokens, so a model cannot tell the
    key-value pair from noise by the key alone) over the ok records that measured it, and its range,
    for every vocabulary where some record exceeds :data:`FILLER_KEY_RATE_LIMIT`."""
    cells = accuracy_records(records)
    if cells.empty or "task_diagnostics" not in cells:
        return []
    cells = cells[(cells["task"] == "mqar") & (cells["status"] == "ok")]
    rates = [
        (_config(params, "vocab_size"), _config(facts, "key_in_filler_rate"))
        for params, facts in zip(cells["task_params"], cells["task_diagnostics"])
    ]
    by_vocab: dict = {}
    for vocab, rate in rates:
        if isinstance(rate, (int, float)) and is_present(rate):
            by_vocab.setdefault(vocab, []).append(float(rate))
    return [
        {
            "task": "mqar",
            "vocab_size": vocab,
            "rate": sum(values) / len(values),
            "low": min(values),
            "high": max(values),
        }
        for vocab, values in sorted(by_vocab.items(), key=lambda item: str(item[0]))
        if max(values) > FILLER_KEY_RATE_LIMIT
    ]
