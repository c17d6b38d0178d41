"""Tables, statistics, questions, the paper's numbers and run comparison, from records. Torch-free.

``analyse(records, manifest)`` builds a run's analysis once (:mod:`suite.analysis.run_analysis`;
written as ``analysis.json`` beside the records), ``analyse_run(run_dir)`` and
``load_analysis(run_dir)`` do so from a run directory. They are imported on first use, so importing
a light module of the package (``stats``, which the training loop uses) loads no pandas.
"""

__all__ = ["analyse", "analyse_run", "load_analysis", "RunAnalysis"]


def __getattr__(name):
    if name in __all__:
        from suite.analysis import run_analysis

        return getattr(run_analysis, name)
    raise AttributeError(f"module 'suite.analysis' has no attribute {name!r}")
