"""Unknown names and the "did you mean" hint: :class:`UnknownName` and :func:`did_you_mean`.

Torch-free and import-free (the standard library and :mod:`suite.errors` only), so every stage
(the registry, presets, analysis, commands) can name a typo's closest match.
"""

from __future__ import annotations

import difflib

from suite.errors import UsageError


class UnknownName(UsageError):
    """A name that is not registered; the message carries the suggestion."""


def did_you_mean(kind: str, name: str, known) -> UnknownName:
    """The error for ``name``, unknown among ``known`` (a ``kind`` of thing): it names the closest
    known name, when one is close, and lists them all."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return UnknownName(f"unknown {kind} {name!r}: {hint}known: {', '.join(known)}")
