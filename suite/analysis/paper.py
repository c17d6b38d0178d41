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

The depth effect (:func:`depth_effect`): the paper's selective-copying accuracy
grows with the number of layers (3-layer minGRU 99.5 ± 0.2, minLSTM 96.0 ± 2.8).
Per minRNN, the run's accuracy at each depth (the ``paper-selective-copy*``
presets train 1, 2 and 3 layers) says whether it grows with depth and whether
3 layers reach 95%, with each depth's stop reason: a depth that stopped at a
budget (max_steps, time budget) makes the comparison one of undertrained models.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.analysis import published, questions
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


BY_LAYERS_COLUMNS = [
    "model",
    "n_layers",
    "seq_len",
    "n_ok",
    "status",
    "accuracy",
    "std",
    "train_steps",
    "max_steps",
    "backend",
    "steps_to_target",
    "seconds_to_target",
    "target_accuracy",
    "eval_every",
    "stop_reasons",
    "finished",
    "valid_curve",
    "task_params",
]


def _stops(ok: pd.DataFrame) -> tuple[str, bool]:
    """The distinct stop reasons of the ok seeds (``"not recorded"`` for a seed without one, ``"still
    rising"`` appended to a budget stop that was), and whether every seed finished learning: stopped
    on the target or on a plateau."""
    parts, finished = [], True
    for reason, rising in zip(ok.get("stop_reason", [None] * len(ok)), ok.get("still_rising", [None] * len(ok))):
        reason = reason if isinstance(reason, str) and reason else "not recorded"
        if questions.rising_at_budget(reason, rising):
            reason += ", still rising"
        finished &= reason in ("target", "plateau")
        if reason not in parts:
            parts.append(reason)
    return "; ".join(parts), finished and len(ok) > 0


def _median(ok: pd.DataFrame, name: str):
    values = pd.to_numeric(ok.get(name, pd.Series(dtype=float)), errors="coerce").dropna()
    return values.median() if len(values) else None


def accuracy_by_layers(records: pd.DataFrame) -> pd.DataFrame:
    """Selective-copying accuracy per (model, n_layers, seq_len): seed mean and standard deviation (in
    %), seeds, training steps (median steps trained, largest step budget), backend, steps and seconds
    to the target (medians over the seeds that reached it), how training stopped (``stop_reasons``,
    ``finished``: every seed on the target or a plateau, see :func:`_stops`) and one valid_curve."""
    cells = analysis.latest_records(records)
    cells = cells[(cells["kind"] == "accuracy") & (cells["task"] == "selective-copy")]
    if cells.empty:
        return pd.DataFrame(columns=BY_LAYERS_COLUMNS)
    cells = cells.assign(
        n_layers=cells["model_config"].map(lambda c: c.get("n_layers") if isinstance(c, dict) else None)
    )
    out = []
    for (model, layers, length), group in cells.groupby(["model", "n_layers", "seq_len"], sort=True):
        ok = group[group["status"] == "ok"]
        values = 100 * ok["accuracy"].astype(float)
        stops, finished = _stops(ok)
        budgets = pd.to_numeric(ok.get("max_steps", pd.Series(dtype=float)), errors="coerce").dropna()
        out.append(
            {
                "model": model,
                "n_layers": int(layers),
                "seq_len": int(length),
                "n_ok": len(ok),
                "status": analysis.group_status(group["status"]),
                "accuracy": values.mean() if len(ok) else None,
                "std": values.std(ddof=1) if len(ok) > 1 else None,
                "train_steps": _median(ok, "train_steps"),
                "max_steps": budgets.max() if len(budgets) else None,
                "backend": analysis.join_distinct(group["backend"]),
                "steps_to_target": _median(ok, "steps_to_target"),
                "seconds_to_target": _median(ok, "seconds_to_target"),
                "target_accuracy": ok["target_accuracy"].max() if len(ok) else None,
                "eval_every": ok["eval_every"].max() if len(ok) else None,
                "stop_reasons": stops,
                "finished": finished,
                "valid_curve": ok["valid_curve"].iloc[0] if len(ok) else None,
                "task_params": group["task_params"].iloc[0],
            }
        )
    return pd.DataFrame(out, columns=BY_LAYERS_COLUMNS)


DEPTH_MODELS = ("mingru", "minlstm")
DEPTH_BAR = 95.0  # percent: the paper's minRNNs are above it at 3 layers


def _depth_trend(accuracies: list[float]) -> str:
    """Whether accuracy grows with depth: ``grows`` when no extra layer lowers it by more than
    :data:`ACCURACY_MIN_POINTS` and the deepest beats the shallowest by more than that; ``flat``
    when every depth is within that of the others; else ``does not grow``."""
    if max(accuracies) - min(accuracies) <= ACCURACY_MIN_POINTS:
        return "flat"
    steady = all(b >= a - ACCURACY_MIN_POINTS for a, b in zip(accuracies, accuracies[1:]))
    return "grows" if steady and accuracies[-1] > accuracies[0] + ACCURACY_MIN_POINTS else "does not grow"


