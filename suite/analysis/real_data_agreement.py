"""Synthetic against real (:func:`agreement`): for each synthetic task setting, each language-model
setting and each of two real-data metrics (:data:`REAL_METRICS`: the test loss, and the test loss on
recall tokens only), Spearman's rank correlation (:mod:`suite.analysis.rank_correlation`) between the
models' seed-mean accuracy on the synthetic task and their seed-mean loss (negated: positive rho means
the rankings agree) over the models both measured, with its approximate 95% interval (Fisher's z),
permutation p-value and a caveat when fewer than :data:`FEW_MODELS` models are compared. It takes
two record sets (a synthetic run and a real-data run: ``suite report RUN --synthetic OTHER_RUN``) or
one run holding both; ``synthetic_runs`` names the runs the synthetic side came from.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from suite.analysis.missing import is_missing, is_present
from suite.analysis.rank_correlation import rank_correlation
from suite.analysis.real_data import FEW_MODELS, lm_seed_table, lm_table, synthetic_cells
from suite.analysis.real_data_recall import recall_table

AGREEMENT_COLUMNS = (
    "synthetic_task",
    "synthetic_variant",
    "synthetic_len",
    "synthetic_d_model",
    "synthetic_n_layers",
    "real_task",
    "dataset",
    "real_len",
    "real_d_model",
    "real_n_layers",
    "real_metric",
    "synthetic_runs",
    "models",
    "n",
    "rho",
    "ci_low",
    "ci_high",
    "ci_method",
    "p_value",
    "p_method",
    "caveat",
    "sentence",
)


# --------------------------------------------------------------------------- synthetic vs real
def _variant_label(variant) -> str:
    try:
        params = json.loads(variant) if isinstance(variant, str) else {}
    except ValueError:
        return str(variant)
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) if params else "default"


def _synthetic_scores(records: pd.DataFrame) -> tuple[dict, dict]:
    """``{(task, variant, length, width, depth, matching): {model: seed-mean accuracy}}`` of the ok
    synthetic cells not cut by the time guard, and ``{setting: the sorted run ids its cells came from}``."""
    cells = synthetic_cells(records)
    ok = cells[(cells["status"] == "ok")] if len(cells) else cells
    if len(ok) and "cut_by_time" in ok.columns:  # a cell the time guard cut is kept out, as from verdicts
        ok = ok[~ok["cut_by_time"].fillna(False).astype(bool)]
    scores: dict = {}
    runs: dict = {}
    for key, group in ok.groupby(
        ["task", "task_variant", "train_len", "budget_width", "n_layers", "param_match", "model"], dropna=False
    ):
        accuracy = pd.to_numeric(group["accuracy"], errors="coerce").dropna()
        if len(accuracy):
            scores.setdefault(key[:-1], {})[key[-1]] = float(accuracy.mean())
            ids = group["run_id"].dropna() if "run_id" in group.columns else []
            runs.setdefault(key[:-1], set()).update(str(r) for r in ids)
    return scores, {key: sorted(ids) for key, ids in runs.items()}


# The real-data side's metrics: column of its table -> the words a sentence uses.
REAL_METRICS = {"test_loss": "test loss", "recall_loss": "test loss on recall tokens"}


def _real_scores(table: pd.DataFrame, metric: str) -> dict:
    """``{(task, dataset, length, width, depth, matching): {model: seed-mean metric}}`` of one table
    (:func:`~suite.analysis.real_data.lm_table` or :func:`~suite.analysis.real_data_recall.recall_table`)."""
    scores: dict = {}
    if metric not in table.columns:
        return scores
    values = table.assign(_value=pd.to_numeric(table[metric], errors="coerce")).dropna(subset=["_value"])
    for _, row in values.iterrows():
        key = (row["task"], row["dataset"], row["train_len"], row["budget_width"], row["n_layers"], row["param_match"])
        scores.setdefault(key, {})[row["model"]] = float(row["_value"])
    return scores


def _variant_text(variant) -> str:
    return "" if variant in (None, "", "default") else f"{variant}, "


def _number_text(value, digits: str = ".2f") -> str:
    return "n/a" if is_missing(value) else f"{value:{digits}}"


def _shape(entry: dict, side: str) -> str:
    """``, d_model W, L layers`` of one side of an entry when the two sides' shapes differ, else ``""``."""
    mine = (entry[f"{side}_d_model"], entry[f"{side}_n_layers"])
    other = "real" if side == "synthetic" else "synthetic"
    if mine == (entry[f"{other}_d_model"], entry[f"{other}_n_layers"]):
        return ""
    return f", d_model {_number_text(mine[0], '.0f')}, {_number_text(mine[1], '.0f')} layers"


