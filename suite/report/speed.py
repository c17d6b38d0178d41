"""The report's speed section, for runs of ``suite bench speed`` (records with a ``scope``).

Time of one training step against length, log-log, one line per model/backend
and one panel per scope; the speed-ups measured in the run; the scans'
bandwidth against a copy of the same bytes. How the numbers are taken is in
:mod:`suite.speed`.
"""
from __future__ import annotations

import pandas as pd

from suite import analysis
from suite.report import plots

SCOPE_TITLES = {"mixer": "mixer alone, fwd+bwd", "model": "whole model, fwd+loss+bwd"}


def speed_section(records: pd.DataFrame) -> str:
    """HTML of the section, or ``""`` when the run has no speed records (escaping: the report's helpers)."""
    from suite.report.html import format_number, image, table

    speed = analysis.speed_table(records)
    if speed.empty:
        return ""
    timed = speed[speed["scope"] != "scan"].copy()
    timed["model"] = timed["model"] + " (" + timed["backend"].fillna("?") + ")"
    panels = [(scope, title) for scope, title in SCOPE_TITLES.items() if (timed["scope"] == scope).any()]
    parts = ['<h2 id="speed">Speed: training-step time vs length</h2>',
             '<p class="note">Median milliseconds of one step (forward, loss, backward; no optimizer), subjects '
             'timed interleaved in one run; log-log. Mixer scope: recurrent layers at equal hidden width '
             '(minGRU/minLSTM expansion 1 vs nn.GRU/nn.LSTM(D, D)).</p>']
    for scope, _ in panels:  # one column per scope, so both panels share one legend
        timed[f"median_ms_{scope}"] = timed["median_ms"].where(timed["scope"] == scope)
    parts.append(image(plots.metric_vs_seq_len(timed.assign(task=None), [
        (f"median_ms_{scope}", title, "ms per step", 1.0) for scope, title in panels]),
        "step time vs seq_len", "no step was timed"))
    ratios = analysis.speedups(speed)
    if not ratios.empty:
        parts.append("<h3>Speed-ups measured in this run</h3>")
        parts.append('<p class="note">How many times faster the model is than the baseline: baseline median / '
                     'model median, same run, same length.</p>')
        parts.append(table(["scope", "seq_len", "model", "backend", "baseline", "baseline backend", "speed-up"],
                           [[r.scope, str(int(r.seq_len)), r.model, r.backend, r.baseline, r.baseline_backend,
                             f"{r.speedup:.2f}x"] for r in ratios.itertuples()]))
    scans = speed[(speed["scope"] == "scan") & speed["bytes_per_s"].notna() & (speed["backend"] != "copy")]
    if not scans.empty:
        parts.append("<h3>Scan bandwidth</h3>")
        parts.append('<p class="note">Forward of the scan alone: (projection bytes read + h bytes written) / '
                     'median time, against a device copy of the same bytes timed in the same run.</p>')
        rows = []
        for r in scans.itertuples():
            fraction = r.bytes_per_s / r.copy_bytes_per_s if r.copy_bytes_per_s and r.copy_bytes_per_s > 0 else None
            rows.append([r.model, str(int(r.seq_len)), format_number(r.median_ms), f"{r.bytes_per_s / 1e9:.2f}",
                         f"{r.copy_bytes_per_s / 1e9:.2f}" if fraction is not None else "—",
                         f"{fraction:.1%}" if fraction is not None else "—"])
        parts.append(table(["scan", "seq_len", "median ms", "GB/s", "copy GB/s", "of copy"], rows))
    return "\n".join(parts)
