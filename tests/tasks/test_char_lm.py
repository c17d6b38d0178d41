"""``char-lm`` on a user's text file: the task contract, the splits (disjoint, contiguous, train
first), windows shifted by one, the record fields, and one-line refusals of bad corpora."""

import pytest
import torch

from suite.data import CorpusError, DataMissing
from suite.errors import UsageError
from suite.measure.contract import check_task
from suite.registry import builtin_task_names, data_task_names, get_task
from tasks import char_lm
from tasks.base import SPLITS, stream

TEXT = "".join(f"line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(200))


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text(TEXT)
    return path


def test_it_keeps_the_task_contract(corpus):
    assert check_task("char-lm", {"corpus": str(corpus)}) == []
    assert "char-lm" in data_task_names() and "char-lm" not in builtin_task_names()


def test_vocabulary_is_the_sorted_characters_and_windows_are_shifted_by_one(corpus):
    task = get_task("char-lm", corpus=str(corpus))
    assert task.vocabulary == "".join(sorted(set(TEXT)))
    assert task.vocab_size == len(set(TEXT)) and task.chance_accuracy == 1 / task.vocab_size
    assert task.objective == "lm" and task.has_splits and not task.has_sequence_score
    batch = task.sample_split(stream(0, "train"), 8, 32, "train")
    assert batch.inputs.shape == batch.targets.shape == batch.mask.shape == (8, 32) and batch.mask.all()
    assert torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    for row in range(8):
        window = task.decode(batch.inputs[row]) + task.decode(batch.targets[row, -1:])
        assert window in TEXT


@pytest.mark.parametrize("split", SPLITS)
def test_each_split_draws_only_from_its_region(corpus, split):
    task = get_task("char-lm", corpus=str(corpus), valid_fraction=0.1, test_fraction=0.2)
    lo, hi = task.bounds[split]
    seq_len = 50
    starts = set()
    for seed in range(20):
        batch = task.sample_split(stream(seed, split), 16, seq_len, split)
        ids = task.ids.long()
        for row in range(16):
            found = [t for t in range(lo, hi - seq_len) if torch.equal(ids[t : t + seq_len], batch.inputs[row])]
            assert found, f"a {split} window is not in the {split} region"
            starts.add(found[0])
    assert min(starts) >= lo and max(starts) + seq_len + 1 <= hi


def test_splits_are_contiguous_train_then_valid_then_test(corpus):
    task = get_task("char-lm", corpus=str(corpus))
    n = len(TEXT)
    bounds = task.data_fields()["split_chars"]
    assert bounds["train"][0] == 0 and bounds["train"][1] == bounds["valid"][0]
    assert bounds["valid"][1] == bounds["test"][0] and bounds["test"][1] == n
    assert bounds["valid"][1] - bounds["valid"][0] == round(0.05 * n) == bounds["test"][1] - bounds["test"][0]


def test_it_is_seeded_and_sample_is_the_train_split(corpus):
    task = get_task("char-lm", corpus=str(corpus))
    a = task.sample_split(torch.Generator().manual_seed(3), 4, 16, "valid")
    b = task.sample_split(torch.Generator().manual_seed(3), 4, 16, "valid")
    assert torch.equal(a.inputs, b.inputs)
    train = task.sample_split(torch.Generator().manual_seed(3), 4, 16, "train")
    assert torch.equal(task.sample(torch.Generator().manual_seed(3), 4, 16).inputs, train.inputs)


def test_record_fields_name_the_file_and_its_sha256(corpus):
    import hashlib

    fields = get_task("char-lm", corpus=str(corpus)).data_fields()
    assert fields["dataset"] == "input.txt" and fields["dataset_version"] == "file"
    assert fields["dataset_sha256"] == hashlib.sha256(TEXT.encode()).hexdigest()
    assert fields["dataset_licence"] is None and set(fields["split_chars"]) == set(SPLITS)


def test_a_corpus_is_read_once_per_process_and_again_when_it_changes(corpus, monkeypatch):
    reads = []
    real = char_lm.read_text
    monkeypatch.setattr(char_lm, "read_text", lambda path: reads.append(path) or real(path))
    get_task("char-lm", corpus=str(corpus), valid_fraction=0.07)
    get_task("char-lm", corpus=str(corpus), valid_fraction=0.08)
    assert len(reads) == 1
    corpus.write_text(TEXT + "a new line with new characters: XYZ\n")
    task = get_task("char-lm", corpus=str(corpus), valid_fraction=0.07)
    assert len(reads) == 2 and "XYZ" in task.vocabulary


def test_unicode_text_is_characters_not_bytes(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_text("Ünïcödé → ✓ " * 50)
    task = get_task("char-lm", corpus=str(path))
    assert task.vocabulary == "".join(sorted(set("Ünïcödé → ✓ ")))


def test_a_window_longer_than_a_region_is_one_line(corpus):
    task = get_task("char-lm", corpus=str(corpus))
    longest = task.bounds["test"][1] - task.bounds["test"][0] - 1
    assert task.max_len == longest
    task.sample_split(stream(0, "test"), 2, longest, "test")
    with pytest.raises(ValueError, match="cannot make windows") as error:
        task.sample_split(stream(0, "test"), 2, longest + 1, "test")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="cannot make sequences"):
        task.check_len(longest + 1)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"text\0with a NUL", "is binary"),
        (b"caf\xe9 latin-1", "is not UTF-8"),
        (b"abc", "too short"),
    ],
    ids=["missing", "empty", "nul", "latin-1", "short"],
)
def test_a_bad_corpus_is_one_usage_error(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CorpusError, match=message) as error:
        get_task("char-lm", corpus=str(path))
    assert isinstance(error.value, UsageError) and "\n" not in str(error.value)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(CorpusError, match="is not a file"):
        get_task("char-lm", corpus=str(tmp_path))


def test_bad_fractions_are_refused(corpus):
    with pytest.raises(ValueError, match="valid_fraction"):
        get_task("char-lm", corpus=str(corpus), valid_fraction=0.6, test_fraction=0.5)


def test_a_data_set_not_fetched_is_data_missing_naming_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataMissing, match="python -m suite data fetch shakespeare"):
        get_task("char-lm")
    with pytest.raises(UsageError, match="did you mean 'shakespeare'"):
        get_task("char-lm", corpus="shakespear")
