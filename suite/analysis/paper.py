"""Paper vs measured: the published numbers of :mod:`suite.analysis.published` next to a
run's records, each row with a plain verdict. Reads records only (no torch).

Verdicts
--------
- ``agrees`` / ``disagrees``: the measured value is compared with the published
  one by the rule of its kind:

  * **speed-up** (minRNN over its sequential loop at the same length): agrees
    when the two are within half an order of magnitude,
    ``|log10(measured / published)| <= 0.5`` (a factor of about 3.16). A
    speed-up of a loop grows with the hardware's per-step launch cost, so a
    closer rule would judge the hardware, not the claim.
  * **memory ratio** (peak training-step memory of one model over another, same
    length and batch): agrees when ``measured / published`` is within 25%
    (``|measured / published - 1| <= 0.25``): the paper gives its ratios as
    "about 88%" and "about 56%" more.
  * **selective-copying accuracy** (per model and number of layers): agrees
    when the measured seed mean lies within the published mean +/- 2 published
    standard deviations (at least +/- 1 point).
- ``not measured here``: the run has no ok record for the point, with why.
- ``no published number``: the paper's value could not be confirmed; the reason
  is the data file's.

Every compared row also lists how the measured setting differs from the
published one (device, batch, length, steps, backend, and how training stopped
when it did not stop on the target or a plateau), so an "agrees" on different
hardware or from an undertrained model is read as what it is.

Selective copying by depth, and the depth effect (the paper's accuracy grows with
the number of layers), are :mod:`suite.analysis.paper_depth`: per minRNN, the run's
accuracy at each depth (the ``paper-selective-copy*`` presets train 1, 2 and 3
layers) says whether it grows with depth and whether 3 layers reach 95%, with each
depth's stop reason: a depth that stopped at a budget (max_steps) makes the
comparison one of undertrained models.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.analysis import published
from suite.analysis import tables as analysis
from suite.records.schema import ENERGY_NOT_REQUESTED

SPEED_ORDERS = 0.5
MEMORY_TOLERANCE = 0.25
ACCURACY_MIN_POINTS = 1.0
PAPER_HARDWARE = "T4 GPU"


def candidate_specs(name: str, present) -> list[str]:
    """The run's model specs that stand for a published model name: the name itself and,
    for a bare minRNN family, its log-space scan (the paper's implementation)."""
    options = [name] if ":" in name else [name, f"{name}:log"]
    return [spec for spec in options if spec in set(present)]


def speedup_verdict(measured: float, paper: float) -> str:
    return "agrees" if abs(math.log10(measured / paper)) <= SPEED_ORDERS else "disagrees"


def memory_verdict(measured: float, paper: float) -> str:
    return "agrees" if abs(measured / paper - 1) <= MEMORY_TOLERANCE else "disagrees"


def accuracy_verdict(measured_percent: float, paper: float, plus_minus: float | None) -> str:
    band = max(ACCURACY_MIN_POINTS, 2 * (plus_minus or 0.0))
    return "agrees" if abs(measured_percent - paper) <= band else "disagrees"


def _device_text(records: pd.DataFrame) -> str:
    names = analysis.join_distinct(records.get("device_name", pd.Series(dtype=object)))
    return names or analysis.join_distinct(records.get("device", pd.Series(dtype=object))) or "this machine"


def _perf_ok(records: pd.DataFrame) -> pd.DataFrame:
    perf = analysis.perf_table(records)
    return perf[perf["n_ok"] > 0]


def speedup_table(records: pd.DataFrame) -> pd.DataFrame:
    """Measured speed-ups (loop ``train_step_ms`` / minRNN ``train_step_ms``, same length) for every
    length both ran, with the published value and verdict where the paper gives one."""
    perf = _perf_ok(records)
    step = {(r.model, int(r.seq_len)): r for r in perf.itertuples() if pd.notna(r.train_step_ms)}
    device = _device_text(records)
    rows = []
    for (family, baseline), points in published.paper_speedups().items():
        for spec in candidate_specs(family, perf["model"]):
            lengths = sorted({length for model, length in step if model == spec} | set(points))
            for length in lengths:
                mine, theirs = step.get((spec, length)), step.get((baseline, length))
                paper = points.get(length)
                row = {
                    "model": spec,
                    "baseline": baseline,
                    "seq_len": length,
                    "paper": paper,
                    "measured": None,
                    "backend": None,
                    "batch_size": None,
                    "verdict": None,
                    "why": "",
                    "noisy": False,
                }
                if mine is None or theirs is None:
                    if paper is None:
                        continue
                    row.update(
                        verdict="not measured here",
                        why=f"the run has no ok {spec if mine is None else baseline} cell at T={length}",
                    )
                else:
                    row.update(
                        measured=theirs.train_step_ms / mine.train_step_ms,
                        backend=mine.backend,
                        batch_size=int(mine.batch_size),
                        noisy=analysis.is_flag_set(mine.timing_noisy) or analysis.is_flag_set(theirs.timing_noisy),
                    )
                    if paper is not None:
                        row["verdict"] = speedup_verdict(row["measured"], paper)
                        row["why"] = setting_difference(device, int(mine.batch_size), 64)
                rows.append(row)
    return pd.DataFrame(
        rows,
        columns=[
            "model",
            "baseline",
            "seq_len",
            "paper",
            "measured",
            "backend",
            "batch_size",
            "verdict",
            "why",
            "noisy",
        ],
    )


def setting_difference(device: str, batch: int | None, paper_batch: int | None, extra: str = "") -> str:
    parts = [] if PAPER_HARDWARE in device else [f"{PAPER_HARDWARE} vs {device}"]
    if batch is not None and paper_batch is not None and batch != paper_batch:
        parts.append(f"batch {paper_batch} vs {batch}")
    if extra:
        parts.append(extra)
    return "; ".join(parts)


def memory_table(records: pd.DataFrame) -> pd.DataFrame:
    """Measured training-step peak-memory ratios at every length both models ran, beside the
    published ratio."""
    perf = _perf_ok(records)
    memory = {
        (r.model, int(r.seq_len)): r
        for r in perf.itertuples()
        if pd.notna(r.train_peak_mem_bytes) and r.train_peak_mem_bytes > 0
    }
    device = _device_text(records)
    rows = []
    for entry in published.load()["memory"]["ratio"]:
        pairs = [
            (m, r)
            for m in candidate_specs(entry["model"], perf["model"])
            for r in candidate_specs(entry["reference"], perf["model"])
        ]
        found = False
        for model, reference in pairs:
            for length in sorted({length for spec, length in memory if spec == model}):
                mine, theirs = memory.get((model, length)), memory.get((reference, length))
                if mine is None or theirs is None:
                    continue
                found = True
                measured = mine.train_peak_mem_bytes / theirs.train_peak_mem_bytes
                extra = f"memory by {mine.peak_mem_method}"
                if model.partition(":")[0] == "mamba" and analysis.is_fallback_backend(mine.backend):
                    extra += f"; mamba ran {mine.backend} (the paper: its official kernels)"
                rows.append(
                    {
                        "model": model,
                        "reference": reference,
                        "seq_len": length,
                        "paper": entry["value"],
                        "measured": measured,
                        "verdict": memory_verdict(measured, entry["value"]),
                        "why": setting_difference(device, int(mine.batch_size), 64, extra),
                    }
                )
        if not found:
            rows.append(
                {
                    "model": entry["model"],
                    "reference": entry["reference"],
                    "seq_len": None,
                    "paper": entry["value"],
                    "measured": None,
                    "verdict": "not measured here",
                    "why": "the run has no ok training-step memory of both models at one length",
                }
            )
    return pd.DataFrame(rows, columns=["model", "reference", "seq_len", "paper", "measured", "verdict", "why"])


def energy_table(records: pd.DataFrame) -> pd.DataFrame:
    """Energy per token of every perf cell that asked for it (measured or with the reason it is null)."""
    cells = analysis.latest_records(records)
    cells = cells[(cells["kind"] == "perf") & (cells["energy_reason"].notna() | cells["energy_backend"].notna())]
    cells = cells[cells["energy_reason"].fillna("") != ENERGY_NOT_REQUESTED]
    columns = [
        "model",
        "backend",
        "seq_len",
        "batch_size",
        "energy_backend",
        "idle_watts",
        "train_joules_per_token",
        "decode_joules_per_token",
        "energy_reason",
    ]
    return cells.reindex(columns=columns).sort_values(["seq_len", "model"]).reset_index(drop=True)
