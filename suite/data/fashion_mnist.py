"""The ``fashion-mnist`` data set: the four standard IDX files (Xiao, Rasul and Vollgraf 2017, MIT).

Nothing is downloaded. The files are looked for, gzipped or not, in ``<data root>/fashion-mnist/``
and then ``/usr/share/datasets/fashion-mnist/`` (Debian's and Ubuntu's ``dataset-fashion-mnist``
package), or in a directory the user names (the task's ``data_dir``). ``fetch`` checks them and
says where they are, or says in one line how to get them.

Identity: ``sha256`` is the sha256 of the four lines ``<sha256 of the decompressed file>  <name>``
(train images, train labels, test images, test labels, in that order), so the same data gzipped by
another tool (Debian recompresses them) has the same identity, and anything else has another.
Every file's header and length are checked (:mod:`suite.data.idx`) and so are the shapes: images
``N x rows x cols`` with one label ``0..9`` per image.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from suite.data.idx import IdxError, read_bytes, parse
from suite.data.store import Dataset, DatasetInfo, DataMissing, fetch_command

NAME = "fashion-mnist"
VERSION = "2017"
LICENCE = "MIT"
SOURCE = "https://github.com/zalandoresearch/fashion-mnist"
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CLASSES = 10


def files_in(directory: Path) -> dict[str, Path]:
    """The standard files found in ``directory`` (a name, else the name with ``.gz``)."""
    found = {}
    for key, name in FILES.items():
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
    return found


def how_to_get(directory: Path) -> str:
    return (
        f"on Debian/Ubuntu `apt-get install dataset-fashion-mnist`, or put the four IDX files "
        f"({', '.join(FILES.values())}; .gz or not) in {directory}"
    )


def find(root: Path, data_dir: Path | str | None = None) -> dict[str, Path]:
    """The four files: in ``data_dir`` when given, else the first of the data root's folder and the
    system folder that holds all four; :class:`DataMissing` with how to get them when none does."""
    own = Path(root) / NAME
    places = [Path(data_dir).expanduser()] if data_dir is not None else [own, SYSTEM_DIR]
    for place in places:
        found = files_in(place)
        if len(found) == len(FILES):
            return found
    where = " nor ".join(str(place) for place in places)
    missing = sorted(set(FILES.values()) - {FILES[key] for key in files_in(places[0])})
    target = places[0] if data_dir is not None else own
    raise DataMissing(
        f"data set {NAME!r}: {', '.join(missing)} not in {where}: {how_to_get(target)}"
        + ("" if data_dir is not None else f"; then `{fetch_command(NAME, root)}` checks them")
    )


def load(root: Path, data_dir: Path | str | None = None) -> tuple[DatasetInfo, dict]:
    """The data set's record info and its arrays: key -> (dims, values as bytes), shapes checked."""
    files = find(root, data_dir)
    arrays, lines = {}, []
    for key, path in files.items():
        data = read_bytes(path)
        arrays[key] = parse(data, path)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {FILES[key]}\n")
    check_shapes(arrays, files)
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()
    directory = files["train_images"].parent.resolve()
    size = sum(path.stat().st_size for path in files.values())
    return DatasetInfo(NAME, VERSION, LICENCE, SOURCE, digest, directory, size), arrays


def check_shapes(arrays: dict, files: dict) -> None:
    for part in ("train", "test"):
        (images, _), (labels, values) = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if len(images) != 3 or len(labels) != 1 or images[0] != labels[0]:
            raise IdxError(
                f"{files[f'{part}_images']} and {files[f'{part}_labels']} have shapes {images} and {labels}: "
                f"expected N x rows x cols images and N labels"
            )
        if values and max(values) >= CLASSES:
            raise IdxError(f"{files[f'{part}_labels']} holds label {max(values)}; Fashion-MNIST has 0..9")
    if arrays["train_images"][0][1:] != arrays["test_images"][0][1:]:
        raise IdxError("the training and test images differ in size")


def locate(root: Path) -> DatasetInfo:
    return load(root)[0]


def fetch(root: Path, offline: bool = False, force: bool = False) -> DatasetInfo:
    """Nothing to download: the files are checked where they are, or the one-line hint says how to get them."""
    return locate(root)


DATASET = Dataset(
    NAME,
    "images",
    "Fashion-MNIST: 60,000 training and 10,000 test 28x28 grey images of clothing, 10 classes (IDX files)",
    VERSION,
    LICENCE,
    SOURCE,
    locate,
    fetch,
)
