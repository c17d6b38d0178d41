"""The cells of a run, one frozen dataclass per kind, each holding typed configurations.

- :class:`AccuracyCell`: a model (:class:`ModelConfig`) trained on a task (:class:`TaskConfig`) at
  ``seq_len`` with early stopping (:class:`TrainConfig`), scored on the task's test stream.
- :class:`PerfCell`: a model with random weights, no training; a training step, a prefill and decode
  steps timed at ``seq_len`` and memory measured (:class:`TimingConfig`). A ``--find-max-len`` probe
  is a perf cell whose timing names the probe (``TimingConfig.probe``).
- :class:`SpeedCell`: one subject of ``bench speed`` (a mixer, a whole model, a scan or a copy, its
  shape in :class:`SubjectConfig`) timed interleaved with the others of its unit (:class:`SpeedTiming`).
- :class:`MaxLenCell`: a model's memory boundary under ``--find-max-len``: lengths probed by doubling
  (:class:`ProbeConfig`), each probe a :class:`PerfCell`.

Every kind answers the same questions: ``kind``, ``model`` (the spec, e.g. ``gru:loop``), ``family``,
``task`` (a name, or None), ``seq_len``, ``batch_size``, ``seed``, ``key`` and ``label()``.

The key. A cell's ``key`` is a stable hash of everything that defines its result, so a resumed or
repeated run can tell which cells it already has. It is the first 16 hex digits of the sha256 of the
JSON (sorted keys) of :meth:`canonical`: the cell as the records store it, ``kind``, ``model``,
``task``, ``seq_len``, ``batch_size``, ``seed`` and three dicts, ``task_params``, ``model_config`` and
``train_config`` (the fields records carry under those names). Optional settings (``eval_lens``,
``lr_sweep``, ``param_match``, ``tf32``, ``min_time_s``, ``time_limit_s``, energy, ``layers``) enter
those dicts only when used, so the keys of runs made before a setting existed do not change; the
values keep the types the preset gave them (``4`` and ``4.0`` hash differently). This is the formula
of every run since the first, so committed runs, baselines and resumed runs keep finding their cells.

Cells are plain frozen dataclasses of plain values: they pickle to forkserver children, Ray and Slurm.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields

KINDS = ("accuracy", "perf", "speed", "max_len")


@dataclass(frozen=True)
class ModelConfig:
    """What model a cell builds: the family spec (``family[:backend]``) and its shape.

    ``options`` are the family's own options (``--set family_options...``); ``param_match`` and
    ``reference_d_model`` are set under ``run --match params`` (the width was chosen so parameter counts
    agree with the family at ``reference_d_model``). ``layers`` is None for a uniform stack of
    ``n_layers`` mixers of ``spec``'s family; room for a mixed stack (one spec per layer)."""

    spec: str
    vocab_size: int
    d_model: int
    n_layers: int
    mlp_mult: float
    options: dict = field(default_factory=dict)
    param_match: str | None = None
    reference_d_model: int | None = None
    layers: tuple[str, ...] | None = None

    @property
    def family(self) -> str:
        return self.spec.partition(":")[0]

    @property
    def backend(self) -> str | None:
        return self.spec.partition(":")[2] or None

    def record_dict(self) -> dict:
        """``model_config`` as records store it (and as the key hashes it)."""
        config = {
            "vocab_size": self.vocab_size,
            "d_model": self.d_model,
            "n_layers": self.n_layers,
            "mlp_mult": self.mlp_mult,
            "options": dict(self.options),
        }
        if self.param_match is not None:
            config["param_match"] = self.param_match
            config["reference_d_model"] = self.reference_d_model
        if self.layers is not None:
            config["layers"] = list(self.layers)
        return config


@dataclass(frozen=True)
class TaskConfig:
    """A task by registry name and the parameters its generator was built with (``Task.params()``)."""

    name: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """How an accuracy cell trains (see :mod:`suite.measure.train`): AdamW at peak rate ``lr`` after
    ``warmup_steps`` of linear warm-up, then ``schedule``; at most ``steps`` steps, evaluated every
    ``eval_every`` steps on ``curve_batches`` validation batches, stopped after ``patience`` evaluations
    without a gain over ``min_delta`` or at ``target_accuracy``; scored on ``eval_batches`` test batches
    of ``eval_batch_size``. ``max_steps_key`` names the ``--set`` key of the step budget.

    Optional: ``time_limit_s`` (a guard against runaway cells), ``tf32``, ``eval_lens`` (the lengths it
    is scored at, ``run --eval-lens``), ``lr_sweep`` (the rates swept, ``run --lrs``)."""

    steps: int
    lr: float
    weight_decay: float
    warmup_steps: int
    grad_clip: float
    eval_batches: int
    eval_batch_size: int
    dtype: str
    schedule: str
    eval_every: int
    curve_batches: int
    patience: int
    min_delta: float
    target_accuracy: float | None
    max_steps_key: str
    optimizer: str = "AdamW"
    time_limit_s: float | None = None
    tf32: bool = False
    eval_lens: tuple[int, ...] | None = None
    lr_sweep: tuple[float, ...] | None = None

    def record_dict(self) -> dict:
        """``train_config`` as records store it (and as the key hashes it)."""
        config = {name: getattr(self, name) for name in REQUIRED_TRAIN_FIELDS}
        if self.time_limit_s is not None:
            config["time_limit_s"] = self.time_limit_s
        if self.tf32:
            config["tf32"] = True
        if self.eval_lens:
            config["eval_lens"] = list(self.eval_lens)
        if self.lr_sweep:
            config["lr_sweep"] = list(self.lr_sweep)
        return config


