"""The HTML report of a run: ``write_report(run_dir)`` writes one self-contained
``report.html`` (figures embedded as base64 PNG, no external resources).

Reads Records only (via :mod:`suite.analysis.tables`); needs pandas, matplotlib and
seaborn, not torch.
"""
from suite.report.html import build_report_html, write_report

__all__ = ["write_report", "build_report_html"]
