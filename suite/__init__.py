"""suite: an architecture-comparison benchmark harness for sequence models.

The Python API the CLI is built on::

    from suite import build_model, get_task, load_results, register_model, register_task
"""

from suite.registry import get_task, register_model, register_task
from suite.stacks import build_model

__version__ = "0.1.0"


def load_results(path):
    """Records of a run directory (or a ``records.jsonl`` file) as a pandas DataFrame."""
    from suite.analysis.tables import load_results as _load

    return _load(path)


__all__ = ["build_model", "get_task", "load_results", "register_model", "register_task", "__version__"]
