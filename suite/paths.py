"""Where the repository is: results, reports and baselines default to folders under it."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