def depth_effect(records: pd.DataFrame) -> list[dict]:
    """Per minRNN (:data:`DEPTH_MODELS`): does the paper's depth effect hold at the run's scale?

    From :func:`accuracy_by_layers` at the run's longest selective-copying length per depth:
    ``depths`` (n_layers, accuracy %, stop reasons), ``trend`` (:func:`_depth_trend`, None with
    fewer than two depths), ``bar_at_3`` (3-layer accuracy >= :data:`DEPTH_BAR`; None without a
    3-layer cell), ``finished`` (every depth stopped on the target or a plateau: otherwise the
    comparison is of undertrained models) and ``sentence``, all of it in words."""
    measured = accuracy_by_layers(records)
    published_by_layers = {(r["model"], r.get("n_layers")): r for r in published.load()["selective_copy"]["result"]}
    out = []
    for family in DEPTH_MODELS:
        specs = candidate_specs(family, measured["model"])
        rows = measured[(measured["model"] == specs[0]) & (measured["n_ok"] > 0)] if specs else measured.iloc[0:0]
        deepest = rows.sort_values("seq_len").groupby("n_layers").tail(1).sort_values("n_layers")
        if deepest.empty:
            continue
        depths = [(int(r.n_layers), float(r.accuracy), r.stop_reasons) for r in deepest.itertuples()]
        trend = _depth_trend([a for _, a, _ in depths]) if len(depths) > 1 else None
        three = [a for layers, a, _ in depths if layers == 3]
        entry = {
            "model": specs[0],
            "seq_len": int(deepest["seq_len"].max()),
            "depths": depths,
            "trend": trend,
            "bar_at_3": (three[0] >= DEPTH_BAR) if three else None,
            "finished": bool(deepest["finished"].all()),
            "paper": published_by_layers.get((family, 3), {}),
        }
        entry["sentence"] = depth_sentence(entry)
        out.append(entry)
    return out


def depth_sentence(entry: dict) -> str:
    """:func:`depth_effect`'s verdict on one minRNN, in words."""
    each = ", ".join(
        f"{layers} layer{'s' if layers > 1 else ''} {accuracy:.1f}% ({stops})"
        for layers, accuracy, stops in entry["depths"]
    )
    paper = entry["paper"]
    quoted = f"{paper['value']} ± {paper['plus_minus']}" if paper.get("value") is not None else "not confirmed"
    trend = {
        None: "one depth only: whether accuracy grows with depth cannot be said",
        "grows": "accuracy grows with depth, as in the paper",
        "flat": "accuracy is the same at every depth (within 1 point): no depth effect shows",
        "does not grow": "accuracy does not grow with depth: the paper's depth effect does not hold",
    }[entry["trend"]]
    bar = {
        None: "there is no 3-layer cell to hold to the paper's >= 95%",
        True: f"at 3 layers it reaches >= {DEPTH_BAR:g}% as the paper's {quoted} does",
        False: f"at 3 layers it stays below {DEPTH_BAR:g}% (the paper: {quoted})",
    }[entry["bar_at_3"]]
    text = f"{entry['model']} at T={entry['seq_len']}: {each}; {trend}; {bar}."
    if not entry["finished"]:
        text += (
            " Not every cell stopped on the target or a plateau, so this compares undertrained models"
            " (or, where no stop is recorded, models of which it is not known whether they finished)."
        )
    return text


def selective_copy_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per published row (minRNNs by layers, then the Mamba paper's baselines): published value,
    measured seed mean at the run's longest selective-copying length, verdict and why."""
    data = published.load()["selective_copy"]
    measured = accuracy_by_layers(records)
    rows = []
    for entry in data["result"] + data["baseline"]:
        model, layers = entry["model"], entry.get("n_layers")
        spec = model if layers is not None else ("mamba" if model.startswith("Mamba + S6") else None)
        layers = layers if layers is not None else (2 if spec else None)  # Mamba's table: 2-layer models
        row = {
            "model": model,
            "n_layers": layers,
            "paper": entry.get("value"),
            "paper_pm": entry.get("plus_minus"),
            "measured": None,
            "measured_std": None,
            "verdict": None,
            "why": "",
        }
        match = (
            measured[(measured["model"] == spec) & (measured["n_layers"] == layers)]
            if spec and len(measured)
            else measured.iloc[0:0]
        )
        match = match[match["n_ok"] > 0].sort_values("seq_len")
        if spec is None:
            row.update(verdict="not measured here", why="the suite has no such model")
        elif match.empty:
            row.update(verdict="not measured here", why=f"the run has no ok {spec} cell with {layers} layer(s)")
        else:
            best = match.iloc[-1]
            row.update(measured=best["accuracy"], measured_std=best["std"])
            params = best["task_params"] if isinstance(best["task_params"], dict) else {}
            differences = [f"T 4096 vs {best['seq_len']}"] if best["seq_len"] != 4096 else []
            if params.get("num_data_tokens") not in (None, 16):
                differences.append(f"16 vs {params['num_data_tokens']} data tokens")
            if pd.notna(best["train_steps"]):
                differences.append(f"400k vs {int(best['train_steps'])} steps")
            if not best["finished"]:
                differences.append(f"stopped: {best['stop_reasons']}")
            if analysis.is_fallback_backend(best["backend"]):
                differences.append(f"{spec} ran {best['backend']}")
            row["why"] = "; ".join(differences)
        if entry.get("value") is None:
            row.update(verdict="no published number", why=entry.get("reason", ""))
        elif row["measured"] is not None:
            row["verdict"] = accuracy_verdict(row["measured"], entry["value"], entry.get("plus_minus"))
        rows.append(row)
    return pd.DataFrame(
        rows, columns=["model", "n_layers", "paper", "paper_pm", "measured", "measured_std", "verdict", "why"]
    )


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
