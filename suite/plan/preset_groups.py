"""What a preset holds, grouped the way the cells use it.

A :class:`Preset` is a name, a description, the numerics (``device``, ``dtype``, ``tf32``) and six
groups, each a frozen dataclass:

- ``model`` (:class:`ModelGroup`): the width, depth and feed-forward of every model, the families'
  options, and the width and depth sweeps of accuracy cells;
- ``accuracy`` (:class:`AccuracyGroup`): which tasks, with which parameters, at which lengths;
- ``training`` (:class:`TrainingGroup`): the step budget, batch, optimiser and schedule;
- ``stopping`` (:class:`StoppingGroup`): early stopping and the wall-clock guard;
- ``perf`` (:class:`PerfGroup`): perf cells' lengths, batch, timing and energy;
- ``run`` (:class:`RunGroup`): what ``suite run`` runs when the command line does not say (models,
  kinds, seeds), and the per-cell timeout.

Every field has one flat name, unique across groups: the name ``--set``, ``--config``, the manifest's
``preset_config`` and ``Preset.as_dict()`` use (``lr``, ``train_steps``, ``perf_repeats``), as they did
before the fields were grouped. ``Preset(name=..., lr=1e-3)`` and ``dataclasses.replace(preset, lr=1e-3)``
take flat names and put each in its group; ``preset.lr`` reads ``preset.training.lr``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

from suite.plan.preset_checks import PresetValueError, value_problems


@dataclass(frozen=True)
class ModelGroup:
    d_model: int = 64
    n_layers: int = 2
    mlp_mult: int = 2
    dropout: float = 0.0  # the backbone's dropout in training (models.backbone), every family alike
    family_options: dict = field(default_factory=dict)  # family -> options for build_model
    d_models: tuple = ()  # a width sweep for accuracy cells (empty: d_model)
    n_layers_grid: tuple = ()  # accuracy cells: one cell per layer count (empty: n_layers)


@dataclass(frozen=True)
class AccuracyGroup:
    tasks: tuple = ("mqar", "selective-copy", "needle")
    task_params: dict = field(default_factory=dict)  # task -> parameters
    seq_lens: tuple = (64,)  # train lengths of accuracy cells
    task_seq_lens: dict = field(default_factory=dict)  # task -> lengths, overriding seq_lens
    eval_lens: tuple = ()  # score every accuracy cell at these lengths
    eval_len_multiples: tuple = ()  # ... or at these multiples of its training length
    task_param_grid: dict = field(default_factory=dict)  # task -> {param: values}: one cell per combination


@dataclass(frozen=True)
class TrainingGroup:
    train_steps: int = 200  # the step budget (max_steps; --set max_steps= too)
    batch_size: int = 32
    task_train: dict = field(default_factory=dict)  # task -> {"train_steps", "batch_size"} overrides
    lr: float = 3e-3
    family_lr: dict = field(default_factory=dict)  # family -> lr, overriding lr
    weight_decay: float = 0.1
    warmup_steps: int = 20
    lr_schedule: str = "cosine"  # after the linear warm-up: cosine to 10% of lr at train_steps, or constant
    grad_clip: float = 1.0
    eval_batches: int = 4
    eval_batch_size: int = 64
    recall_ngram: int = 3  # language-model tasks: the n of the recall-token split (suite.measure.lm_metrics)


@dataclass(frozen=True)
class StoppingGroup:
    """Early stopping (suite.measure.train): validation accuracy every ``eval_every`` steps (0: about 20
    evaluations over the budget) on ``curve_batches`` batches; stop at ``target_accuracy``, or after
    ``patience`` evaluations without an improvement > ``min_delta`` (0: never; never before step
    ``plateau_after_steps``), or at ``train_steps``;
    test the best checkpoint. A language-model task stops on validation loss instead: at ``target_loss`` (a
    loss in nats per token at most that) or after ``patience`` evaluations without a drop > ``min_delta``.
    ``time_limit_s`` is a guard against runaway cells, not a budget: a cell it
    cuts is marked cut_by_time and kept out of verdicts, since its result would depend on the machine's
    load. No built-in preset sets it: budgets are steps."""

    target_accuracy: float | None = None
    target_loss: float | None = None
    eval_every: int = 0
    curve_batches: int = 2
    patience: int = 8
    min_delta: float = 0.005
    time_limit_s: float | None = None
    plateau_after_steps: int = 0  # no plateau stop before this step (0: none)


@dataclass(frozen=True)
class PerfGroup:
    perf_seq_lens: tuple = (128, 512)
    perf_batch_size: int = 8
    perf_vocab_size: int = 64
    perf_warmup: int = 1
    perf_repeats: int = 5  # at least this many timed repeats per phase ...
    perf_min_time_s: float = 0.25  # ... and at least this many seconds of them (suite.measure.timing)
    decode_tokens: int = 32
    perf_extra_models: tuple = ("gru:loop", "lstm:loop")  # added to perf cells when --models all
    # energy per token on perf cells (suite.measure.energy): off unless asked; only at energy_seq_lens when given
    energy: bool = False
    energy_seq_lens: tuple = ()


@dataclass(frozen=True)
class RunGroup:
    # what `suite run` runs when the command line does not say (empty: every model, both kinds)
    models: tuple = ()
    kinds: tuple = ()
    seeds: tuple = ()  # --seeds when the command line does not say (empty: seed 0)
    cell_timeout_s: float = 600.0


# Learning rates per family for the small CPU presets, from a two-point sweep
# {3e-3, 1e-2} on mqar and selective-copy (d_model 64, 2 layers, 250 steps,
# seed 0), keeping each family's better rate as Zoology and MAD-lab keep each
# model's best: 1e-2 lifted mamba (mqar 13.5% -> 24.9%, selective-copy
# 7.5% -> 15.6%), mingru and gru, and sank the transformer (mqar 99.8% -> 24.9%)
# and lstm. minlstm and mamba2 were not swept and keep the preset's rate.
CPU_FAMILY_LR = {"mamba": 1e-2, "mingru": 1e-2, "gru": 1e-2}

# The state-tracking preset keeps those rates and gives the LSTM (the positive
# control for state tracking) 1e-2: on parity (T=32, 300 steps, seed 0) it went
# from 72.6% at 3e-3 to 100% at 1e-2, at every length up to 128.
STATE_FAMILY_LR = {**CPU_FAMILY_LR, "lstm": 1e-2}


GROUPS = {
    "model": ModelGroup,
    "accuracy": AccuracyGroup,
    "training": TrainingGroup,
    "stopping": StoppingGroup,
    "perf": PerfGroup,
    "run": RunGroup,
}
TOP_FIELDS = ("name", "description", "device", "dtype", "tf32")
GROUP_OF = {one.name: group for group, kind in GROUPS.items() for one in dataclasses.fields(kind)}


@dataclass(frozen=True, init=False)
class Preset:
    name: str
    description: str
    device: str = "cpu"  # what it is sized for: cpu | cuda
    dtype: str = "auto"  # auto | float32 | bfloat16-autocast (see resolve_dtype)
    tf32: bool = False  # TF32 for fp32 matmuls/cuDNN on CUDA (suite.measure.timing.apply_numerics)
    model: ModelGroup = field(default_factory=ModelGroup)
    accuracy: AccuracyGroup = field(default_factory=AccuracyGroup)
    training: TrainingGroup = field(default_factory=TrainingGroup)
    stopping: StoppingGroup = field(default_factory=StoppingGroup)
    perf: PerfGroup = field(default_factory=PerfGroup)
    run: RunGroup = field(default_factory=RunGroup)

    def __init__(self, name: str, description: str, device="cpu", dtype="auto", tf32=False, **values):
        """Groups by name (``training=TrainingGroup(...)``) and fields by their flat names (``lr=1e-3``);
        a flat name replaces that field of its group. An unknown name is a TypeError, as for any class."""
        for key, value in dict(name=name, description=description, device=device, dtype=dtype, tf32=tf32).items():
            object.__setattr__(self, key, value)
        flat = {key: value for key, value in values.items() if key not in GROUPS}
        unknown = sorted(set(flat) - set(GROUP_OF))
        if unknown:
            raise TypeError(f"Preset got unknown fields: {', '.join(unknown)}")
        for group, kind in GROUPS.items():
            mine = {key: value for key, value in flat.items() if GROUP_OF[key] == group}
            object.__setattr__(self, group, dataclasses.replace(values.get(group) or kind(), **mine))
        problems = value_problems(self)
        if problems:
            raise PresetValueError(f"preset {self.name}: {problems[0]}: fix the value", problems[0])

    def __getattr__(self, name: str):
        """A field by its flat name (``preset.lr`` is ``preset.training.lr``)."""
        group = GROUP_OF.get(name)
        if group is None:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        return getattr(object.__getattribute__(self, group), name)

    def lengths_for(self, task: str) -> tuple:
        return tuple(self.accuracy.task_seq_lens.get(task, self.accuracy.seq_lens))

    def steps_for(self, task: str) -> int:
        return int(self.training.task_train.get(task, {}).get("train_steps", self.training.train_steps))

    def batch_for(self, task: str) -> int:
        return int(self.training.task_train.get(task, {}).get("batch_size", self.training.batch_size))

    def lr_for(self, family: str) -> float:
        return self.training.family_lr.get(family, self.training.lr)

    def as_dict(self) -> dict:
        """Every field by its flat name (what the manifest stores as ``preset_config``)."""
        values = {name: copy.deepcopy(getattr(self, name)) for name in TOP_FIELDS}
        for group in GROUPS:
            values.update(dataclasses.asdict(getattr(self, group)))
        return values


def preset_fields() -> dict:
    """Every settable field by its flat name: its ``dataclasses.Field`` (whose ``type`` says what it takes)."""
    top = {one.name: one for one in dataclasses.fields(Preset) if one.name in TOP_FIELDS}
    return {**top, **{one.name: one for kind in GROUPS.values() for one in dataclasses.fields(kind)}}
