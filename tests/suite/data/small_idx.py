"""A small Fashion-MNIST look-alike written as IDX files in a test: 4x4 images whose pixels encode
their index, so a test can tell which image a sequence came from."""

from pathlib import Path

from suite.data.fashion_mnist import FILES
from suite.data.idx import write_idx

ROWS = COLS = 4


def image(index: int) -> bytes:
    return bytes([index % 256] * (ROWS * COLS - 1) + [index // 256])


def write_set(directory: Path, n_train: int = 30, n_test: int = 12, compress: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    for part, n, offset in (("train", n_train, 0), ("test", n_test, 1000)):
        images = b"".join(image(offset + i) for i in range(n))
        write_idx(directory / (FILES[f"{part}_images"] + suffix), (n, ROWS, COLS), images, compress)
        write_idx(directory / (FILES[f"{part}_labels"] + suffix), (n,), bytes(i % 10 for i in range(n)), compress)
    return directory
