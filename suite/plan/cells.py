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
from dataclasses import dataclass, field

from suite.plan.cell_configs import (
    ModelConfig,
    ProbeConfig,
    SpeedTiming,
    SubjectConfig,
    TaskConfig,
    TimingConfig,
    TrainConfig,
)
from suite.stacks import spec_family

KINDS = ("accuracy", "perf", "speed", "max_len")


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
        return spec_family(self.model)  # "stack" for a mixed stack (suite.stacks)

    @property
    def task(self) -> str | None:
        return None

    @property
    def dtype(self) -> str:
        """What the cell computes in (``suite.plan.presets.resolve_dtype``'s names)."""
        return self.settings().dtype

    @property
    def tf32(self) -> bool:
        """Whether fp32 matmuls may use TF32 (``suite.measure.timing.apply_numerics``)."""
        return bool(self.settings().tf32)

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

    def settings(self) -> TrainConfig:
        return self.training

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


class _TimedModel:
    """What a perf cell and a max-len cell share: a model timed on random tokens of its vocabulary,
    no task (``task_params`` is the vocabulary alone)."""

    def spec_of(self) -> str:
        return self.architecture.spec

    def settings(self) -> TimingConfig:
        return self.timing

    @property
    def task_params(self) -> dict:
        return {"vocab_size": self.architecture.vocab_size}

    @property
    def model_config(self) -> dict:
        return self.architecture.record_dict()


@dataclass(frozen=True)
class PerfCell(_TimedModel, _CellBase):
    architecture: ModelConfig
    seq_len: int
    batch_size: int
    seed: int
    timing: TimingConfig
    kind: str = field(default="perf", init=False)

    @property
    def train_config(self) -> dict:
        return self.timing.record_dict()


@dataclass(frozen=True)
class MaxLenCell(_TimedModel, _CellBase):
    """A model's memory boundary; ``seq_len`` is 0 (the cell spans lengths)."""

    architecture: ModelConfig
    batch_size: int
    seed: int
    timing: TimingConfig
    probe: ProbeConfig
    seq_len: int = 0
    kind: str = field(default="max_len", init=False)

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
    scope: str
    subject: SubjectConfig
    seq_len: int
    batch_size: int
    seed: int
    timing: SpeedTiming
    kind: str = field(default="speed", init=False)

    def spec_of(self) -> str:
        return self.spec

    def settings(self) -> SpeedTiming:
        return self.timing

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
            **({"tf32": True} if timing.tf32 else {}),
        }

    def label(self) -> str:
        return f"{self.model} {self.scope} T={self.seq_len} seed={self.seed}"


Cell = AccuracyCell | PerfCell | SpeedCell | MaxLenCell
