"""A run is a plan of cells (:mod:`suite.plan.cells`, one typed dataclass per kind).

- *Accuracy cells*: model × task × train length × seed — train with early
  stopping within the preset's step budget (:class:`~suite.plan.cells.TrainConfig`:
  ``steps``, ``eval_every``, ``patience``, ``min_delta``, ``target_accuracy``, and
  ``time_limit_s`` only when a guard is set; see :mod:`suite.measure.train`), then score
  the best validation checkpoint on the task's test stream. A language-model task's cells
  (``objective == "lm"``, e.g. ``char-lm``) stop on validation loss (``target_loss``) and carry the
  ``recall_ngram`` of their test metrics (:mod:`suite.measure.lm_metrics`); a task whose data is
  missing stops the plan when it is built, before anything is written.
- *Perf cells*: model × length (× the preset's perf batch) — random weights, no
  training; time a training step, a prefill and decode steps, measure memory
  (:class:`~suite.plan.cells.TimingConfig`).

A cell's ``key`` is a stable hash of everything that defines its result (see
:mod:`suite.plan.cells`), so a resumed or repeated run can tell which cells it already has.

Dimensions beyond the preset, each part of the key through the configuration
it changes (and absent from it when unused, so older runs keep their keys):

- ``eval_lens`` (``run --eval-lens``, or the preset's ``eval_lens`` or
  ``eval_len_multiples`` of each training length): the lengths an accuracy cell
  is scored at after training at its ``seq_len`` (``TrainConfig.eval_lens``);
- ``lrs`` (``run --lrs``): the learning rates swept per cell, the best kept on
  the validation stream (``TrainConfig.lr_sweep``);
- ``match`` (``run --match params``): each family's width chosen so parameter
  counts agree (``ModelConfig.param_match``, see :mod:`suite.plan.matching`);
- ``tf32`` (``run --tf32 on``) and the preset's ``perf_min_time_s``
  (``tf32``, ``TimingConfig.min_time_s``);
- the preset's ``d_models`` (a width sweep), ``n_layers_grid`` (a depth sweep) and
  ``task_param_grid`` (e.g. MQAR's number of key-value pairs): one cell per width,
  depth and task variant.
"""

from __future__ import annotations

import dataclasses
from itertools import product

from suite.errors import UsageError
from suite.plan.cells import (
    AccuracyCell,
    Cell,
    MaxLenCell,
    ModelConfig,
    PerfCell,
    ProbeConfig,
    TaskConfig,
    TimingConfig,
    TrainConfig,
)
from suite.plan.presets import Preset, resolve_dtype
from suite.registry import builtin_family_names, builtin_task_names, get_task, parse_spec
from suite.stacks import check_models, is_stack, parse_stack


def expand_names(requested, every: list[str], kind: str) -> list[str]:
    """``all`` → every name; otherwise the names as given (validated later)."""
    names = []
    for name in requested:
        names.extend(every if name == "all" else [name])
    if not names:
        raise UsageError(f"no {kind} selected: name at least one, or all")
    return list(dict.fromkeys(names))


def model_setup(
    preset: Preset,
    spec: str,
    vocab_size: int,
    d_model: int | None = None,
    match: str = "width",
    reference_d_model: int | None = None,
    n_layers: int | None = None,
) -> ModelConfig:
    """The model a cell builds: the preset's shape, at ``d_model``/``n_layers`` when given; under
    ``match="params"`` the width was matched to ``reference_d_model`` (:mod:`suite.plan.matching`)."""
    model = preset.model
    layers = parse_stack(spec) if is_stack(spec) else None
    if layers is None:
        options = dict(model.family_options.get(spec.partition(":")[0], {}))
    else:  # a stack: its own depth, and the preset's options of each family it holds
        n_layers = len(layers)
        families = dict.fromkeys(layer.family for layer in layers if layer.family in model.family_options)
        options = {name: dict(model.family_options[name]) for name in families}
    return ModelConfig(
        spec=spec,
        vocab_size=vocab_size,
        d_model=d_model or model.d_model,
        n_layers=n_layers or model.n_layers,
        mlp_mult=model.mlp_mult,
        options=options,
        param_match=None if match == "width" else match,
        reference_d_model=None if match == "width" else reference_d_model,
        layers=None if layers is None else tuple(layer.text for layer in layers),
        dropout=float(model.dropout),
    )


