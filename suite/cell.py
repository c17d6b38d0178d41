"""Run one cell and turn whatever happens into one record.

Statuses: ``ok``; ``skipped`` (the backend cannot run here — the reason is the
error); ``oom`` (CUDA out of memory, or torch's CPU allocator failing:
``RuntimeError: DefaultCPUAllocator: can't allocate memory``); ``nan`` (the
training loss stopped being finite); ``error`` (any other exception, its type
and first line kept). A cell run in a child process (``suite.executors.isolated``)
can also end as ``timeout`` or with a crash the child could not report; the
driver then writes :func:`failure_record`. A failing cell never stops the plan.
"""
from __future__ import annotations

import datetime
import time
import traceback

import torch

from suite import environment, perf, train
from suite.plan import Cell
from suite.registry import BackendUnavailable, build_model, get_family, get_task
from suite.schema import blank_record

OOM_MARKERS = ("out of memory", "can't allocate memory", "CUDA error: out of memory")


def classify(error: BaseException) -> str:
    if isinstance(error, BackendUnavailable):
        return "skipped"
    if isinstance(error, train.NonFiniteLoss):
        return "nan"
    if isinstance(error, (MemoryError, getattr(torch.cuda, "OutOfMemoryError", MemoryError))):
        return "oom"
    if isinstance(error, RuntimeError) and any(marker in str(error) for marker in OOM_MARKERS):
        return "oom"
    return "error"


def one_line(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {text[:300]}" if not isinstance(error, BackendUnavailable) else text[:400]


def _build(cell: Cell, device: str, decode_budget: int):
    config = cell.model_config
    options = dict(config["options"])
    family = get_family(cell.family)
    if cell.kind == "perf" and "max_seq_len" in family.defaults:
        options.setdefault("max_seq_len", cell.seq_len + decode_budget)  # KV cache sized once, up front
    torch.manual_seed(cell.seed)
    return build_model(cell.model, vocab_size=config["vocab_size"], d_model=config["d_model"],
                       n_layers=config["n_layers"], device=device, mlp_mult=config["mlp_mult"], **options)


def record_header(cell: Cell, device: str, context: dict) -> dict:
    """A record of ``cell`` with every field that does not need the cell to run.

    ``context`` carries run-level fields: run_id, preset, git_commit, hostname,
    and (for records written by the driver, which never touches CUDA)
    device_name and torch_threads.
    """
    record = blank_record(cell.kind)
    record.update(
        run_id=context.get("run_id"), preset=context.get("preset"), git_commit=context.get("git_commit"),
        hostname=context.get("hostname"), cell_key=cell.key, model=cell.model, family=cell.family, task=cell.task,
        task_params=cell.task_params, seq_len=cell.seq_len, batch_size=cell.batch_size, seed=cell.seed,
        dtype=cell.train_config.get("dtype"), torch_threads=context.get("torch_threads") or torch.get_num_threads(),
        device=device, device_name=context.get("device_name"), model_config=cell.model_config,
        train_config=cell.train_config, torch_version=torch.__version__,
        timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(),
    )
    return record


def failure_record(cell: Cell, device: str, context: dict, status: str, error: str, wall_s: float) -> dict:
    """The record of a cell whose process never returned one (timeout, crash, kill)."""
    record = record_header(cell, device, context)
    record.update(status=status, error=error, wall_s=wall_s)
    return record


def run_cell(cell: Cell, device: str, context: dict) -> dict:
    """Run ``cell`` on ``device`` in this process and return its record, whatever happens."""
    record = record_header(cell, device, context)
    record["torch_threads"] = torch.get_num_threads()
    record["device_name"] = environment.device_name(device)
    start = time.perf_counter()
    model = None
    try:
        model = _build(cell, device, decode_budget=cell.train_config.get("decode_tokens", 0) + 8)
        record["backend"] = model.backend
        record["params"] = model.num_params()
        record["state_bytes"] = model.state_bytes(1, cell.seq_len)
        if cell.kind == "accuracy":
            task = get_task(cell.task, **cell.task_params)
            record["chance_accuracy"] = task.chance_accuracy
            record.update(train.train(model, task, cell.seq_len, cell.batch_size, cell.seed, cell.train_config,
                                      device))
            record.update(train.evaluate(model, task, cell.seq_len, cell.seed, cell.train_config, device))
        else:
            record.update(perf.measure(model, cell.seq_len, cell.batch_size, cell.seed, cell.train_config, device))
        record["status"] = "ok"
    except Exception as error:  # every failure is data; the plan goes on
        record["status"] = classify(error)
        record["error"] = one_line(error)
        if record["status"] == "error":
            record["error_traceback"] = traceback.format_exc(limit=6)
    finally:
        del model
        if str(device).startswith("cuda"):
            torch.cuda.empty_cache()
    record["wall_s"] = time.perf_counter() - start
    return record
