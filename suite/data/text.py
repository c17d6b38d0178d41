"""Text corpora: a data set name or a path to a UTF-8 text file, checked before a task reads it.

A corpus must be a regular, non-empty file of UTF-8 text without NUL bytes. Anything else (a
missing path, a directory, an empty file, a binary file) is refused with one line
(:class:`CorpusError`, exit 2), so a task never trains on bytes it misread.

A user's file has no manifest: its record fields name the file (``dataset`` = the file's name,
``dataset_version`` = ``"file"``, ``dataset_sha256`` = the sha256 of its bytes, no licence), so two
runs on different files never compare as the same data.
"""

from __future__ import annotations

from pathlib import Path

from suite.data.store import DatasetInfo, sha256_file
from suite.errors import UsageError


class CorpusError(UsageError):
    """A corpus file that cannot be used as text; the message says why and what to pass instead."""


def file_info(path: str | Path) -> DatasetInfo:
    """The record fields of a user's text file (its sha256 is hashed now)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CorpusError(f"corpus {path} does not exist: pass a UTF-8 text file or a data set name")
    if not path.is_file():
        raise CorpusError(f"corpus {path} is not a file: pass a UTF-8 text file or a data set name")
    resolved = path.resolve()
    return DatasetInfo(path.name, "file", None, str(resolved), sha256_file(resolved), resolved, resolved.stat().st_size)


def read_text(path: str | Path) -> str:
    """The file's text, refused with one line when it is empty, holds NUL bytes or is not UTF-8."""
    path = Path(path)
    data = path.read_bytes()
    if not data:
        raise CorpusError(f"corpus {path} is empty: pass a UTF-8 text file")
    nul = data.find(b"\0")
    if nul >= 0:
        raise CorpusError(f"corpus {path} is binary (a NUL byte at offset {nul}): pass a UTF-8 text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(
            f"corpus {path} is not UTF-8 text (byte {error.start}: {error.reason}): pass a UTF-8 text file"
        ) from None
