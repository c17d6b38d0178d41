"""Task variants in words: a task-parameter JSON (an outcome's ``task_variant``) as the parameters
that tell it apart from the task's other variants (``num_kv_pairs=4``), or all of them."""

from __future__ import annotations

import json

import pandas as pd

from suite.analysis.missing import is_missing


def variant_params(variant: str) -> dict:
    """A task-parameter JSON (``task_variant``) as a dict, without the parameters that are unset."""
    try:
        params = json.loads(variant) if isinstance(variant, str) else {}
    except ValueError:
        return {}
    if not isinstance(params, dict):
        return {}
    return {key: value for key, value in params.items() if not is_missing(value)}


def _params_text(params: dict, keys) -> str:
    return ", ".join(f"{key}={params[key]}" for key in keys if key in params)


def variant_labels(variants) -> dict:
    """Each task-parameter JSON → the parameters that differ between them (``num_kv_pairs=4``), or
    ``default`` where there is one variant. Pass one task's variants: another task's parameters
    would otherwise count as differing."""
    parsed = {variant: variant_params(variant) for variant in variants}
    keys = sorted(
        {
            key
            for params in parsed.values()
            for key in params
            if len({json.dumps(p.get(key), default=str) for p in parsed.values()}) > 1
        }
    )
    return {variant: _params_text(params, keys) or "default" for variant, params in parsed.items()}


def variant_labels_by_task(table: pd.DataFrame) -> dict:
    """``(task, task_variant)`` → :func:`variant_labels` among that task's variants only."""
    labels = {}
    for task, group in table.groupby("task", sort=False):
        for variant, label in variant_labels(group["task_variant"].unique()).items():
            labels[(task, variant)] = label
    return labels


def variant_text(variant: str) -> str:
    """All of a task variant's parameters, readable: ``num_kv_pairs=4, vocab_size=32``."""
    params = variant_params(variant)
    return _params_text(params, sorted(params)) or "default parameters"
