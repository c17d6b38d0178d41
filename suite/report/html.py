"""Write one self-contained HTML report of a run: header and provenance, a
headline, accuracy heatmaps and curves, the verdicts and equal-compute tables
(steps and seconds to the target), the accuracy/throughput Pareto plot,
throughput / decode latency / memory plots, and tables of the summary, of every
cell that did not finish ok and of every record.

The run is analysed once (:func:`suite.analysis.run_analysis.analyse`); every section
renders from that analysis, and :func:`write_report` writes it beside the records
as ``analysis.json`` (docs/analysis-json.md), which ``compare``, ``history`` and
the baseline check read.

The page is a list of sections, each made by a *section builder*
(``builder(inputs: ReportInputs) -> Section | None``, one module per section in
:mod:`suite.report.sections`) and rendered by a jinja2 template with
autoescaping (:mod:`suite.report.template`): every string from records or the
manifest is escaped. Figures are inline PNGs; the page makes no network request.
A section with no data says so instead of failing. A new kind of result adds its
own section with :func:`add_section_builder`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd

from suite.analysis.run_analysis import RunAnalysis, analyse, records_digest, write_analysis
from suite.analysis.tables import load_results
from suite.errors import UsageError
from suite.records.store import read_manifest
from suite.report import plots
from suite.report.format import distinct
from suite.report.sections import (
    accuracy,
    compute,
    curves,
    headline,
    hybrids,
    not_ok,
    paper,
    pareto,
    perf,
    provenance,
    questions,
    real_data,
    records as record_table,
    speed,
    status,
    summary,
)
from suite.report.sections.header import header
from suite.report.template import render_page


class ReportInputs(NamedTuple):
    """What every section builder gets: the run's records (a DataFrame from
    :func:`suite.analysis.tables.load_results`), its manifest, why the manifest could not be read
    (None when it could), a colour per model (:func:`suite.report.plots.model_palette` of every
    model of the run: every figure draws a model in this colour) and the run's analysis, built
    once (:class:`suite.analysis.run_analysis.RunAnalysis`: its tables and verdicts)."""

    records: pd.DataFrame
    manifest: dict
    manifest_problem: str | None
    palette: dict
    analysis: RunAnalysis


def _builders() -> list:
    return [
        ("headline", headline.headline_section),
        ("status", status.status_section),
        ("summary", summary.summary_section),
        ("accuracy", accuracy.accuracy_section),
        ("accuracy-curves", curves.accuracy_curves_section),
        ("questions", questions.questions_report_section),
        ("compute", compute.compute_section),
        ("hybrids", hybrids.hybrids_section),
        ("real-data", real_data.real_data_section),
        ("pareto", pareto.pareto_section),
        ("paper", paper.paper_section),
        ("speed", speed.speed_section),
        ("perf", perf.perf_section),
        ("not-ok", not_ok.not_ok_section),
        ("records", record_table.records_section),
        ("provenance", provenance.provenance_section),
    ]


_EXTRA_BUILDERS: list = []


def add_section_builder(section_id: str, builder, before: str = "provenance") -> None:
    """Add ``builder(inputs: ReportInputs) -> Section | None`` to every report,
    placed before the section with id ``before`` (the pluggable way for a new
    kind of result, e.g. a speed or length-extrapolation section, to appear)."""
    _EXTRA_BUILDERS.append((section_id, builder, before))


def section_builders() -> list:
    """The builders of the run report, in page order."""
    builders = _builders()
    for section_id, builder, before in _EXTRA_BUILDERS:
        ids = [existing for existing, _ in builders]
        builders.insert(ids.index(before) if before in ids else len(builders), (section_id, builder))
    return [builder for _, builder in builders]


def build_report_html(
    records: pd.DataFrame, manifest: dict, manifest_problem: str | None = None, analysis: RunAnalysis | None = None
) -> str:
    """The report page for ``records`` (from :func:`suite.analysis.tables.load_results`) and
    ``manifest``; ``analysis`` is built from them when not given."""
    analysis = analysis if analysis is not None else analyse(records, manifest)
    palette = plots.model_palette(records.get("model", []))
    inputs = ReportInputs(records, manifest, manifest_problem, palette, analysis)
    run_id = manifest.get("run_id") or distinct(records, "run_id") or "run"
    return render_page(
        f"suite report: {run_id}",
        [build(inputs) for build in section_builders()],
        header(records, manifest, manifest_problem),
    )


def write_report(run_dir, out_path=None, analysis_dir=None, synthetic_records: pd.DataFrame | None = None) -> Path:
    """Write the HTML report of ``run_dir`` (a run directory or its ``records.jsonl``)
    to ``out_path`` (default ``<run_dir>/report.html``) and the run's ``analysis.json`` to
    ``analysis_dir`` (default: beside the records); return the report's path. ``synthetic_records``
    (other runs', ``suite report --synthetic``) join the real-data agreement."""
    run_dir = Path(run_dir)
    records = load_results(run_dir)
    manifest, manifest_problem = {}, None
    try:
        manifest = read_manifest(run_dir)
    except (FileNotFoundError, ValueError) as error:
        manifest_problem = f"Manifest unavailable, provenance is incomplete: {error}"
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    analysis = analyse(records, manifest, records_digest(run_dir), synthetic_records)
    analysis_dir = Path(analysis_dir) if analysis_dir is not None else folder
    try:
        write_analysis(analysis, analysis_dir)
    except OSError as error:
        raise UsageError(
            f"analysis.json cannot be written into {analysis_dir} ({error.strerror}): it goes beside the "
            "records, so make the run folder writable (or copy the run somewhere writable)"
        ) from None
    out_path = Path(out_path) if out_path is not None else folder / "report.html"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(build_report_html(records, manifest, manifest_problem, analysis), encoding="utf-8")
    return out_path
