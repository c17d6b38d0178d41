"""``seq-fashion-mnist`` on small IDX files: pixels in raster order as tokens, the class at the last
position only, splits that draw only their own images, seeded, and the task contract."""

import pytest
import torch

from suite.data import DataMissing, fashion_mnist
from suite.measure.contract import check_task
from suite.registry import builtin_task_names, data_task_names, get_task
from tasks.base import SPLITS, stream
from tests.suite.data.small_idx import COLS, ROWS, image, write_set


@pytest.fixture
def images(tmp_path):
    return write_set(tmp_path / "fm", compress=True)


def build(directory, valid_images=6):
    return get_task("seq-fashion-mnist", data_dir=str(directory), valid_images=valid_images)


def test_it_keeps_the_task_contract(images):
    params = {"data_dir": str(images), "valid_images": 6}
    assert check_task("seq-fashion-mnist", params) == []
    assert "seq-fashion-mnist" in data_task_names() and "seq-fashion-mnist" not in builtin_task_names()


def test_pixels_are_tokens_in_raster_order_and_the_class_is_scored_at_the_end(images):
    task = build(images)
    assert task.vocab_size == 256 and task.chance_accuracy == 0.1 and task.min_len == task.max_len == ROWS * COLS
    assert task.objective == "accuracy" and task.has_splits
    batch = task.sample_split(stream(0, "train"), 8, ROWS * COLS, "train")
    assert batch.mask[:, :-1].sum() == 0 and batch.mask[:, -1].all()
    for row in range(8):
        index = int(batch.inputs[row, 0]) + 256 * int(batch.inputs[row, -1])
        assert bytes(batch.inputs[row].tolist()) == image(index)
        assert int(batch.targets[row, -1]) == index % 10


@pytest.mark.parametrize("split, lo, hi", [("train", 0, 24), ("valid", 24, 30), ("test", 1000, 1012)])
def test_each_split_draws_only_its_images(images, split, lo, hi):
    task = build(images)
    seen = set()
    for seed in range(10):
        batch = task.sample_split(stream(seed, split), 32, ROWS * COLS, split)
        seen |= {int(row[0]) + 256 * int(row[-1]) for row in batch.inputs}
    assert seen <= set(range(lo, hi)) and len(seen) > (hi - lo) // 2


def test_it_is_seeded_and_records_its_data(images):
    task = build(images)
    a = task.sample_split(torch.Generator().manual_seed(1), 4, 16, "valid")
    b = task.sample_split(torch.Generator().manual_seed(1), 4, 16, "valid")
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    fields = task.data_fields()
    assert fields["dataset"] == "fashion-mnist" and fields["dataset_licence"] == "MIT"
    assert fields["split_images"] == {"train": "train[0:24]", "valid": "train[24:30]", "test": "t10k[0:12]"}
    assert task.params() == {"data_dir": str(images), "valid_images": 6}
    assert set(fields["split_images"]) == set(SPLITS)


def test_other_lengths_and_bad_valid_counts_are_refused(images):
    task = build(images)
    with pytest.raises(ValueError, match="cannot make sequences of length 15"):
        task.sample_split(stream(0, "train"), 2, 15, "train")
    with pytest.raises(ValueError, match="valid_images"):
        build(images, valid_images=30)


def test_without_the_files_it_is_data_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "none")
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataMissing, match="apt-get install dataset-fashion-mnist"):
        get_task("seq-fashion-mnist")
