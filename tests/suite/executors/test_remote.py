"""One cell on a worker: run in a child pinned to the scheduler's GPU; its outcome back into records."""

import socket

import pytest

from suite.executors import isolated, remote
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset
from suite.plan.settings import Dispatch, RunContext


@pytest.fixture
def cell():
    (cell,) = build_plan(get_preset("tiny"), models=["mingru"], tasks=["mqar"], kinds=("accuracy",))
    return cell


def fake_child(monkeypatch, outcome):
    calls = []

    def call_in_child(function, args, settings, timeout_s, started=None):
        calls.append({"function": function, "args": args, "settings": settings, "timeout_s": timeout_s})
        return outcome

    monkeypatch.setattr(isolated, "call_in_child", call_in_child)
    return calls


def test_a_cuda_worker_pins_the_child_to_the_scheduler_gpu(cell, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    calls = fake_child(monkeypatch, ([{"cell_key": cell.key}], None))
    outcome = remote.run_on_worker(cell, Dispatch(device="cuda:1", timeout_s=30))
    (call,) = calls
    assert call["function"] is isolated.run_cell_entry and call["timeout_s"] == 30
    assert call["settings"].cuda_visible_devices == "2"
    assert call["args"][0] is cell and call["args"][1] == "cuda:0"  # the child sees only its GPU
    assert outcome["result"] == [{"cell_key": cell.key}] and outcome["failure"] is None
    assert outcome["hostname"] == socket.gethostname() and outcome["cuda_visible_devices"] == "2"
    assert outcome["wall_s"] >= 0


def test_a_cpu_worker_is_not_pinned(cell, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    calls = fake_child(monkeypatch, ([], None))
    remote.run_on_worker(cell, Dispatch(device="cpu"))
    assert calls[0]["settings"].cuda_visible_devices is None and calls[0]["args"][1] == "cpu"


def test_a_result_is_the_records_and_a_failure_becomes_records_naming_the_host(cell):
    dispatch = Dispatch(device="cpu", context=RunContext(run_id="r", hostname="driver"))
    assert remote.records_of(cell, {"result": [{"x": 1}], "failure": None}, dispatch) == [{"x": 1}]
    failed = {
        "result": None,
        "failure": ("timeout", "no result within 5 s"),
        "hostname": "node7",
        "cuda_visible_devices": "1",
        "wall_s": 5.5,
    }
    (record,) = remote.records_of(cell, failed, dispatch)
    assert record["status"] == "timeout" and record["error"] == "no result within 5 s"
    assert record["hostname"] == "node7" and record["cuda_visible_devices"] == "1" and record["wall_s"] == 5.5
    assert record["cell_key"] == cell.key and record["run_id"] == "r"


def test_a_lost_worker_is_an_error_record_from_the_driver(cell):
    dispatch = Dispatch(device="cpu", context=RunContext(run_id="r", hostname="driver"))
    (record,) = remote.lost_records(cell, dispatch, "node lost", 2.0)
    assert (record["status"], record["error"], record["wall_s"]) == ("error", "node lost", 2.0)
    assert record["hostname"] == "driver" and record["cell_key"] == cell.key
