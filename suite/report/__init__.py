"""The HTML report of a run: ``write_report(run_dir)`` writes one self-contained
``report.html`` (figures embedded as base64 PNG, no external resources) and the run's
``analysis.json`` beside its records.

Reads records only, analysed once (:mod:`suite.analysis.run_analysis`); one module per
section in :mod:`suite.report.sections`; needs pandas, matplotlib and seaborn, not torch.
"""

__all__ = ["write_report", "build_report_html"]


def __getattr__(name):
    """``write_report``/``build_report_html`` from :mod:`suite.report.html`, imported on first use,
    so the report's submodules never wait on this package's own import."""
    if name in __all__:
        from suite.report import html

        return getattr(html, name)
    raise AttributeError(f"module 'suite.report' has no attribute {name!r}")