def budget_key(preset: Preset, task: str) -> str:
    """The ``--set`` key that governs a task's step budget (a ``task_train`` override, else ``train_steps``)."""
    overridden = "train_steps" in preset.training.task_train.get(task, {})
    return f"task_train.{task}.train_steps" if overridden else "train_steps"


def training_setup(
    preset: Preset, family: str, task: str, device: str, eval_lens=None, lrs=None, lm: bool = False
) -> TrainConfig:
    """How an accuracy cell of ``family`` on ``task`` trains: the preset's training and early-stopping
    groups, the task's step budget, the family's rate; ``eval_lens`` and ``lrs`` when given; a
    language-model task (``lm``) its ``recall_ngram`` and ``target_loss``."""
    training, stopping = preset.training, preset.stopping
    return TrainConfig(
        steps=preset.steps_for(task),
        lr=preset.lr_for(family),
        weight_decay=training.weight_decay,
        warmup_steps=training.warmup_steps,
        grad_clip=training.grad_clip,
        eval_batches=training.eval_batches,
        eval_batch_size=training.eval_batch_size,
        dtype=resolve_dtype(preset.dtype, device),
        schedule=training.lr_schedule,  # after a linear warm-up: cosine to 10%, or constant
        eval_every=int(stopping.eval_every),
        curve_batches=int(stopping.curve_batches),
        patience=int(stopping.patience),
        plateau_after_steps=int(stopping.plateau_after_steps),
        min_delta=float(stopping.min_delta),
        target_accuracy=None if stopping.target_accuracy is None else float(stopping.target_accuracy),
        max_steps_key=budget_key(preset, task),
        time_limit_s=None if stopping.time_limit_s is None else float(stopping.time_limit_s),
        tf32=bool(preset.tf32),
        eval_lens=tuple(int(length) for length in eval_lens) if eval_lens else None,
        lr_sweep=tuple(float(rate) for rate in lrs) if lrs else None,
        target_loss=float(stopping.target_loss) if lm and stopping.target_loss is not None else None,
        recall_ngram=int(training.recall_ngram) if lm else None,
    )


def timing_setup(preset: Preset, device: str) -> TimingConfig:
    """How a perf cell is timed: the preset's perf group (timing and energy)."""
    perf = preset.perf
    return TimingConfig(
        warmup=perf.perf_warmup,
        repeats=perf.perf_repeats,
        decode_tokens=perf.decode_tokens,
        lr=preset.training.lr,
        dtype=resolve_dtype(preset.dtype, device),
        min_time_s=float(perf.perf_min_time_s) if perf.perf_min_time_s > 0 else None,
        tf32=bool(preset.tf32),
        energy=bool(perf.energy),
        energy_seq_lens=tuple(int(length) for length in perf.energy_seq_lens) if perf.energy else (),
    )


def scored_lens(preset: Preset, seq_len: int, eval_lens) -> list[int] | None:
    """The lengths a cell trained at ``seq_len`` is scored at: ``eval_lens`` (``--eval-lens`` or the
    preset's), else the preset's ``eval_len_multiples`` of ``seq_len``, else None (``seq_len`` only)."""
    if eval_lens:
        return list(eval_lens)
    if preset.accuracy.eval_len_multiples:
        return [int(seq_len * multiple) for multiple in preset.accuracy.eval_len_multiples]
    return None


def task_variants(preset: Preset, task_name: str) -> list[dict]:
    """The task's parameters, once per combination of the preset's ``task_param_grid`` for it."""
    base = dict(preset.accuracy.task_params.get(task_name, {}))
    grid = preset.accuracy.task_param_grid.get(task_name, {})
    variants = [base]
    for name, values in grid.items():
        variants = [{**variant, name: value} for variant in variants for value in values]
    return variants


def check_lengths(preset: Preset, task, lengths, eval_lens) -> None:
    """Every training and scoring length the task must generate: a usage error if it cannot (a task on
    real data: a window longer than its smallest split's region)."""
    every_length = {n for length in lengths for n in scored_lens(preset, int(length), eval_lens) or []}
    for length in sorted(set(lengths) | every_length):
        try:
            task.check_len(length)
        except ValueError as error:  # tasks/ know nothing of the suite's error types
            raise UsageError(str(error)) from None


