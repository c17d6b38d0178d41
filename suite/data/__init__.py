"""Real data sets: found on disk (``locate``) or fetched on request (``fetch``), never inside a cell.

``python -m suite data fetch NAME`` gets a data set into the data root (see :mod:`suite.data.store`
for the layout, the manifests and why an interrupted fetch is never trusted);
``python -m suite data list`` shows what is known and what is here. Building a task only calls
:func:`locate`, which never downloads: a missing data set is a :class:`DataMissing` naming the fetch
command. Torch-free: the command line imports it.
"""

from __future__ import annotations

from pathlib import Path

from suite.data import fashion_mnist, shakespeare
from suite.data.store import Dataset, DatasetInfo, DataMissing, data_root
from suite.data.text import CorpusError, file_info, read_text
from suite.naming import did_you_mean

__all__ = [
    "DATASETS",
    "CorpusError",
    "DataMissing",
    "Dataset",
    "DatasetInfo",
    "data_root",
    "fetch",
    "file_info",
    "get_dataset",
    "image_set",
    "locate",
    "read_text",
    "text_corpus",
]

DATASETS: dict[str, Dataset] = {dataset.name: dataset for dataset in (shakespeare.DATASET, fashion_mnist.DATASET)}


def get_dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise did_you_mean("data set", name, DATASETS)
    return DATASETS[name]


def locate(name: str, data_root: Path | str | None = None) -> DatasetInfo:
    """Data set ``name`` as it is on disk, checked against its manifest; never downloads."""
    return get_dataset(name).locate(_root(data_root))


def fetch(name: str, data_root: Path | str | None = None, offline: bool = False, force: bool = False) -> DatasetInfo:
    """Get data set ``name`` into the data root (atomically; nothing is downloaded when it is
    already there and matches its manifest). ``offline`` forbids downloading; ``force`` fetches
    again over a cache that does not match its manifest."""
    return get_dataset(name).fetch(_root(data_root), offline, force)


def text_corpus(corpus: str, data_root: Path | str | None = None) -> DatasetInfo:
    """A text corpus: a data set name (located, never downloaded) or a path to a text file. A bare
    word that is neither a data set nor an existing file is an unknown data set (did you mean)."""
    text_sets = sorted(name for name, dataset in DATASETS.items() if dataset.kind == "text")
    if corpus in DATASETS:
        if corpus not in text_sets:
            raise CorpusError(f"data set {corpus!r} is not text: use one of {', '.join(text_sets)} or a text file")
        return locate(corpus, data_root)
    path = Path(corpus).expanduser()
    if path.exists() or "/" in corpus or "." in path.name:
        return file_info(path)
    error = did_you_mean("text data set", corpus, text_sets)
    raise type(error)(f"{error}, or the path of a UTF-8 text file") from None


def image_set(data_dir: Path | str | None = None, data_root: Path | str | None = None):
    """Fashion-MNIST's record info and arrays (key -> (dims, bytes)), from ``data_dir`` when given,
    else where the data set is found (:mod:`suite.data.fashion_mnist`); never downloads."""
    return fashion_mnist.load(_root(data_root), data_dir)


def _root(explicit) -> Path:
    return data_root(explicit)
