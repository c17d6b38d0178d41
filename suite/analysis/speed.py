"""Speed figures measured within one run: the ``bench speed`` table, the min-RNNs' speed-ups over
the RNNs they simplify, and every timed cell's throughput over a reference model's.

Reads records only (no torch). Absolute times on shared machines are noise; ratios of timings taken
in the same run, seconds apart, are much less so, which is why every speed figure here is a ratio
within one run (see :mod:`suite.analysis.compare` for how ratios of two runs are judged).
"""

from __future__ import annotations

import pandas as pd

from suite.analysis.cell_labels import probe_mask
from suite.analysis.tables import TIMED_KINDS, is_flag_set, latest_records, noisy_flags

SPEED_RATIOS = {  # ratio name -> (record metric, higher_is_better)
    "train_speed_ratio": ("train_tokens_per_s", True),
    "prefill_speed_ratio": ("prefill_tokens_per_s", True),
    "decode_speed_ratio": ("decode_ms_per_token", False),
}


SPEED_COLUMNS = (
    "scope",
    "model",
    "backend",
    "seq_len",
    "batch_size",
    "status",
    "train_step_ms",
    "iqr_ms",
    "timing_repeats",
    "train_tokens_per_s",
    "bytes_per_s",
    "copy_bytes_per_s",
    "params",
    "timing_noisy",
    "error",
)


def speed_table(records: pd.DataFrame) -> pd.DataFrame:
    """The records of ``suite bench speed`` (kind ``"speed"``), one row each."""
    cells = latest_records(records)
    cells = cells[cells["kind"] == "speed"]
    table = cells.reindex(columns=list(SPEED_COLUMNS))
    table["timing_noisy"] = noisy_flags(table)
    return table.sort_values(["scope", "model", "seq_len"]).reset_index(drop=True)


# Whose speed-up is reported against whom: each min-RNN against the RNN it simplifies, as
# nn.GRU/nn.LSTM (cuDNN on CUDA) and as the paper's sequential Python-loop baseline.
SPEEDUP_BASELINES = {"mingru": ("gru", "gru:loop"), "minlstm": ("lstm", "lstm:loop")}


def speedups(speed: pd.DataFrame, baselines: dict = SPEEDUP_BASELINES) -> pd.DataFrame:
    """Speed-ups measured in one run: ``baseline train_step_ms / model train_step_ms`` per scope and length,
    for each model whose family has baselines; ``noisy`` when either timing was flagged noisy."""
    ok = speed[
        (speed["status"] == "ok")
        & speed["train_step_ms"].notna()
        & (speed["scope"] != "scan")
        & (speed["backend"] != "projections")
    ]  # a min-RNN's projections alone: its floor, not a model
    index = {(row.scope, row.model, row.seq_len): row for row in ok.itertuples()}
    rows = []
    for (scope, model, seq_len), row in sorted(
        index.items(), key=lambda item: (str(item[0][0]), str(item[0][1]), item[0][2])
    ):
        for baseline in baselines.get(model.partition(":")[0], ()):
            other = index.get((scope, baseline, seq_len))
            if other is not None:
                rows.append(
                    {
                        "scope": scope,
                        "seq_len": seq_len,
                        "model": model,
                        "backend": row.backend,
                        "baseline": baseline,
                        "baseline_backend": other.backend,
                        "speedup": other.train_step_ms / row.train_step_ms,
                        "noisy": is_flag_set(getattr(row, "timing_noisy", False))
                        or is_flag_set(getattr(other, "timing_noisy", False)),
                    }
                )
    return pd.DataFrame(
        rows, columns=["scope", "seq_len", "model", "backend", "baseline", "baseline_backend", "speedup", "noisy"]
    )


def speed_ratios(records: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Per ok timed record: its throughputs over the reference model's at the same
    length and batch in the same run (median over the reference's seeds); a ``bench
    speed`` record only against the reference's record of the same scope, a max-len
    probe only against the reference's probe."""
    timed = records[records["kind"].isin(TIMED_KINDS) & (records["status"] == "ok")]
    timed = timed.assign(scope=timed["scope"].fillna("").where(~probe_mask(timed), "max-len probe"))  # perf: none
    out = {}
    for _, group in timed.groupby(["kind", "scope", "seq_len", "batch_size"]):
        ref = group[group["model"] == reference]
        if ref.empty:
            continue
        ref_noisy = bool(noisy_flags(ref).any())
        for index, row in group.iterrows():
            for ratio, (metric, higher_is_better) in SPEED_RATIOS.items():
                ref_value, value = ref[metric].median(), row[metric]
                if pd.isna(ref_value) or pd.isna(value) or ref_value <= 0 or value <= 0:
                    continue
                out.setdefault(index, {})[ratio] = value / ref_value if higher_is_better else ref_value / value
                out[index]["noisy"] = ref_noisy or is_flag_set(row.get("timing_noisy"))
    return pd.DataFrame.from_dict(out, orient="index", columns=[*SPEED_RATIOS, "noisy"])
