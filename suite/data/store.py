"""Where data sets live and how a cached file is trusted: the data root, manifests and atomic writes.

Layout: ``<root>/<dataset>/`` holds the dataset's files and ``manifest.json`` (name, version,
source, licence, the file's name, size and sha256). The root is ``--data-dir``, else
``$SUITE_DATA_DIR``, else ``$XDG_CACHE_HOME/suite/data``, else ``~/.cache/suite/data``.

A cached file is trusted only through its manifest, and the manifest is written last: every file
is written under a temporary name in its final directory, flushed with ``fsync`` and renamed into
place (``os.replace``, atomic on one file system), then the directory is synced. A fetch killed at
any point leaves either no manifest (the data set counts as missing) or a manifest whose file
matches it. Every use re-hashes the file: one whose sha256 differs from its manifest's is refused,
never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from suite.errors import UsageError

MANIFEST = "manifest.json"
MANIFEST_KEYS = ["name", "version", "licence", "source", "file", "sha256"]
TEMP_PREFIX = ".partial-"  # files a fetch is still writing; a later fetch removes them


class DataMissing(UsageError):
    """A data set that is not on this machine; the message names the command that fetches it."""


@dataclass(frozen=True)
class DatasetInfo:
    """One data set as found on disk: what it is, where it came from and the sha256 that was checked."""

    name: str
    version: str
    licence: str | None
    source: str
    sha256: str
    path: Path
    size_bytes: int

    def record_fields(self) -> dict:
        """The fields every record made from this data set carries."""
        return {
            "dataset": self.name,
            "dataset_version": self.version,
            "dataset_sha256": self.sha256,
            "dataset_licence": self.licence,
        }


def data_root(explicit: str | Path | None = None) -> Path:
    """``--data-dir`` > ``$SUITE_DATA_DIR`` > ``$XDG_CACHE_HOME/suite/data`` > ``~/.cache/suite/data``."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("SUITE_DATA_DIR"):
        return Path(os.environ["SUITE_DATA_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "suite" / "data"


def fetch_command(name: str, root: Path, *extra: str) -> str:
    """The command that fetches ``name`` into ``root`` (``--data-dir`` only when it is not the default)."""
    parts = ["python -m suite data fetch", name, *extra]
    if Path(root).resolve() != data_root().resolve():
        parts.append(f"--data-dir {root}")
    return " ".join(parts)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict | None:
    """The manifest of a data set's directory, or None when there is none (not fetched, or a fetch
    that did not finish)."""
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path} ({error}): fetch the data set again with --force") from None
    missing = [key for key in MANIFEST_KEYS if key not in manifest] if isinstance(manifest, dict) else MANIFEST_KEYS
    if missing:
        raise UsageError(f"{path} lacks {', '.join(missing)}: fetch the data set again with --force")
    return manifest


def verified(manifest: dict, directory: Path, refetch: str) -> DatasetInfo:
    """The data set a manifest describes, after checking its file's sha256; a mismatch or a missing
    file is refused with the command that fetches it again."""
    path = Path(directory) / manifest["file"]
    name = manifest["name"]
    if not path.exists():
        raise UsageError(f"{name}: {path} is missing though its manifest lists it; re-fetch with `{refetch}`")
    digest = sha256_file(path)
    if digest != manifest["sha256"]:
        raise UsageError(
            f"{name}: {path} has sha256 {digest[:12]}..., its manifest says {manifest['sha256'][:12]}...: "
            f"the cache is corrupt and is not used; re-fetch with `{refetch}`"
        )
    return DatasetInfo(
        name, manifest["version"], manifest["licence"], manifest["source"], digest, path, path.stat().st_size
    )


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, chunks) -> None:
    """Write the byte strings ``chunks`` to ``path`` atomically: a temporary file in the same
    directory, fsync, rename, directory fsync. On any failure the temporary file is removed and
    ``path`` is untouched."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)  # mkstemp makes it 0600; data is for every user
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def write_manifest(directory: Path, manifest: dict) -> None:
    atomic_write(Path(directory) / MANIFEST, [json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"])


def forget(directory: Path) -> None:
    """Untrust a data set before its files are replaced: remove its manifest, then any leftovers
    of a fetch that did not finish."""
    directory = Path(directory)
    (directory / MANIFEST).unlink(missing_ok=True)
    for leftover in directory.glob(TEMP_PREFIX + "*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


@dataclass(frozen=True)
class Dataset:
    """A data set the suite knows by name: what ``suite data list`` shows, and how to find and fetch it.

    ``locate(root)`` finds it on disk without downloading (:class:`DataMissing` when absent);
    ``fetch(root, offline, force)`` gets it and returns what ``locate`` will then find.
    """

    name: str
    kind: str  # "text" (one corpus file) or "images" (a directory of IDX files)
    description: str
    version: str
    licence: str
    source: str
    locate: Callable[[Path], DatasetInfo]
    fetch: Callable[[Path, bool, bool], DatasetInfo]


def locate_cached(name: str, root: Path) -> DatasetInfo:
    """A fetched data set under ``root``: its manifest's file, sha256-checked; missing when no
    manifest (never fetched, or a fetch that did not finish)."""
    directory = Path(root) / name
    manifest = read_manifest(directory)
    if manifest is None:
        raise DataMissing(f"data set {name!r} is not in {root}: fetch it with `{fetch_command(name, root)}`")
    return verified(manifest, directory, fetch_command(name, root, "--force"))
