"""``--executor local --jobs N``: cells in N slots, GPUs round-robin over the slots, every record written once."""

import threading

import pytest

from suite.executors import isolated, pool
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset
from suite.plan.settings import Dispatch


class Sink:
    def __init__(self):
        self.started, self.records = [], []

    def start(self, label):
        self.started.append(label)

    def put(self, records, label=None):
        self.records.extend(records)


@pytest.fixture
def cells():
    return build_plan(get_preset("tiny"), models=["mingru", "gru", "lstm"], tasks=["mqar"], kinds=("accuracy",))


def fake_children(monkeypatch):
    """``isolated.run_one`` replaced: no child, the record says which GPU the cell was pinned to."""
    seen = []
    lock = threading.Lock()

    def run_one(cell, dispatch, started=None):
        with lock:
            seen.append((cell.model, dispatch.settings.cuda_visible_devices))
        return [{"cell_key": cell.key, "gpu": dispatch.settings.cuda_visible_devices}]

    monkeypatch.setattr(isolated, "forkserver_context", lambda: None)
    monkeypatch.setattr(isolated, "run_one", run_one)
    return seen


def test_every_cell_is_written_once_on_cpu(cells, monkeypatch):
    seen = fake_children(monkeypatch)
    sink = Sink()
    pool.run(cells, Dispatch(device="cpu"), sink, jobs=2)
    assert sorted(r["cell_key"] for r in sink.records) == sorted(cell.key for cell in cells)
    assert {gpu for _, gpu in seen} == {None}
    assert sorted(sink.started) == sorted(cell.label() for cell in cells)  # no GPU in the labels


def test_slots_are_pinned_to_gpus_round_robin(cells, monkeypatch):
    seen = fake_children(monkeypatch)
    sink = Sink()
    pool.run(cells, Dispatch(device="cuda"), sink, jobs=2, gpu_ids=["0", "1"])
    assert len(sink.records) == len(cells)
    assert {gpu for _, gpu in seen} <= {"0", "1"}
    assert all(label.endswith(("[GPU 0]", "[GPU 1]")) for label in sink.started)


def test_one_job_with_one_gpu_pins_every_cell_to_it(cells, monkeypatch):
    seen = fake_children(monkeypatch)
    pool.run(cells, Dispatch(device="cuda"), Sink(), jobs=1, gpu_ids=["3"])
    assert [model for model, _ in seen] == [cell.model for cell in cells]  # one slot: plan order
    assert {gpu for _, gpu in seen} == {"3"}
