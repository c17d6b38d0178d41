"""A run is a plan of cells.

- *Accuracy cells*: model × task × train length × seed — train with early
  stopping within the preset's step budget (``train_config``: ``steps``,
  ``eval_every``, ``patience``, ``min_delta``, ``target_accuracy``, and
  ``time_limit_s`` only when a guard is set; see :mod:`suite.measure.train`), then score the best
  validation checkpoint on the task's test stream.
- *Perf cells*: model × length (× the preset's perf batch) — random weights, no
  training; time a training step, a prefill and decode steps, measure memory.

A :class:`Cell` is plain data. Its ``key`` is a stable hash of everything that
defines its result (kind, model, task and its parameters, length, batch, seed,
model and training configuration), so a resumed or repeated run can tell which
cells it already has.

Dimensions beyond the preset, each part of the key through the configuration
it changes (and absent from it when unused, so older runs keep their keys):

- ``eval_lens`` (``run --eval-lens``, or the preset's ``eval_lens`` or
  ``eval_len_multiples`` of each training length): the lengths an accuracy cell
  is scored at after training at its ``seq_len`` (``train_config["eval_lens"]``);
- ``lrs`` (``run --lrs``): the learning rates swept per cell, the best kept on
  the validation stream (``train_config["lr_sweep"]``);
- ``match`` (``run --match params``): each family's width chosen so parameter
  counts agree (``model_config["param_match"]``, see :mod:`suite.plan.matching`);
- ``tf32`` (``run --tf32 on``) and the preset's ``perf_min_time_s``
  (``train_config["tf32"]``, ``["min_time_s"]``);
- the preset's ``d_models`` (a width sweep) and ``task_param_grid`` (e.g. MQAR's
  number of key-value pairs): one cell per width and per task variant.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from suite.errors import UsageError
from suite.plan.presets import Preset, resolve_dtype
from suite.registry import builtin_family_names, builtin_task_names, get_task, parse_spec


@dataclass(frozen=True)
class Cell:
    kind: str  # "accuracy" | "perf" | "max_len" | "speed" (a `bench speed` subject)
    model: str  # spec, e.g. "mingru" or "gru:loop"
    task: str | None  # accuracy: task name; perf: None
    seq_len: int
    batch_size: int
    seed: int
    task_params: dict = field(default_factory=dict, compare=False)
    model_config: dict = field(default_factory=dict, compare=False)
    train_config: dict = field(default_factory=dict, compare=False)

    @property
    def family(self) -> str:
        return self.model.partition(":")[0]

    @property
    def key(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def label(self) -> str:
        what = self.task if self.kind == "accuracy" else "perf"
        return f"{self.model} {what} T={self.seq_len} seed={self.seed}"


def expand_names(requested, every: list[str], kind: str) -> list[str]:
    """``all`` → every name; otherwise the names as given (validated later)."""
    names = []
    for name in requested:
        names.extend(every if name == "all" else [name])
    if not names:
        raise UsageError(f"no {kind} selected: name at least one, or all")
    return list(dict.fromkeys(names))


def model_config(
    preset: Preset,
    spec: str,
    vocab_size: int,
    d_model: int | None = None,
    match: str = "width",
    reference_d_model: int | None = None,
    n_layers: int | None = None,
) -> dict:
    family = spec.partition(":")[0]
    config = {
        "vocab_size": vocab_size,
        "d_model": d_model or preset.d_model,
        "n_layers": n_layers or preset.n_layers,
        "mlp_mult": preset.mlp_mult,
        "options": dict(preset.family_options.get(family, {})),
    }
    if match != "width":
        config["param_match"] = match
        config["reference_d_model"] = reference_d_model
    return config


def budget_key(preset: Preset, task: str) -> str:
    """The ``--set`` key that governs a task's step budget (a ``task_train`` override, else ``train_steps``)."""
    return f"task_train.{task}.train_steps" if "train_steps" in preset.task_train.get(task, {}) else "train_steps"


def train_config(preset: Preset, family: str, task: str, device: str, eval_lens=None, lrs=None) -> dict:
    config = {
        "steps": preset.steps_for(task),
        "lr": preset.lr_for(family),
        "weight_decay": preset.weight_decay,
        "warmup_steps": preset.warmup_steps,
        "grad_clip": preset.grad_clip,
        "eval_batches": preset.eval_batches,
        "eval_batch_size": preset.eval_batch_size,
        "dtype": resolve_dtype(preset.dtype, device),
        "optimizer": "AdamW",
        "schedule": preset.lr_schedule,  # after a linear warm-up: cosine to 10%, or constant
        # early stopping on the validation stream (suite.measure.train)
        "eval_every": int(preset.eval_every),
        "curve_batches": int(preset.curve_batches),
        "patience": int(preset.patience),
        "min_delta": float(preset.min_delta),
        "target_accuracy": None if preset.target_accuracy is None else float(preset.target_accuracy),
        "max_steps_key": budget_key(preset, task),
    }
    if preset.time_limit_s is not None:  # a guard against runaway cells, absent when unused
        config["time_limit_s"] = float(preset.time_limit_s)
    if preset.tf32:
        config["tf32"] = True
    if eval_lens:
        config["eval_lens"] = [int(length) for length in eval_lens]
    if lrs:
        config["lr_sweep"] = [float(rate) for rate in lrs]
    return config