def planned_task(task_name: str, params: dict):
    """The task ``task_name`` made with ``params``; parameters it refuses (a value out of range, a name
    it does not take) are bad input: one line naming the task's own reason and the ``--set`` key."""
    try:
        return get_task(task_name, **params)
    except UsageError:
        raise
    except (TypeError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise UsageError(
            f"task_params.{task_name} {params} cannot make the task: {reason} (change it with "
            f"--set task_params.{task_name}.NAME=VALUE; `python -m suite list` shows each task's parameters)"
        ) from None


def accuracy_cells(preset: Preset, specs, task_name: str, seq_lens, seeds, device, eval_lens, lrs, match):
    """The accuracy cells of one task: per task variant, width, depth, length, seed and model."""
    from suite.plan.matching import matched_d_model

    model = preset.model
    for params in task_variants(preset, task_name):
        task = planned_task(task_name, params)  # a task whose data is missing stops the run here (DataMissing)
        lm = getattr(task, "objective", "accuracy") == "lm"
        lengths = seq_lens or preset.lengths_for(task_name)
        check_lengths(preset, task, lengths, eval_lens)
        widths, depths = model.d_models or (model.d_model,), model.n_layers_grid or (model.n_layers,)
        for width, n_layers, seq_len, seed, spec in product(widths, depths, lengths, seeds, specs):
            scored = scored_lens(preset, int(seq_len), eval_lens)
            d_model = matched_d_model(spec, preset, task.vocab_size, width) if match == "params" else width
            yield AccuracyCell(
                architecture=model_setup(preset, spec, task.vocab_size, d_model, match, width, n_layers),
                task_config=TaskConfig(task_name, task.params()),
                seq_len=int(seq_len),
                batch_size=preset.batch_for(task_name),
                seed=int(seed),
                training=training_setup(preset, spec.partition(":")[0], task_name, device, scored, lrs, lm),
            )


def perf_cells(preset: Preset, specs, perf_seq_lens, seed: int, device: str):
    """The perf cells: per length and model, at the preset's perf batch and vocabulary."""
    perf = preset.perf
    for seq_len, spec in product(perf_seq_lens or perf.perf_seq_lens, specs):
        yield PerfCell(
            architecture=model_setup(preset, spec, perf.perf_vocab_size),
            seq_len=int(seq_len),
            batch_size=perf.perf_batch_size,
            seed=int(seed),
            timing=timing_setup(preset, device),
        )


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
    from suite.plan.matching import MATCHES

    specs = expand_names(models, builtin_family_names(), "models")
    for spec in specs:
        parse_stack(spec) if is_stack(spec) else parse_spec(spec)  # unknown names: fail before anything runs
    if match not in MATCHES:
        raise UsageError(f"unknown --match {match!r}: use {' or '.join(MATCHES)}")
    task_names = expand_names(tasks or preset.accuracy.tasks, builtin_task_names(), "tasks")
    eval_lens = list(eval_lens or preset.accuracy.eval_lens) or None
    cells = []
    if "accuracy" in kinds:
        for task_name in task_names:
            cells.extend(accuracy_cells(preset, specs, task_name, seq_lens, seeds, device, eval_lens, lrs, match))
    if "perf" in kinds:
        extra = [s for s in preset.perf.perf_extra_models if s not in specs] if "all" in models else []
        cells.extend(perf_cells(preset, specs + extra, perf_seq_lens, seeds[0], device))
    check_models(cells)
    return cells


def probe_cell(preset: Preset, spec: str, seq_len: int, seed: int, device: str) -> PerfCell:
    """One ``--find-max-len`` probe of ``spec`` at ``seq_len``: a perf cell of one warm-up, one timed
    repeat and two decode tokens (``suite.executors.max_len``)."""
    timing = dataclasses.replace(timing_setup(preset, device), warmup=1, repeats=1, decode_tokens=2, probe="max_len")
    perf = preset.perf
    return PerfCell(model_setup(preset, spec, perf.perf_vocab_size), seq_len, perf.perf_batch_size, seed, timing)


def boundary_cell(
    preset: Preset, spec: str, seed: int, start: int, limit: int, mem_limit_bytes, device: str
) -> MaxLenCell:
    """The memory boundary of ``spec``, probed from ``start`` to ``limit`` under ``mem_limit_bytes``."""
    perf = preset.perf
    return MaxLenCell(
        architecture=model_setup(preset, spec, perf.perf_vocab_size),
        batch_size=perf.perf_batch_size,
        seed=seed,
        timing=timing_setup(preset, device),
        probe=ProbeConfig(start, limit, mem_limit_bytes),
    )
