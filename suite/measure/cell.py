"""Run one cell and turn whatever happens into one record.

Statuses: ``ok``; ``skipped`` (the backend cannot run here — the reason is the
error); ``oom`` (CUDA out of memory, or torch's CPU allocator failing:
``RuntimeError: DefaultCPUAllocator: can't allocate memory``); ``nan`` (the
training loss stopped being finite); ``error`` (any other exception, its type
and first line kept). A cell run in a child process (``suite.executors.isolated``)
can also end as ``timeout`` or with a crash the child could not report; the
driver then writes :func:`failure_records`. A failing cell never stops the plan.

:func:`run_cell` always returns a list of records: an accuracy cell with
``eval_lens`` in its training configuration (``run --eval-lens``) trains once
and gives one record per evaluation length, each with its ``eval_len`` (its
``seq_len`` is the training length); every other cell gives one. A failure becomes one record per
evaluation length, so every length of the plan is accounted for.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
import traceback

import torch

from suite.measure import environment
from suite.measure import lm_metrics
from suite.measure import perf
from suite.measure import train
from suite.measure.timing import HostActivity, apply_numerics, noise_reasons, numerics_fields
from suite.devices import is_cuda
from suite.plan.cells import AccuracyCell, Cell, PerfCell
from suite.registry import (
    BackendUnavailable,
    get_family,
    get_task,
    plugin_provenance,
    record_versions,
)
from suite.records.schema import blank_record
from suite.stacks import build_model
from suite.plan.settings import RunContext

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


def _build(cell: AccuracyCell | PerfCell, device: str, decode_budget: int):
    config = cell.architecture
    options = dict(config.options)
    if config.layers is not None:  # a stack: options per family (suite.stacks)
        options = {name: dict(value) for name, value in options.items()}
        for name in dict.fromkeys(layer.partition("[")[0].partition(":")[0] for layer in config.layers):
            if cell.kind == "perf" and "max_seq_len" in get_family(name).defaults:
                options.setdefault(name, {}).setdefault("max_seq_len", cell.seq_len + decode_budget)
    elif cell.kind == "perf" and "max_seq_len" in get_family(cell.family).defaults:
        options.setdefault("max_seq_len", cell.seq_len + decode_budget)  # KV cache sized once, up front
    torch.manual_seed(cell.seed)
    return build_model(
        cell.model,
        vocab_size=config.vocab_size,
        d_model=config.d_model,
        n_layers=config.n_layers,
        device=device,
        mlp_mult=config.mlp_mult,
        dropout=config.dropout,
        **options,
    )


def record_header(cell: Cell, device: str, context: RunContext | None = None) -> dict:
    """A record of ``cell`` with every field that does not need the cell to run: the one
    record builder (``run`` cells, max-len boundaries, ``bench`` subjects, failures).

    ``context`` carries run-level fields: run_id, preset, git_commit, hostname,
    and (for records written by the driver, which never touches CUDA)
    device_name and torch_threads. ``plugin`` names the plugin files behind the cell's
    family and task (``suite.registry.plugin_provenance``; None for built-ins).
    """
    context = context or RunContext()
    record = blank_record(cell.kind)
    record.update(
        run_id=context.run_id,
        preset=context.preset,
        git_commit=context.git_commit,
        hostname=context.hostname,
        cell_key=cell.key,
        model=cell.model,
        family=cell.family,
        task=cell.task,
        task_params=cell.task_params,
        seq_len=cell.seq_len,
        batch_size=cell.batch_size,
        seed=cell.seed,
        dtype=cell.dtype,
        torch_threads=context.torch_threads or torch.get_num_threads(),
        device=device,
        device_name=context.device_name,
        model_config=cell.model_config,
        train_config=cell.train_config,
        torch_version=torch.__version__,
        executor=context.executor,
        timestamp=datetime.datetime.now(datetime.UTC).isoformat(),
        plugin=plugin_provenance(cell.family, cell.task),
        **record_versions(cell.family, cell.task),
    )
    return record


def eval_lens(cell: Cell) -> list[int]:
    """The lengths an accuracy cell is scored at (its training length unless ``eval_lens`` is set)."""
    return cell.eval_lens


def per_eval_len(cell: Cell, record: dict) -> list[dict]:
    """``record`` once per evaluation length of an accuracy cell (one copy for other cells)."""
    if cell.kind != "accuracy":
        return [record]
    return [{**record, "eval_len": length} for length in eval_lens(cell)]


def is_recorded(cell: Cell, done: dict) -> bool:
    """Whether a resumed run already has ``cell``: its key, and for an extrapolation cell a
    record at every evaluation length (``done`` maps keys and (key, eval_len) to records)."""
    if cell.key not in done:
        return False
    if cell.kind != "accuracy" or not cell.training.eval_lens:
        return True
    return all((cell.key, length) in done for length in eval_lens(cell))


def failure_records(cell: Cell, device: str, context: RunContext, status: str, error: str, wall_s: float) -> list[dict]:
    """The records of a cell whose process never returned any (timeout, crash, kill): one per
    evaluation length for an extrapolation cell, else one."""
    record = record_header(cell, device, context)
    record.update(status=status, error=error, wall_s=wall_s)
    return per_eval_len(cell, record)


def task_regime(task, length: int) -> dict:
    """The task's chance level and measured regime at ``length`` (``tasks.base.Task``'s
    ``chance_accuracy_at`` and ``diagnostics``; a plugin task without them keeps its
    ``chance_accuracy`` and records no diagnostics)."""
    chance = task.chance_accuracy_at(length) if hasattr(task, "chance_accuracy_at") else task.chance_accuracy
    diagnostics = task.diagnostics(length) if hasattr(task, "diagnostics") else {}
    return {"chance_accuracy": chance, "task_diagnostics": diagnostics}


def training_load(activity: HostActivity, threads: int) -> dict:
    """The host's load around an accuracy cell's training (``suite.measure.timing``'s fields and
    rules, without timings): it explains the cell's seconds; steps and accuracy do not depend on it."""
    reasons = noise_reasons({}, threads, activity)
    return {
        **activity.fields(),
        "train_time_noisy": bool(reasons),
        "train_time_noisy_reason": "; ".join(reasons) or None,
    }


