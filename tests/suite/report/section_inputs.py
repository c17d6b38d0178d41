"""What every report section builder takes, made for a run folder in the report's tests."""

from suite.analysis.run_analysis import analyse
from suite.analysis.tables import load_results
from suite.records.store import read_manifest
from suite.report.html import ReportInputs
from suite.report.palette import model_palette


def inputs_of(run_dir, manifest_problem=None):
    """The section builders' inputs for the run in ``run_dir``, its analysis built from the records."""
    records = load_results(run_dir)
    try:
        manifest = read_manifest(run_dir)
    except FileNotFoundError:
        manifest = {}
    palette = model_palette(records["model"])
    return ReportInputs(records, manifest, manifest_problem, palette, analyse(records, manifest))
