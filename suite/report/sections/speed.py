"""The report's speed section, for runs of ``suite bench speed`` (records of kind ``"speed"``).

Time of one training step against length, log-log, one line per model/backend
and one panel per scope; the speed-ups measured in the run; the scans'
bandwidth against a copy of the same bytes. How the numbers are taken is in
:mod:`suite.measure.speed`.
"""

from __future__ import annotations


from suite.report import plots
from suite.report.format import NO_VALUE, NOISY_MARK, Cell, cells, format_number, timed_cell
from suite.report.template import section

SCOPE_TITLES = {"mixer": "mixer alone, fwd+bwd", "model": "whole model, fwd+loss+bwd"}


def speed_section(inputs):
    """The section, or None when the run has no speed records."""
    speed = inputs.analysis.speed
    if speed.empty:
        return None
    timed = speed[speed["scope"] != "scan"].copy()
    timed["model"] = timed["model"] + " (" + timed["backend"].fillna("?") + ")"
    panels = [(scope, title) for scope, title in SCOPE_TITLES.items() if (timed["scope"] == scope).any()]
    for scope, _ in panels:  # one column per scope, so the panels share one legend
        timed[f"median_ms_{scope}"] = timed["train_step_ms"].where(timed["scope"] == scope)
    png = (
        plots.metric_vs_seq_len(
            timed.assign(task=None), [(f"median_ms_{scope}", title, "ms per step", 1.0) for scope, title in panels]
        )
        if panels
        else None
    )
    ratios = [
        [
            r.scope,
            str(int(r.seq_len)),
            r.model,
            r.backend,
            r.baseline,
            r.baseline_backend,
            Cell((NOISY_MARK if r.noisy else "") + f"{r.speedup:.2f}x", "num noisy" if r.noisy else "num"),
        ]
        for r in inputs.analysis.speedups.itertuples()
    ]
    scans = []
    measured = speed[(speed["scope"] == "scan") & speed["bytes_per_s"].notna() & (speed["backend"] != "copy")]
    for r in measured.itertuples():
        has_copy = r.copy_bytes_per_s == r.copy_bytes_per_s and r.copy_bytes_per_s  # not NaN, not 0
        scans.append(
            [
                r.model,
                str(int(r.seq_len)),
                timed_cell(r.train_step_ms, format_number, r.timing_noisy),
                f"{r.bytes_per_s / 1e9:.2f}",
                f"{r.copy_bytes_per_s / 1e9:.2f}" if has_copy else NO_VALUE,
                f"{r.bytes_per_s / r.copy_bytes_per_s:.1%}" if has_copy else NO_VALUE,
            ]
        )
    return section(
        "speed",
        "Speed: training-step time vs length",
        "speed.html.j2",
        png=png,
        ratios=cells(ratios),
        scans=cells(scans),
    )