def positional_encoding(model) -> str:
    """The positional scheme of a model: what its mixers say (``rotary``), else ``none``."""
    schemes = {module.positional_encoding for module in model.modules() if hasattr(module, "positional_encoding")}
    return ",".join(sorted(schemes)) or "none"


def run_header(cell: Cell, device: str, context: RunContext | None) -> dict:
    """:func:`record_header` completed where the cell runs: its threads, device, host and visible GPUs,
    and the numerics set for it (the same in every executor and isolation)."""
    record = record_header(cell, device, context)
    record["torch_threads"] = torch.get_num_threads()
    record["device_name"] = environment.device_name(device)
    record["hostname"] = socket.gethostname()  # where the cell ran: a Ray or Slurm node, not the driver
    record["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES") if is_cuda(device) else None
    apply_numerics(tf32=cell.tf32)
    record.update(numerics_fields())
    return record


def describe_model(model, record: dict, seq_len: int) -> None:
    """What was built: backend, parameter count, state size at ``seq_len``, positional scheme."""
    record["backend"] = model.backend
    record["params"] = model.num_params()
    record["state_bytes"] = model.state_bytes(1, seq_len)
    record["positional_encoding"] = positional_encoding(model)


def train_and_score(cell: AccuracyCell, device: str, record: dict) -> list[dict]:
    """Train an accuracy cell (the best of its rate sweep) and score it at each evaluation length:
    one record per length, each with the task's regime and the state size at that length. The
    record says what was optimised (``objective``: ``accuracy``, or ``lm`` for a language model,
    scored by :mod:`suite.measure.lm_metrics`) and, for a task on real data, which data
    (``Task.data_fields()``: data set, version, sha256, licence, split bounds)."""
    task = get_task(cell.task, **cell.task_params)
    record["chance_accuracy"] = task.chance_accuracy
    record["objective"] = "lm" if lm_metrics.is_lm(task) else "accuracy"
    record.update(task.data_fields() if hasattr(task, "data_fields") else {})
    with HostActivity() as activity:
        model, metrics = train.train_best_lr(
            lambda: _build(cell, device, 0), task, cell.seq_len, cell.batch_size, cell.seed, cell.training, device
        )
    record.update(
        metrics, max_steps_key=cell.training.max_steps_key, **training_load(activity, record["torch_threads"])
    )
    record["backend"] = model.backend  # what ran, now that it has run (kernels are picked per call)
    scored = []
    for length in cell.eval_lens:
        scored.append(
            {
                **record,
                "eval_len": length,
                **train.score(model, task, length, cell.seed, cell.training, device),
                **task_regime(task, length),
                "state_bytes": model.state_bytes(1, length),
            }
        )
    return scored


def time_perf(cell: PerfCell, model, device: str, record: dict) -> None:
    """Time and measure a perf cell's model (:func:`suite.measure.perf.measure`)."""
    record.update(perf.measure(model, cell.seq_len, cell.batch_size, cell.seed, cell.timing, device))
    record["backend"] = model.backend  # what ran, now that it has run (kernels are picked per call)


def decode_budget(cell: Cell) -> int:
    """Positions a model's KV cache needs beyond ``seq_len``: a perf cell's decode steps, and a margin."""
    return (cell.timing.decode_tokens if cell.kind == "perf" else 0) + 8


def finished(cell: Cell, record: dict, scored: list[dict] | None, wall_s: float) -> list[dict]:
    """The cell's records with their status and wall time: an accuracy cell's scored records, or its
    failure once per evaluation length; any other cell's one record."""
    if cell.kind == "accuracy":
        records = scored if record["status"] == "ok" else per_eval_len(cell, record)
        for one in records:
            one.update(status=record["status"], wall_s=wall_s)
        return records
    record["wall_s"] = wall_s
    return [record]


def run_cell(cell: Cell, device: str, context: RunContext | None = None) -> list[dict]:
    """Run ``cell`` on ``device`` in this process and return its records (one per evaluation
    length of an extrapolation cell, else one; see the module docstring), whatever happens."""
    record = run_header(cell, device, context)
    start = time.perf_counter()
    model = None
    scored = None
    try:
        model = _build(cell, device, decode_budget=decode_budget(cell))
        describe_model(model, record, cell.seq_len)
        if cell.kind == "accuracy":
            model = None  # the sweep builds each model afresh from the same seed
            scored = train_and_score(cell, device, record)
        else:
            time_perf(cell, model, device, record)
        record["status"] = "ok"
    except Exception as error:  # every failure is data; the plan goes on
        record["status"] = classify(error)
        record["error"] = one_line(error)
        if record["status"] == "error":
            record["error_traceback"] = traceback.format_exc(limit=6)
    finally:
        del model
        if is_cuda(device):
            torch.cuda.empty_cache()
    return finished(cell, record, scored, time.perf_counter() - start)
