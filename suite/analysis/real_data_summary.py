"""The ``real_data`` key of ``analysis.json``: every real-data table of a run together."""

from __future__ import annotations


import pandas as pd

from suite.analysis.real_data import (
    LM_SEED_COLUMNS,
    OVERFIT_RELATIVE,
    has_real_data,
    lm_seed_table,
    lm_table,
    paper_reference,
)
from suite.analysis.real_data_agreement import AGREEMENT_COLUMNS, agreement
from suite.analysis.real_data_images import classification_table
from suite.analysis.real_data_recall import loss_by_position, recall_table


def real_data_tables(records: pd.DataFrame, synthetic_records: pd.DataFrame | None = None) -> dict:
    """``analysis.json``'s ``real_data`` (DataFrames and dicts; empty when the run has no real data).
    The agreement compares the run's language models with the synthetic accuracy cells of the run
    and of ``synthetic_records`` (other runs' records, ``suite report --synthetic``)."""
    if not has_real_data(records):
        return {}
    seeds = lm_seed_table(records)
    synthetic = records if synthetic_records is None else pd.concat([records, synthetic_records], ignore_index=True)
    return {
        "lm": lm_table(seeds),
        "lm_seeds": seeds[list(LM_SEED_COLUMNS)],
        "loss_by_position": loss_by_position(seeds),
        "recall": recall_table(seeds),
        "classification": classification_table(records),
        "agreement": agreement(synthetic, records) if len(seeds) else pd.DataFrame(columns=list(AGREEMENT_COLUMNS)),
        "paper": paper_reference(),
        "overfit_rule": {
            "relative": OVERFIT_RELATIVE,
            "text": f"the last validation loss is above the best by more than {OVERFIT_RELATIVE:.0%} of the best, "
            "after the best",
        },
    }
