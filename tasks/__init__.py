"""Synthetic tasks: one file per task, each following ``tasks.base.Task``.

Each task module exposes ``TASK`` (a factory taking the task's parameters)
and ``DESCRIPTION``. Nothing here knows models or the harness.
"""

from tasks.base import Batch, Task, stream

__all__ = ["Batch", "Task", "stream"]
