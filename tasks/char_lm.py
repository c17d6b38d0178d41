"""Character-level language modelling on a real text corpus (``char-lm``).

``corpus`` is a data set name (``shakespeare``, fetched beforehand with ``python -m suite data
fetch shakespeare``; building the task never downloads) or a path to a UTF-8 text file (e.g.
tiny-shakespeare's ``input.txt``, or ``enwik8``: read as Unicode characters, not bytes, so its
bits per character are not comparable with byte-level results).

- Vocabulary: the corpus's distinct characters, sorted by code point; token ``i`` is the ``i``-th.
  Inputs and targets share it. ``chance_accuracy`` is ``1 / vocab_size`` (a uniform guess).
- Splits: three contiguous regions of the corpus, train first, then valid (``valid_fraction`` of
  the characters, rounded), then test (``test_fraction``). A window never crosses a region's end,
  so no test character is ever trained on (the regions' borders excepted: a window may end where
  the next region starts, never in it).
- ``sample_split(generator, batch, T, split)``: ``batch`` windows of ``T + 1`` characters starting
  uniformly at random in the split's region; inputs are a window's first ``T`` characters, targets
  its last ``T`` (the next character at every position), and every position is scored.
  ``sample`` draws from the train region.
- Lengths: 1 to (the smallest region's length - 1); a longer window is a one-line ``ValueError``.

A corpus is read, checked (:mod:`suite.data.text`) and encoded once per process, cached by (path,
sha256); the sha256 is checked at every build, so an edited file is read again.
"""

from __future__ import annotations

import torch

from suite.data import CorpusError, read_text, text_corpus
from tasks.base import SPLITS, Batch, Task

VERSION = 1  # bump when the windows, the splits or the vocabulary change: compare warns across versions
DESCRIPTION = "character-level language modelling on a text corpus (a data set name or a UTF-8 file)"

_CORPORA: dict[tuple[str, str], tuple[torch.Tensor, str]] = {}  # (path, sha256) -> (token ids, vocabulary)


def encode(text: str) -> tuple[torch.Tensor, str]:
    """Token ids (int32, one per character) and the vocabulary (the sorted distinct characters)."""
    codes = torch.frombuffer(bytearray(text.encode("utf-32-le")), dtype=torch.int32)
    present = torch.bincount(codes).nonzero().squeeze(1)
    table = torch.zeros(int(present[-1]) + 1, dtype=torch.int32)
    table[present] = torch.arange(len(present), dtype=torch.int32)
    return table[codes], "".join(map(chr, present.tolist()))


def load_corpus(info) -> tuple[torch.Tensor, str]:
    key = (str(info.path), info.sha256)
    if key not in _CORPORA:
        _CORPORA[key] = encode(read_text(info.path))
    return _CORPORA[key]


class CharLM(Task):
    name = "char-lm"
    objective = "lm"
    has_splits = True
    has_sequence_score = False

    def __init__(self, corpus: str = "shakespeare", valid_fraction: float = 0.05, test_fraction: float = 0.05):
        self.corpus = str(corpus)
        self.valid_fraction, self.test_fraction = float(valid_fraction), float(test_fraction)
        if not (self.valid_fraction > 0 and self.test_fraction > 0 and self.valid_fraction + self.test_fraction < 1):
            raise ValueError(
                f"task 'char-lm' needs valid_fraction > 0, test_fraction > 0 and their sum < 1, "
                f"got {self.valid_fraction} and {self.test_fraction}"
            )
        self.info = text_corpus(self.corpus)
        self.ids, self.vocabulary = load_corpus(self.info)
        self.bounds = split_bounds(len(self.ids), self.valid_fraction, self.test_fraction)
        shortest = min(hi - lo for lo, hi in self.bounds.values())
        if shortest < 2:
            raise CorpusError(
                f"corpus {self.info.path} ({len(self.ids)} characters) is too short: each of train, valid and "
                f"test needs at least 2 characters; pass a longer text or larger fractions"
            )
        self.vocab_size = len(self.vocabulary)
        self.chance_accuracy = 1.0 / self.vocab_size
        self.min_len, self.max_len = 1, shortest - 1

    def params(self) -> dict:
        return {"corpus": self.corpus, "valid_fraction": self.valid_fraction, "test_fraction": self.test_fraction}

    def data_fields(self) -> dict:
        return {**self.info.record_fields(), "split_chars": {split: list(self.bounds[split]) for split in SPLITS}}

    def sample(self, generator: torch.Generator, batch: int, seq_len: int) -> Batch:
        return self.sample_split(generator, batch, seq_len, "train")

    def sample_split(self, generator: torch.Generator, batch: int, seq_len: int, split: str) -> Batch:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        lo, hi = self.bounds[split]
        if seq_len < 1 or seq_len + 1 > hi - lo:
            raise ValueError(
                f"task 'char-lm' cannot make windows of {seq_len} + 1 characters from the {split} split of "
                f"{self.info.name} ({hi - lo} characters); use a length of at most {hi - lo - 1}"
            )
        starts = torch.randint(lo, hi - seq_len, (batch,), generator=generator)
        windows = self.ids[starts[:, None] + torch.arange(seq_len + 1)].long()
        mask = torch.ones(batch, seq_len, dtype=torch.bool)
        return Batch(windows[:, :-1], windows[:, 1:], mask)

    def decode(self, ids) -> str:
        """The text of a sequence of token ids."""
        return "".join(self.vocabulary[int(i)] for i in ids)


def split_bounds(n: int, valid_fraction: float, test_fraction: float) -> dict[str, tuple[int, int]]:
    """``[start, end)`` in characters of the train, valid and test regions of ``n`` characters."""
    n_test, n_valid = round(n * test_fraction), round(n * valid_fraction)
    train_end, valid_end = n - n_valid - n_test, n - n_test
    return {"train": (0, train_end), "valid": (train_end, valid_end), "test": (valid_end, n)}


TASK = CharLM
