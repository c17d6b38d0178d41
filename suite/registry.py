"""Names → builders for model families and tasks, with "did you mean" on a typo.

A model is named by a *spec* ``family[:backend]``. A bare family means
``auto``: the first backend of the family's preference order that can run on
the device. A backend that cannot run raises :class:`BackendUnavailable` with
the reason; the runner turns that into a ``skipped`` record. Nothing is ever
swapped silently: the built model's ``backend`` names what actually runs.

Families and tasks are plain entries; ``register_model`` / ``register_task``
add a user's own (see ``--plugin``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from suite.naming import did_you_mean


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here; the message says why."""


@dataclass
class ModelFamily:
    """One family of sequence mixers.

    ``make_mixer(d_model, backend, layer_index, **config)`` returns one layer's
    mixer; ``probe(backend, device)`` returns ``None`` when that backend can run
    on ``device`` or a one-line reason when it cannot. ``backends`` is in
    preference order for ``auto``.
    """

    name: str
    make_mixer: Callable
    backends: tuple
    probe: Callable[[str, str], "str | None"] = lambda backend, device: None
    defaults: dict = field(default_factory=dict)
    description: str = ""


@dataclass
class TaskEntry:
    name: str
    factory: Callable  # (**params) -> tasks.base.Task
    description: str = ""


MODEL_FAMILIES: dict[str, ModelFamily] = {}
TASKS: dict[str, TaskEntry] = {}

# Built-in families: (name, module under models/) — imported lazily on first use.
_BUILTIN_FAMILIES = {
    "mingru": "models.mingru",
    "minlstm": "models.minlstm",
    "gru": "models.rnn:gru",
    "lstm": "models.rnn:lstm",
    "mamba": "models.mamba",
    "mamba2": "models.mamba2",
    "transformer": "models.transformer",
}
_BUILTIN_TASKS = {
    "mqar": "tasks.mqar",
    "selective-copy": "tasks.selective_copy",
    "needle": "tasks.needle",
    # state tracking (opt-in: no preset's default task list changes)
    "parity": "tasks.parity",
    "cycle-nav": "tasks.cycle_nav",
    "modular-arith": "tasks.modular_arith",
    "s5": "tasks.group_word:s5",
    "a5": "tasks.group_word:a5",
    "z60": "tasks.group_word:z60",
    "majority": "tasks.majority",
    "bucket-sort": "tasks.bucket_sort",
    # long-context reasoning
    "listops": "tasks.listops",
    "induction": "tasks.induction",
}


def register_model(name: str, make_mixer: Callable, backends=("default",), probe=None,
                   defaults: dict | None = None, description: str = "") -> ModelFamily:
    """Add (or replace) a model family. ``make_mixer(d_model, backend, layer_index, **config)``
    must return a mixer keeping the contract in ``models/backbone.py``."""
    family = ModelFamily(name, make_mixer, tuple(backends), probe or (lambda backend, device: None),
                         dict(defaults or {}), description)
    MODEL_FAMILIES[name] = family
    return family


def register_task(name: str, factory: Callable, description: str = "") -> TaskEntry:
    """Add (or replace) a task. ``factory(**params)`` returns a ``tasks.base.Task``."""
    entry = TaskEntry(name, factory, description)
    TASKS[name] = entry
    return entry


def _load_builtin_family(name: str) -> None:
    module_name, _, variant = _BUILTIN_FAMILIES[name].partition(":")
    module = importlib.import_module(module_name)
    family = getattr(module, "FAMILIES")[variant] if variant else module
    register_model(name, family.make_mixer, family.BACKENDS, family.probe, family.DEFAULTS, family.DESCRIPTION)


def _load_builtin_task(name: str) -> None:
    module_name, _, variant = _BUILTIN_TASKS[name].partition(":")
    module = importlib.import_module(module_name)
    if variant:
        register_task(name, module.TASKS[variant], module.DESCRIPTIONS[variant])
    else:
        register_task(name, module.TASK, module.DESCRIPTION)


def model_family_names() -> list[str]:
    return sorted(set(_BUILTIN_FAMILIES) | set(MODEL_FAMILIES))


def builtin_family_names() -> list[str]:
    """The families ``--models all`` means (in a stable, documented order)."""
    return list(_BUILTIN_FAMILIES)


def task_names() -> list[str]:
    return sorted(set(_BUILTIN_TASKS) | set(TASKS))


def builtin_task_names() -> list[str]:
    return list(_BUILTIN_TASKS)


def get_family(name: str) -> ModelFamily:
    if name not in MODEL_FAMILIES:
        if name not in _BUILTIN_FAMILIES:
            raise did_you_mean("model family", name, model_family_names())
        _load_builtin_family(name)
    return MODEL_FAMILIES[name]


def parse_spec(spec: str) -> tuple[ModelFamily, str]:
    """``"family[:backend]"`` → (family, backend or ``"auto"``); unknown names raise."""
    family_name, _, backend = spec.strip().partition(":")
    family = get_family(family_name)
    backend = backend or "auto"
    if backend != "auto" and backend not in family.backends:
        raise did_you_mean(f"backend of {family_name}", backend, family.backends + ("auto",))
    return family, backend


def resolve_backend(spec: str, device: str) -> tuple[ModelFamily, str]:
    """The backend that will run ``spec`` on ``device``, or :class:`BackendUnavailable`."""
    family, backend = parse_spec(spec)
    if backend != "auto":
        reason = family.probe(backend, device)
        if reason:
            raise BackendUnavailable(f"{family.name}:{backend} cannot run here: {reason}")
        return family, backend
    reasons = []
    for candidate in family.backends:
        reason = family.probe(candidate, device)
        if not reason:
            return family, candidate
        reasons.append(f"{candidate}: {reason}")
    raise BackendUnavailable(f"no backend of {family.name} runs here ({'; '.join(reasons)})")


def passed_over(spec: str, device: str) -> list[str]:
    """For a bare family: why each backend preferred over the one that runs was passed over."""
    family, backend = parse_spec(spec)
    if backend != "auto":
        return []
    reasons = []
    for candidate in family.backends:
        reason = family.probe(candidate, device)
        if not reason:
            break
        reasons.append(f"{candidate}: {reason}")
    return reasons


def build_model(spec: str, vocab_size: int, d_model: int = 64, n_layers: int = 2, device: str = "cpu",
                mlp_mult: int = 2, **config):
    """Build a ``models.backbone.LanguageModel`` for ``spec`` on ``device``.

    ``config`` overrides the family's defaults (e.g. ``expansion=4``); keys the
    family does not know are rejected with the list of those it does.
    """
    from models.backbone import LanguageModel

    family, backend = resolve_backend(spec, device)
    unknown = sorted(set(config) - set(family.defaults))
    if unknown:
        raise did_you_mean(f"option of {family.name}", unknown[0], family.defaults or ["(none)"])
    options = {**family.defaults, **config}
    model = LanguageModel(vocab_size, d_model, n_layers,
                          lambda index: family.make_mixer(d_model, backend, index, **options), mlp_mult)
    model.spec, model.family, model.options = spec, family.name, options
    return model.to(device)


def get_task(name: str, **params):
    """Build a task by name; ``params`` override its defaults."""
    if name not in TASKS:
        if name not in _BUILTIN_TASKS:
            raise did_you_mean("task", name, task_names())
        _load_builtin_task(name)
    return TASKS[name].factory(**params)


def task_description(name: str) -> str:
    if name not in TASKS and name in _BUILTIN_TASKS:
        _load_builtin_task(name)
    return TASKS[name].description if name in TASKS else ""
