"""``--isolation none``: every cell in this process, announced then written, in plan order."""

import gc

import pytest

from suite.executors import local
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset
from suite.plan.settings import Dispatch, RunContext


class Sink:
    def __init__(self):
        self.events = []

    def start(self, label):
        self.events.append(("start", label))

    def put(self, records, label=None):
        self.events.append(("put", records))


@pytest.fixture
def cells():
    cells = build_plan(get_preset("tiny"), models=["mingru", "gru"], tasks=["mqar"], kinds=("accuracy",))
    assert len(cells) == 2
    return cells


@pytest.fixture(autouse=True)
def unfreeze():
    yield
    gc.unfreeze()  # local.run freezes what is alive; give it back to the collector


def test_cells_run_in_order_each_announced_before_its_records(cells, monkeypatch):
    ran = []

    def fake_run_job(cell, device, context):
        ran.append((cell.model, device, context.run_id))
        return [{"cell_key": cell.key}]

    monkeypatch.setattr(local, "run_job", fake_run_job)
    sink = Sink()
    local.run(cells, Dispatch(device="cpu", context=RunContext(run_id="r")), sink)
    assert ran == [("mingru", "cpu", "r"), ("gru", "cpu", "r")]
    assert sink.events == [
        ("start", cells[0].label()),
        ("put", [{"cell_key": cells[0].key}]),
        ("start", cells[1].label()),
        ("put", [{"cell_key": cells[1].key}]),
    ]


def test_a_tiny_cell_really_runs_in_this_process(cells):
    sink = Sink()
    local.run(cells[:1], Dispatch(device="cpu", context=RunContext(run_id="r")), sink)
    ((_, records),) = [event for event in sink.events if event[0] == "put"]
    (record,) = records
    assert record["status"] == "ok", record.get("error")
    assert record["cell_key"] == cells[0].key and record["run_id"] == "r" and record["model"] == "mingru"