REQUIRED_TRAIN_FIELDS = (
    "steps",
    "lr",
    "weight_decay",
    "warmup_steps",
    "grad_clip",
    "eval_batches",
    "eval_batch_size",
    "dtype",
    "optimizer",
    "schedule",
    "eval_every",
    "curve_batches",
    "patience",
    "min_delta",
    "target_accuracy",
    "max_steps_key",
)


@dataclass(frozen=True)
class TimingConfig:
    """How a perf cell is timed (see :mod:`suite.measure.perf`): ``warmup`` untimed calls, then at least
    ``repeats`` timed ones (and at least ``min_time_s`` of them when set), ``decode_tokens`` decode
    steps; the training step uses AdamW at ``lr``. ``energy`` measures joules per step at
    ``energy_seq_lens`` (every length when empty). ``probe`` names a ``--find-max-len`` probe."""

    warmup: int
    repeats: int
    decode_tokens: int
    lr: float
    dtype: str
    optimizer: str = "AdamW"
    min_time_s: float | None = None
    tf32: bool = False
    energy: bool = False
    energy_seq_lens: tuple[int, ...] = ()
    probe: str | None = None

    def record_dict(self) -> dict:
        """``train_config`` of a perf cell as records store it (and as the key hashes it)."""
        config = {
            "warmup": self.warmup,
            "repeats": self.repeats,
            "decode_tokens": self.decode_tokens,
            "lr": self.lr,
            "dtype": self.dtype,
            "optimizer": self.optimizer,
        }
        if self.min_time_s is not None:
            config["min_time_s"] = self.min_time_s
        if self.tf32:
            config["tf32"] = True
        if self.energy:
            config.update(energy=True, energy_seq_lens=list(self.energy_seq_lens))
        if self.probe is not None:
            config["probe"] = self.probe
        return config


@dataclass(frozen=True)
class ProbeConfig:
    """A ``--find-max-len`` search: lengths ``start_len, 2·start_len, …`` up to ``limit_len``, each
    probe under the run's memory cap ``mem_limit_bytes`` (None: no cap)."""

    start_len: int
    limit_len: int
    mem_limit_bytes: int | None = None


SUBJECT_FIELDS = ("n_layers", "vocab_size", "options", "hidden", "input_dtype", "bytes_counted")