def scored_lens(preset: Preset, seq_len: int, eval_lens) -> list[int] | None:
    """The lengths a cell trained at ``seq_len`` is scored at: ``eval_lens`` (``--eval-lens`` or the
    preset's), else the preset's ``eval_len_multiples`` of ``seq_len``, else None (``seq_len`` only)."""
    if eval_lens:
        return list(eval_lens)
    if preset.eval_len_multiples:
        return [int(seq_len * multiple) for multiple in preset.eval_len_multiples]
    return None


def task_variants(preset: Preset, task_name: str) -> list[dict]:
    """The task's parameters, once per combination of the preset's ``task_param_grid`` for it."""
    base = dict(preset.task_params.get(task_name, {}))
    grid = preset.task_param_grid.get(task_name, {})
    variants = [base]
    for name, values in grid.items():
        variants = [{**variant, name: value} for variant in variants for value in values]
    return variants


def perf_config(preset: Preset, device: str) -> dict:
    config = {
        "warmup": preset.perf_warmup,
        "repeats": preset.perf_repeats,
        "decode_tokens": preset.decode_tokens,
        "lr": preset.lr,
        "dtype": resolve_dtype(preset.dtype, device),
        "optimizer": "AdamW",
    }
    if preset.perf_min_time_s > 0:
        config["min_time_s"] = float(preset.perf_min_time_s)
    if preset.tf32:
        config["tf32"] = True
    if preset.energy:
        config.update(energy=True, energy_seq_lens=[int(length) for length in preset.energy_seq_lens])
    return config


def build_plan(
    preset: Preset,
    models=("all",),
    tasks=None,
    seq_lens=None,
    perf_seq_lens=None,
    seeds=(0,),
    kinds=("accuracy", "perf"),
    device: str = "cpu",
    eval_lens=None,
    lrs=None,
    match: str = "width",
) -> list[Cell]:
    """Every cell of a run on ``device``, accuracy cells first (grouped by task), then perf cells."""
    from suite.plan.matching import MATCHES, matched_d_model

    specs = expand_names(models, builtin_family_names(), "models")
    for spec in specs:
        parse_spec(spec)  # unknown family or backend: fail before anything runs
    if match not in MATCHES:
        raise UsageError(f"unknown --match {match!r}: use {' or '.join(MATCHES)}")
    task_names = expand_names(tasks or preset.tasks, builtin_task_names(), "tasks")
    eval_lens = list(eval_lens or preset.eval_lens) or None
    cells = []
    if "accuracy" in kinds:
        for task_name in task_names:
            for params in task_variants(preset, task_name):
                task = get_task(task_name, **params)
                lengths = seq_lens or preset.lengths_for(task_name)
                every_length = {n for length in lengths for n in scored_lens(preset, int(length), eval_lens) or []}
                for length in sorted(set(lengths) | every_length):
                    try:
                        task.check_len(length)
                    except ValueError as error:  # tasks/ know nothing of the suite's error types
                        raise UsageError(str(error)) from None
                for width, n_layers in [
                    (w, n)
                    for w in preset.d_models or (preset.d_model,)
                    for n in preset.n_layers_grid or (preset.n_layers,)
                ]:
                    for seq_len in lengths:
                        for seed in seeds:
                            for spec in specs:
                                d_model = (
                                    matched_d_model(spec, preset, task.vocab_size, width)
                                    if match == "params"
                                    else width
                                )
                                cells.append(
                                    Cell(
                                        "accuracy",
                                        spec,
                                        task_name,
                                        int(seq_len),
                                        preset.batch_for(task_name),
                                        int(seed),
                                        task.params(),
                                        model_config(preset, spec, task.vocab_size, d_model, match, width, n_layers),
                                        train_config(
                                            preset,
                                            spec.partition(":")[0],
                                            task_name,
                                            device,
                                            scored_lens(preset, int(seq_len), eval_lens),
                                            lrs,
                                        ),
                                    )
                                )
    if "perf" in kinds:
        perf_specs = specs + ([s for s in preset.perf_extra_models if s not in specs] if "all" in models else [])
        for seq_len in perf_seq_lens or preset.perf_seq_lens:
            for spec in perf_specs:
                cells.append(
                    Cell(
                        "perf",
                        spec,
                        None,
                        int(seq_len),
                        preset.perf_batch_size,
                        int(seeds[0]),
                        {"vocab_size": preset.perf_vocab_size},
                        model_config(preset, spec, preset.perf_vocab_size),
                        perf_config(preset, device),
                    )
                )
    return cells
