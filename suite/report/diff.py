"""The diff report of ``suite compare --html``: both runs side by side, one row
per cell and metric, regressions first and highlighted, improvements marked,
the provenance of both runs and a warning when they ran on different hardware
or backends. One self-contained page (see :mod:`suite.report.template`)."""

from __future__ import annotations

from pathlib import Path

from suite.report.format import format_change, format_value
from suite.report.template import Section, render, render_page

VERDICT_TITLES = {
    "regression": "Regressions",
    "worse": "Worse (not gated)",
    "improvement": "Improvements",
    "changed": "Status and verdict changes",
    "noisy": "Noisy timings (not gated)",
    "same": "Within tolerance",
    "info": "Shown, not gated",
}


def rows_for_template(rows):
    return [
        {
            "verdict": r["verdict"],
            "cell": r["cell"],
            "metric": r["metric"],
            "baseline": format_value(r["metric"], r["baseline"]),
            "current": format_value(r["metric"], r["current"]),
            "change": format_change(r["metric"], r["change"]),
            "reason": r["reason"],
            "sort_change": "" if r["change"] != r["change"] else f"{r['change']:.6g}",
        }
        for _, r in rows.iterrows()
    ]


def build_diff_html(comparison) -> str:
    rows = comparison.rows
    groups = [
        (verdict, title, rows_for_template(rows[rows["verdict"] == verdict]))
        for verdict, title in VERDICT_TITLES.items()
        if (rows["verdict"] == verdict).any()
    ]
    tol = comparison.tolerances
    baseline, current = comparison.baseline.provenance(), comparison.current.provenance()
    keys = [k for k in baseline if k != "backends"]
    models = sorted(set(baseline["backends"]) | set(current["backends"]))
    sections = [
        Section(
            "summary",
            "Summary",
            render(
                "diff_summary.html.j2",
                comparison=comparison,
                regressions=len(comparison.regressions),
                improvements=len(comparison.improvements),
                tol=tol,
            ),
        ),
        *[
            Section(verdict, f"{title} ({len(items)})", render("diff_rows.html.j2", rows=items, verdict=verdict))
            for verdict, title, items in groups
        ],
        Section(
            "provenance",
            "Provenance of both runs",
            render(
                "diff_provenance.html.j2",
                keys=keys,
                baseline=baseline,
                current=current,
                models=models,
                labels=(comparison.baseline.label, comparison.current.label),
            ),
        ),
    ]
    title = f"suite compare: {comparison.baseline.label} vs {comparison.current.label}"
    return render_page(title, sections, render("diff_header.html.j2", title=title, warnings=comparison.warnings))


def write_diff_report(comparison, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_diff_html(comparison), encoding="utf-8")
    return path