@dataclass(frozen=True)
class SubjectConfig:
    """The shape of a ``bench speed`` subject (see :mod:`suite.measure.speed`): its ``scope`` (``mixer``,
    ``model`` or ``scan``) and width; a mixer's or model's ``n_layers`` and ``options``, a model's
    ``vocab_size``; a scan's ``hidden`` size, ``input_dtype`` and what its bytes count
    (``bytes_counted``); ``projections_of`` and ``copy_of`` name the family a floor subject stands for.
    Fields left None are absent from the record's ``model_config``."""

    scope: str
    d_model: int
    n_layers: int | None = None
    vocab_size: int | None = None
    options: dict | None = None
    hidden: int | None = None
    input_dtype: str | None = None
    bytes_counted: str | None = None
    projections_of: str | None = None
    copy_of: str | None = None

    @classmethod
    def from_dict(cls, config: dict) -> SubjectConfig:
        """From a subject's ``config`` (``suite.measure.speed.Subject.config``); an unknown key is an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown speed subject config keys: {', '.join(unknown)}")
        return cls(**config)

    def record_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class SpeedTiming:
    """How a ``bench speed`` unit is timed (see :mod:`suite.measure.speed`): ``warmup`` untimed rounds,
    then at least ``repeats`` timed rounds and ``min_time_s``, every subject of the unit once per round
    (interleaved), under ``dtype``."""

    dtype: str
    warmup: int
    repeats: int
    min_time_s: float
    interleaved: bool = True


def _hash(canonical: dict) -> str:
    text = json.dumps(canonical, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _CellBase:
    """What every kind shares: the common attributes, the record dicts, the key."""

    kind: str
    seq_len: int
    batch_size: int
    seed: int

    @property
    def model(self) -> str:
        return self.spec_of()

    @property
    def family(self) -> str:
        return self.model.partition(":")[0]

    @property
    def task(self) -> str | None:
        return None

    def canonical(self) -> dict:
        """The cell as records store it: what the key hashes (see the module docstring)."""
        return {
            "kind": self.kind,
            "model": self.model,
            "task": self.task,
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "task_params": self.task_params,
            "model_config": self.model_config,
            "train_config": self.train_config,
        }

    @property
    def key(self) -> str:
        return _hash(self.canonical())

    def label(self) -> str:
        return f"{self.model} {self.task or 'perf'} T={self.seq_len} seed={self.seed}"


@dataclass(frozen=True)
class AccuracyCell(_CellBase):
    architecture: ModelConfig
    task_config: TaskConfig
    seq_len: int
    batch_size: int
    seed: int
    training: TrainConfig
    kind: str = field(default="accuracy", init=False)

    def spec_of(self) -> str:
        return self.architecture.spec

    @property
    def task(self) -> str:
        return self.task_config.name

    @property
    def task_params(self) -> dict:
        return dict(self.task_config.params)

    @property
    def model_config(self) -> dict:
        return self.architecture.record_dict()

    @property
    def train_config(self) -> dict:
        return self.training.record_dict()

    @property
    def eval_lens(self) -> list[int]:
        """The lengths this cell is scored at: ``training.eval_lens``, else its training length."""
        return [int(length) for length in self.training.eval_lens or (self.seq_len,)]


@dataclass(frozen=True)
class PerfCell(_CellBase):
    architecture: ModelConfig
    seq_len: int
    batch_size: int
    seed: int
    timing: TimingConfig
    kind: str = field(default="perf", init=False)

    def spec_of(self) -> str:
        return self.architecture.spec

    @property
    def task_params(self) -> dict:
        return {"vocab_size": self.architecture.vocab_size}

    @property
    def model_config(self) -> dict:
        return self.architecture.record_dict()

    @property
    def train_config(self) -> dict:
        return self.timing.record_dict()


@dataclass(frozen=True)
class MaxLenCell(_CellBase):
    """A model's memory boundary; ``seq_len`` is 0 (the cell spans lengths)."""

    architecture: ModelConfig
    batch_size: int
    seed: int
    timing: TimingConfig
    probe: ProbeConfig
    seq_len: int = 0
    kind: str = field(default="max_len", init=False)

    def spec_of(self) -> str:
        return self.architecture.spec

    @property
    def task_params(self) -> dict:
        return {"vocab_size": self.architecture.vocab_size}

    @property
    def model_config(self) -> dict:
        return self.architecture.record_dict()

    @property
    def train_config(self) -> dict:
        probe = self.probe
        return {
            **self.timing.record_dict(),
            "start_len": probe.start_len,
            "limit_len": probe.limit_len,
            "mem_limit_bytes": probe.mem_limit_bytes,
        }

    def label(self) -> str:
        return f"{self.model} max-len {self.probe.start_len}..{self.probe.limit_len} seed={self.seed}"


@dataclass(frozen=True)
class SpeedCell(_CellBase):
    """A ``bench speed`` subject at one length; ``spec`` names it (``mingru:triton``, ``copy:mingru``)."""

    spec: str
    subject: SubjectConfig
    seq_len: int
    batch_size: int
    seed: int
    timing: SpeedTiming
    kind: str = field(default="speed", init=False)

    def spec_of(self) -> str:
        return self.spec

    @property
    def scope(self) -> str:
        return self.subject.scope

    @property
    def step(self) -> str:
        """What one timed call runs: a scan's forward, else a forward, loss and backward."""
        return "forward" if self.scope == "scan" else "forward+loss+backward"

    @property
    def task_params(self) -> dict:
        return {"vocab_size": self.subject.vocab_size} if self.scope == "model" else {}

    @property
    def model_config(self) -> dict:
        return self.subject.record_dict()

    @property
    def train_config(self) -> dict:
        timing = self.timing
        return {
            "scope": self.scope,
            "step": self.step,
            "dtype": timing.dtype,
            "warmup": timing.warmup,
            "repeats": timing.repeats,
            "min_time_s": timing.min_time_s,
            "interleaved": timing.interleaved,
        }

    def label(self) -> str:
        return f"{self.model} {self.scope} T={self.seq_len} seed={self.seed}"


Cell = AccuracyCell | PerfCell | SpeedCell | MaxLenCell
