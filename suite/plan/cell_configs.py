"""The typed configurations a cell holds (:mod:`suite.plan.cells`): the model, the task, and each kind's
settings: training (accuracy cells), timing (perf cells), the probe (max-len), a bench subject's shape and
timing (speed cells). Each gives the dict records store under its name (``record_dict``), absent-when-unused
entries left out, so cell keys hash what they always hashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class ModelConfig:
    """What model a cell builds: the family spec (``family[:backend]``) and its shape.

    ``options`` are the family's own options (``--set family_options...``); ``param_match`` and
    ``reference_d_model`` are set under ``run --match params`` (the width was chosen so parameter counts
    agree with the family at ``reference_d_model``). ``dropout`` is the backbone's (0: none, and then
    absent from ``model_config``, so cells without it keep their keys). ``layers`` is None for a uniform stack of
    ``n_layers`` mixers of ``spec``'s family; for a mixed stack (:mod:`suite.stacks`) it is one
    ``family[:backend][options]`` per layer, bottom first, and ``options`` maps each of its families
    to the preset's ``family_options`` of that family."""

    spec: str
    vocab_size: int
    d_model: int
    n_layers: int
    mlp_mult: float
    options: dict = field(default_factory=dict)
    param_match: str | None = None
    reference_d_model: int | None = None
    layers: tuple[str, ...] | None = None
    dropout: float = 0.0

    @property
    def family(self) -> str:
        from suite.stacks import spec_family

        return spec_family(self.spec)

    @property
    def backend(self) -> str | None:
        """The backend the spec names (None: the first that runs; a stack names one per layer)."""
        return None if self.layers is not None else self.spec.partition(":")[2] or None

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
        if self.dropout:
            config["dropout"] = self.dropout
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
    is scored at, ``run --eval-lens``), ``lr_sweep`` (the rates swept, ``run --lrs``); a language-model
    task's cells (``objective == "lm"``) set ``recall_ngram`` (the ``n`` of the recall split,
    :mod:`suite.measure.lm_metrics`) and ``target_loss`` (the validation loss that stops training, when
    the preset sets one); every other cell leaves them None, out of its key. ``plateau_after_steps``
    (0: from the first evaluation) is the first step at which a plateau may stop training, for a task whose
    learners sit at chance for a while before they rise (attention on MQAR); out of the key when 0. The planner sets
    every field (:func:`suite.plan.planning.training_setup`); the defaults say what an unset field means
    (every 20th of the budget, one curve batch, no plateau stop, no target)."""

    steps: int
    lr: float
    weight_decay: float
    warmup_steps: int
    grad_clip: float
    eval_batches: int
    eval_batch_size: int
    dtype: str
    schedule: str = "cosine"
    eval_every: int = 0
    curve_batches: int = 1
    patience: int = 0
    min_delta: float = 0.0
    target_accuracy: float | None = None
    max_steps_key: str = "train_steps"
    optimizer: str = "AdamW"
    time_limit_s: float | None = None
    tf32: bool = False
    eval_lens: tuple[int, ...] | None = None
    lr_sweep: tuple[float, ...] | None = None
    target_loss: float | None = None
    recall_ngram: int | None = None
    plateau_after_steps: int = 0

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
        if self.target_loss is not None:
            config["target_loss"] = self.target_loss
        if self.recall_ngram is not None:
            config["recall_ngram"] = self.recall_ngram
        if self.plateau_after_steps:
            config["plateau_after_steps"] = self.plateau_after_steps
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


@dataclass(frozen=True)
class SubjectConfig:
    """The shape of a ``bench speed`` subject (see :mod:`suite.measure.speed`): its ``scope`` (``mixer``,
    ``model`` or ``scan``) and width; a mixer's or model's ``n_layers`` and ``options``, a model's
    ``vocab_size``; a scan's ``hidden`` size, ``input_dtype`` and what its bytes count
    (``bytes_counted``); ``projections_of`` and ``copy_of`` name the family a floor subject stands for.
    Fields left None are absent from the record's ``model_config`` (a subject that failed before it was
    built may know nothing of its shape)."""

    scope: str | None = None
    d_model: int | None = None
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
    (interleaved), under ``dtype`` (and TF32 when ``tf32``: in the record only when set)."""

    dtype: str
    warmup: int
    repeats: int
    min_time_s: float
    interleaved: bool = True
    tf32: bool = False
