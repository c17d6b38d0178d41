"""Sequential Fashion-MNIST (``seq-fashion-mnist``): classify a 28x28 image read one pixel at a time.

The image's 784 grey levels are the tokens (0..255), in raster order (row by row, left to
right), so ``T`` is 784 and nothing else. The target is the image's class (0..9, in the same
vocabulary) at the last position, the only position scored: the model must carry what it needs
of the whole image to the end. ``chance_accuracy`` is 0.1 (ten balanced classes).

Splits: train is the first ``60,000 - valid_images`` training images, valid the last
``valid_images`` (5,000: 55,000 / 5,000, the usual split), test the 10,000 test images. A batch
draws images uniformly at random, with replacement, from its split.

Data: ``data_dir`` names a directory with the four standard IDX files (gzipped or not); by
default the ``fashion-mnist`` data set is looked for on disk (:mod:`suite.data.fashion_mnist`;
never downloaded). Images are read once per process, cached by (directory, sha256).
"""

from __future__ import annotations

import torch

from suite.data import image_set
from tasks.base import SPLITS, Batch, Task

VERSION = 1  # bump when the pixel order, the splits or the scoring change: compare warns across versions
DESCRIPTION = "sequential Fashion-MNIST: classify a 28x28 image read as 784 pixel tokens (class at the end)"

_IMAGES: dict[tuple[str, str], dict[str, torch.Tensor]] = {}  # (directory, sha256) -> tensors


def _tensors(arrays: dict) -> dict[str, torch.Tensor]:
    out = {}
    for key, (dims, values) in arrays.items():
        flat = torch.frombuffer(bytearray(values), dtype=torch.uint8)
        out[key] = flat.view(dims[0], -1) if key.endswith("images") else flat
    return out


class SeqFashionMNIST(Task):
    name = "seq-fashion-mnist"
    vocab_size = 256
    chance_accuracy = 0.1
    has_splits = True
    has_sequence_score = False

    def __init__(self, data_dir: str | None = None, valid_images: int = 5000):
        self.data_dir = None if data_dir in (None, "") else str(data_dir)
        self.valid_images = int(valid_images)
        self.info, arrays = image_set(self.data_dir)
        key = (str(self.info.path), self.info.sha256)
        if key not in _IMAGES:
            _IMAGES[key] = _tensors(arrays)
        tensors = _IMAGES[key]
        self.train_images, self.train_labels = tensors["train_images"], tensors["train_labels"]
        self.test_images, self.test_labels = tensors["test_images"], tensors["test_labels"]
        n = len(self.train_images)
        if not 1 <= self.valid_images < n:
            raise ValueError(
                f"task 'seq-fashion-mnist' needs 1 <= valid_images < {n} (the training images), got {self.valid_images}"
            )
        self.bounds = {"train": (0, n - self.valid_images), "valid": (n - self.valid_images, n)}
        self.bounds["test"] = (0, len(self.test_images))
        self.min_len = self.max_len = self.train_images.shape[1]

    def params(self) -> dict:
        return {"data_dir": self.data_dir, "valid_images": self.valid_images}

    def data_fields(self) -> dict:
        files = {"train": "train", "valid": "train", "test": "t10k"}
        images = {split: f"{files[split]}[{lo}:{hi}]" for split, (lo, hi) in self.bounds.items()}
        return {**self.info.record_fields(), "split_images": images}

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        return self.sample_split(generator, batch, seq_len, "train")

    def sample_split(self, generator: torch.Generator, batch: int, seq_len: int, split: str) -> Batch:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        self.check_len(seq_len)
        lo, hi = self.bounds[split]
        images, labels = (
            (self.test_images, self.test_labels) if split == "test" else (self.train_images, self.train_labels)
        )
        index = torch.randint(lo, hi, (batch,), generator=generator)
        inputs = images[index].long()
        targets = torch.zeros(batch, seq_len, dtype=torch.long)
        targets[:, -1] = labels[index].long()
        mask = torch.zeros(batch, seq_len, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(inputs, targets, mask)


TASK = SeqFashionMNIST
