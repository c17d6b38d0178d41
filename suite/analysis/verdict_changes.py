"""What ``compare`` says about verdicts: the verdicts of two runs' analyses
(:mod:`suite.analysis.run_analysis`, read from each run's ``analysis.json`` where it is current, built from
the records otherwise), matched outcome by outcome.

An outcome is one (task, task parameters, model, width, depth, matching, training length,
evaluation length), aggregated over seeds (:func:`suite.analysis.questions.outcome_table`). Its
verdict kind (solved, fails, undertrained, cut by time, inconclusive, control fails, not run ok) is
compared, not its wording:

- ``worse``: solved in the baseline and not now;
- ``improvement``: solved now and not in the baseline;
- ``changed``: any other change of kind (e.g. inconclusive to fails);
- ``same``: the same kind (the wording may differ: a reason, an interval).

Verdict changes are shown, never gated: the accuracy gate judges the numbers behind them against
the baseline's spread, and a verdict can change with its control's (another model's) result.
Outcomes only one run has are the missing cells the record matching already lists.
"""

from __future__ import annotations

import math

OUTCOME_IDENTITY = (
    "task",
    "task_variant",
    "model",
    "d_model",
    "n_layers",
    "param_match",
    "train_len",
    "eval_len",
)


def _number_text(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def outcome_key(entry: dict) -> tuple:
    """An analysis verdict entry's identity (:data:`OUTCOME_IDENTITY`), numbers as text so that
    ``64`` and ``64.0`` (JSON written by two runs) match."""
    return tuple(None if entry.get(name) is None else _number_text(entry.get(name)) for name in OUTCOME_IDENTITY)


def outcome_label(entry: dict, widths_vary: bool, variants_vary: bool) -> str:
    """``model task T=<train_len> @<eval_len>`` as compare labels cells (no ``@`` at the training
    length), the task's parameters, the width and the depth added where the runs' outcomes differ in them."""
    label = f"{entry['model']} {entry['task']} T={_number_text(entry['train_len'])}"
    if variants_vary:
        label += f" {entry.get('task_variant')}"
    if entry.get("eval_len") is not None and entry["eval_len"] != entry["train_len"]:
        label += f" @{_number_text(entry['eval_len'])}"
    if widths_vary:
        label += f" [d_model={_number_text(entry.get('d_model'))}, n_layers={_number_text(entry.get('n_layers'))}]"
    if entry.get("param_match") not in (None, "width"):
        label += f" ({entry['param_match']} matched)"
    return label + " (verdict)"


def judged(before: dict, after: dict) -> tuple[str, str]:
    """(compare verdict, reason) for one outcome's verdict in the baseline and now."""
    was, now = before.get("verdict_kind"), after.get("verdict_kind")
    if was == now:
        return "same", ""
    reason = f"{was} -> {now}: {after.get('verdict')}"
    if was == "solved":
        return "worse", reason + " (not gated: see the accuracy rows)"
    if now == "solved":
        return "improvement", reason
    return "changed", reason


def verdict_rows(baseline: dict, current: dict) -> list[dict]:
    """One compare row per outcome of both analyses (``analysis.json`` documents): its verdict in
    each, judged by :func:`judged`; rows have the columns of
    :data:`suite.analysis.compare.ROW_COLUMNS` (metric ``verdict``)."""
    before = {outcome_key(e): e for e in baseline.get("verdicts") or []}
    after = {outcome_key(e): e for e in current.get("verdicts") or []}
    shared = [key for key in before if key in after]
    shapes = {(e.get("d_model"), e.get("n_layers")) for key in shared for e in (before[key], after[key])}
    variants = {}
    for key in shared:
        variants.setdefault(before[key]["task"], set()).add(before[key].get("task_variant"))
    rows = []
    for key in shared:
        b, c = before[key], after[key]
        verdict, reason = judged(b, c)
        rows.append(
            {
                "cell": outcome_label(b, len(shapes) > 1, len(variants[b["task"]]) > 1),
                "kind": "accuracy",
                "model": b["model"],
                "task": b["task"],
                "seq_len": b["train_len"],
                "batch_size": None,
                "metric": "verdict",
                "baseline": b.get("verdict_kind"),
                "current": c.get("verdict_kind"),
                "change": math.nan,
                "verdict": verdict,
                "reason": reason,
            }
        )
    return rows


__all__ = ["verdict_rows", "outcome_key", "judged", "OUTCOME_IDENTITY"]
