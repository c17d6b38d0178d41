"""Selective copying by depth, paper vs measured: the run's accuracy per model and number of layers
(:func:`accuracy_by_layers`), the paper's depth effect (:func:`depth_effect`: 3-layer minGRU
99.5 ± 0.2, minLSTM 96.0 ± 2.8 in Feng et al. 2024; does accuracy grow with depth here, and do 3
layers reach 95%?) and the published selective-copying table next to the measured one
(:func:`selective_copy_table`). The verdict rules are those of :mod:`suite.analysis.paper`. Reads
records only (no torch).
"""

from __future__ import annotations

import pandas as pd

from suite.analysis import published, questions
from suite.analysis import tables as analysis
from suite.analysis.paper import ACCURACY_MIN_POINTS, accuracy_verdict, candidate_specs


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
                "train_steps": _median(ok, "steps_trained"),
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
