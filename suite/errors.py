"""The one error a user can fix: :class:`UsageError`.

Every error that means "the input is wrong" (an unknown model or preset, a
length a task cannot make, an ``--out`` that already holds a run, executor
options that cannot work together) is a ``UsageError`` or a subclass, raised with
one line that names the problem and the fix. ``python -m suite`` prints that line
and exits 2. Anything else is a bug: it shows its traceback and exits 1.
"""

from __future__ import annotations


class UsageError(ValueError):
    """Bad input; the message is one line naming the problem and the fix."""
