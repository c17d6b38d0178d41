"""Synthetic against real (:func:`agreement`): for each synthetic task setting and each language-model
setting, Spearman's rank correlation (:mod:`suite.analysis.rank_correlation`) between the models'
seed-mean accuracy on the synthetic task and their test loss (negated: positive rho means the
rankings agree) over the models both measured, with its approximate 95% interval (Fisher's z),
permutation p-value and a caveat when fewer than :data:`FEW_MODELS` models are compared. It takes
two record sets (a synthetic run and a real-data run) or one run holding both.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from suite.analysis.missing import is_missing, is_present
from suite.analysis.rank_correlation import rank_correlation
from suite.analysis.real_data import FEW_MODELS, lm_seed_table, lm_table, synthetic_cells

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


def _synthetic_scores(records: pd.DataFrame) -> dict:
    """``{(task, variant, length, width, depth, matching): {model: seed-mean accuracy}}`` of the ok
    synthetic cells."""
    cells = synthetic_cells(records)
    ok = cells[(cells["status"] == "ok")] if len(cells) else cells
    scores: dict = {}
    for key, group in ok.groupby(
        ["task", "task_variant", "train_len", "budget_width", "n_layers", "param_match", "model"], dropna=False
    ):
        accuracy = pd.to_numeric(group["accuracy"], errors="coerce").dropna()
        if len(accuracy):
            scores.setdefault(key[:-1], {})[key[-1]] = float(accuracy.mean())
    return scores


def _real_scores(lm: pd.DataFrame) -> dict:
    """``{(task, dataset, length, width, depth, matching): {model: seed-mean test loss}}``."""
    scores: dict = {}
    for _, row in lm.dropna(subset=["test_loss"]).iterrows():
        key = (row["task"], row["dataset"], row["train_len"], row["budget_width"], row["n_layers"], row["param_match"])
        scores.setdefault(key, {})[row["model"]] = float(row["test_loss"])
    return scores


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
        f"the ranking by accuracy on {entry['synthetic_task']} (T={_number_text(entry['synthetic_len'], '.0f')}"
        f"{_shape(entry, 'synthetic')}) and by test loss on {entry['real_task']} ({entry['dataset'] or 'corpus'}, "
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


def agreement(synthetic_records: pd.DataFrame, real_records: pd.DataFrame | None = None) -> pd.DataFrame:
    """Spearman's rho between the ranking of models on each synthetic task setting and their ranking
    by test loss on each language-model setting (see the module docstring). ``real_records`` defaults
    to ``synthetic_records``: one run holding both. Models are matched by their spec (``model``);
    a pair of settings with fewer than 3 models in common gets no rho, with the reason."""
    real_records = synthetic_records if real_records is None else real_records
    synthetic = _synthetic_scores(synthetic_records)
    real = _real_scores(lm_table(lm_seed_table(real_records)))
    rows = []
    for (task, variant, length, width, depth, _), accuracy in sorted(synthetic.items(), key=lambda item: str(item[0])):
        for (real_task, dataset, real_len, real_width, real_depth, _), loss in sorted(
            real.items(), key=lambda item: str(item[0])
        ):
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
            if len(models) < 3:
                entry["caveat"] = f"{len(models)} model(s) measured on both (at least 3 are needed)"
            else:
                result = rank_correlation([accuracy[m] for m in models], [-loss[m] for m in models])
                entry.update(
                    rho=result.rho,
                    ci_low=result.ci_low,
                    ci_high=result.ci_high,
                    ci_method="Fisher z, se = sqrt(1.06 / (n - 3))"
                    if is_present(result.ci_low)
                    else ("needs n >= 4" if len(models) < 4 else "undefined at |rho| = 1"),
                    p_value=result.p_value,
                    p_method=result.p_method,
                    caveat=_caveat(len(models))
                    if is_present(result.rho)
                    else "one ranking is a tie between every model",
                )
            entry["sentence"] = agreement_sentence(entry)
            rows.append(entry)
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))


# --------------------------------------------------------------------------- the analysis's key