def agreement_sentence(entry: dict) -> str:
    """One :func:`agreement` entry in words, with its caveat."""
    where = (
        f"the ranking by accuracy on {entry['synthetic_task']} ({_variant_text(entry['synthetic_variant'])}"
        f"T={_number_text(entry['synthetic_len'], '.0f')}"
        f"{_shape(entry, 'synthetic')}) and by {REAL_METRICS[entry['real_metric']]} on {entry['real_task']} "
        f"({entry['dataset'] or 'corpus'}, "
        f"T={_number_text(entry['real_len'], '.0f')}{_shape(entry, 'real')})"
    )
    if is_missing(entry["rho"]):
        text = f"Spearman's rho between {where} cannot be said: {entry['caveat']}"
        return text if text.endswith(".") else text + "."
    interval = (
        f"95% interval [{entry['ci_low']:.2f}, {entry['ci_high']:.2f}] ({entry['ci_method']})"
        if is_present(entry["ci_low"])
        else f"no interval ({entry['ci_method']})"
    )
    text = (
        f"Spearman's rho between {where}: {entry['rho']:.2f} over n = {entry['n']} models, {interval}, "
        f"permutation p = {entry['p_value']:.3g} ({entry['p_method']})."
    )
    return text + (f" {entry['caveat']}" if entry["caveat"] else "")


def _caveat(n: int) -> str:
    if n < FEW_MODELS:
        return (
            f"With only {n} models the rank correlation is very imprecise: read it as a hint, not a finding "
            f"(with 4 models no ranking reaches p < 0.05)."
        )
    return ""


def _correlation(models: list, accuracy: dict, loss: dict) -> dict:
    """The rho, interval, p-value and caveat of one entry over ``models`` (the fields to update)."""
    if len(models) < 3:
        return {"caveat": f"{len(models)} model(s) measured on both (at least 3 are needed)"}
    result = rank_correlation([accuracy[m] for m in models], [-loss[m] for m in models])
    return {
        "rho": result.rho,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "ci_method": "Fisher z, se = sqrt(1.06 / (n - 3))"
        if is_present(result.ci_low)
        else ("needs n >= 4" if len(models) < 4 else "undefined at |rho| = 1"),
        "p_value": result.p_value,
        "p_method": result.p_method,
        "caveat": _caveat(len(models)) if is_present(result.rho) else "one ranking is a tie between every model",
    }


def agreement(synthetic_records: pd.DataFrame, real_records: pd.DataFrame | None = None) -> pd.DataFrame:
    """Spearman's rho between the ranking of models on each synthetic task setting and their ranking
    by each real metric on each language-model setting (see the module docstring). ``real_records`` defaults
    to ``synthetic_records``: one run holding both. Models are matched by their spec (``model``);
    a pair of settings with fewer than 3 models in common gets no rho, with the reason."""
    real_records = synthetic_records if real_records is None else real_records
    synthetic, runs = _synthetic_scores(synthetic_records)
    seeds = lm_seed_table(real_records)
    tables = {"test_loss": lm_table(seeds), "recall_loss": recall_table(seeds)}
    real = [
        (key, metric, loss)
        for metric in REAL_METRICS
        for key, loss in sorted(_real_scores(tables[metric], metric).items(), key=lambda item: str(item[0]))
    ]
    rows = []
    for setting, accuracy in sorted(synthetic.items(), key=lambda item: str(item[0])):
        task, variant, length, width, depth, _ = setting
        for (real_task, dataset, real_len, real_width, real_depth, _), metric, loss in real:
            models = sorted(set(accuracy) & set(loss))
            entry = {
                "synthetic_task": task,
                "synthetic_variant": _variant_label(variant),
                "synthetic_len": length,
                "synthetic_d_model": width,
                "synthetic_n_layers": depth,
                "real_task": real_task,
                "dataset": dataset,
                "real_len": real_len,
                "real_d_model": real_width,
                "real_n_layers": real_depth,
                "real_metric": metric,
                "synthetic_runs": runs[setting],
                "models": models,
                "n": len(models),
                "rho": math.nan,
                "ci_low": math.nan,
                "ci_high": math.nan,
                "ci_method": None,
                "p_value": math.nan,
                "p_method": None,
                "caveat": "",
            }
            entry.update(_correlation(models, accuracy, loss))
            entry["sentence"] = agreement_sentence(entry)
            rows.append(entry)
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))


# --------------------------------------------------------------------------- the analysis's key
