"""One writer per run directory: the driver holds ``<run_dir>/.lock`` for the whole run.

``RunLock(run_dir)`` takes an exclusive ``fcntl.flock`` on the lock file, without
waiting. A second driver (a second ``run --out D``, a ``--resume`` beside a live
run, two ``--resume`` at once) is refused at once with one line that names the
holder (pid, host, start time and command, written into the lock file by the
holder), and nothing in the directory is touched. The kernel drops a ``flock``
when its holder dies however it dies, so a lock left by a killed run is simply
taken by the next one: there is no stale-lock clean-up to do, and none to get
wrong. The lock file stays in the directory (removing it would let a third
process lock the removed file while a second locks a new one); it holds no
results.

Network filesystems. On Linux, NFS clients turn ``flock`` into POSIX byte-range
locks, which the server (NFSv4, or NFSv3 with lockd) honours across machines:
the rule above holds for a Slurm login node and compute nodes sharing ``--out``.
Lustre honours ``flock`` across nodes only when mounted with ``-o flock``;
mounted with ``-o localflock`` it holds per node only, and with neither it
fails (``ENOSYS``). Where ``flock`` fails (``ENOLCK``, ``ENOSYS``,
``EOPNOTSUPP``, ``EINVAL``) the suite falls back to the holder the lock file
names: it refuses when that holder is a live process on this host, or any
process on another host (it cannot tell whether that one is alive; the message
says to delete the file if that run is gone), and takes the lock otherwise. The
fallback has a window of a few milliseconds between reading and writing the
holder, which ``flock`` does not; the message of a refusal says which of the
two was in force.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import socket
import sys
from pathlib import Path

from suite.errors import UsageError

LOCK = ".lock"
UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


class RunDirBusy(UsageError):
    """Another driver holds the run directory; the message names it."""


def left_by_a_run(run_dir) -> bool:
    """Whether a driver has ever locked ``run_dir``: the lock file is its first write, so a folder
    that holds it but no manifest is a run killed in its first moment (``--resume`` starts it
    afresh), and a folder without it never held a run."""
    return (Path(run_dir) / LOCK).is_file()


def _holder_text(holder: dict) -> str:
    if not holder:
        return "another process (it has not written its name yet)"
    return f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}" + (
        f": {holder['command']}" if holder.get("command") else ""
    )


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True  # someone else's process, or an unreadable pid: assume it lives
    return True


class RunLock:
    """Context manager: the exclusive lock on ``run_dir`` (created if missing); see the module docstring."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self.mode = "flock"
        self._file = None

    def read_holder(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}

    def _refuse(self, holder: dict, advice: str):
        if self.mode == "flock" and holder.get("host") == socket.gethostname() and not _alive(holder.get("pid")):
            holder = {}  # the name of the run before: the new holder has not written its own yet
        raise RunDirBusy(
            f"--out {self.run_dir} is in use by {_holder_text(holder)} ({self.mode} lock): "
            f"{advice}; nothing there was changed"
        )

    def acquire(self) -> RunLock:
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise UsageError(f"--out {self.run_dir} is a file, not a directory: choose another --out")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a+", encoding="utf-8")
        except OSError as error:
            raise UsageError(
                f"--out {self.run_dir} cannot be written ({error.strerror}): choose a writable folder"
            ) from None
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.read_holder()
            self._file.close()
            self._refuse(holder, "wait for it to finish, or choose another --out")
        except OSError as error:
            if error.errno not in UNSUPPORTED:
                raise
            self.mode = "holder-file"
            self._fallback()
        self._write_holder()
        return self

    def _fallback(self) -> None:
        """``flock`` is not honoured here: go by the holder the file names."""
        holder = self.read_holder()
        if holder.get("pid") is None or holder.get("pid") == os.getpid():
            return
        if holder.get("host") != socket.gethostname():
            self._file.close()
            self._refuse(
                holder,
                f"its host's processes cannot be seen from here; if that run is gone, delete "
                f"{self.path} and start again",
            )
        if _alive(holder["pid"]):
            self._file.close()
            self._refuse(holder, "wait for it to finish, or choose another --out")

    def _write_holder(self) -> None:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python -m suite", *sys.argv[1:]])[:300],
        }
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps(holder) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def release(self) -> None:
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate()  # a finished run names no holder (the fallback must not take it for a live one)
        self._file.flush()
        self._file.close()  # closing drops the flock
        self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
