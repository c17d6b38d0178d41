"""Names → builders for model families and tasks, with "did you mean" on a typo.

A model is named by a *spec* ``family[:backend]``. A bare family means
``auto``: the first backend of the family's preference order that can run on
the device. A backend that cannot run raises :class:`BackendUnavailable` with
the reason; the runner turns that into a ``skipped`` record. Nothing is ever
swapped silently: the built model's ``backend`` names what actually runs.

Families and tasks are plain entries; ``register_model`` / ``register_task``
add a user's own (see ``--plugin``). A name that is a built-in, or that another
file registered, is refused unless ``override=True``: a plugin never replaces a
family or task silently. Registering a name again from the same file (a plugin
imported twice) is not a replacement. An entry registered while a ``--plugin``
file runs remembers that file as its ``origin`` (``{"path", "sha256"}``), which
every record of a cell built from it carries as ``plugin``
(:func:`plugin_provenance`); built-ins have no origin.

Versions
--------
Every family and every task has an integer ``version`` that every record carries
(``family_version``, ``task_version``; :func:`record_versions`), as
lm-evaluation-harness versions its tasks: a result holds only for the code that
made it. A built-in's is its module's ``VERSION`` (``models/*.py``, ``tasks/*.py``;
1 where a module declares none); a plugin passes ``version=`` to
:func:`register_model` / :func:`register_task` (default 1). Changing a task's
generator or scoring, or a family's maths (``models/backbone.py``, shared by every
family, included), means bumping it; ``compare`` warns when a matched cell's
versions differ between two runs, so an old baseline is not read as a regression
or an improvement of the new code.
"""

from __future__ import annotations

import importlib
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from collections.abc import Callable

from suite.errors import UsageError
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
    probe: Callable[[str, str], str | None] = lambda backend, device: None
    defaults: dict = field(default_factory=dict)
    description: str = ""
    origin: dict | None = None  # {"path", "sha256"} of the plugin file that registered it
    registered_from: str | None = None  # the file whose code called register_model
    version: int = 1  # bumped when the family's maths changes (see the module docstring)


@dataclass
class TaskEntry:
    name: str
    factory: Callable  # (**params) -> tasks.base.Task
    description: str = ""
    origin: dict | None = None
    registered_from: str | None = None
    version: int = 1  # bumped when the task's generator or scoring changes (see the module docstring)


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
# Real-data tasks (suite.data): built by name, never part of `--tasks all` or builtin_task_names(),
# which stay the synthetic tasks every machine can generate.
_DATA_TASKS = {
    "char-lm": "tasks.char_lm",
    "seq-fashion-mnist": "tasks.seq_fashion_mnist",
}
_BUILTIN_TASKS.update(_DATA_TASKS)


_LOADING: list[dict] = []  # origins of the plugin files being run, innermost last


@contextmanager
def plugin_origin(path: str, sha256: str):
    """While a plugin file runs (``suite.plugins``): what it registers has this origin."""
    _LOADING.append({"path": path, "sha256": sha256})
    try:
        yield
    finally:
        _LOADING.pop()


def _caller_file(depth: int = 2) -> str | None:
    filename = sys._getframe(depth).f_code.co_filename
    return None if filename.startswith("<") else os.path.realpath(filename)


def _refuse_replacing(what: str, name: str, builtins, registered: dict, caller: str | None, api: str) -> None:
    """Raise a :class:`UsageError` if registering ``name`` would replace a built-in or
    another file's entry (the fix: ``override=True``, or another name)."""
    fix = f"pass override=True to {api} to replace it, or pick another name"
    if name in builtins:
        raise UsageError(f"{name!r} is a built-in {what}; {fix}")
    existing = registered.get(name)
    if existing is not None and (caller is None or existing.registered_from != caller):
        where = (existing.origin or {}).get("path") or existing.registered_from or "other code"
        raise UsageError(f"{what} {name!r} is already registered by {where}; {fix}")


def register_model(
    name: str,
    make_mixer: Callable,
    backends=("default",),
    probe=None,
    defaults: dict | None = None,
    description: str = "",
    override: bool = False,
    version: int = 1,
) -> ModelFamily:
    """Add a model family. ``make_mixer(d_model, backend, layer_index, **config)`` must return
    a mixer keeping the contract in ``models/backbone.py``; ``config`` is ``defaults`` updated by
    the run's options. ``probe(backend, device)`` returns ``None`` when ``backend`` runs on
    ``device``, else a one-line reason. A built-in's name or another file's is refused unless
    ``override=True``. ``version`` (an integer >= 1) is bumped when the family's maths changes."""
    caller = _caller_file()
    _check_version(name, version)
    if not override:
        _refuse_replacing("family", name, _BUILTIN_FAMILIES, MODEL_FAMILIES, caller, "register_model")
    family = ModelFamily(
        name,
        make_mixer,
        tuple(backends),
        probe or (lambda backend, device: None),
        dict(defaults or {}),
        description,
        _current_origin(),
        caller,
        version,
    )
    MODEL_FAMILIES[name] = family
    return family


def register_task(
    name: str, factory: Callable, description: str = "", override: bool = False, version: int = 1
) -> TaskEntry:
    """Add a task. ``factory(**params)`` returns a ``tasks.base.Task``. A built-in's name or
    another file's is refused unless ``override=True``. ``version`` (an integer >= 1) is bumped
    when the generator or the scoring changes."""
    caller = _caller_file()
    _check_version(name, version)
    if not override:
        _refuse_replacing("task", name, _BUILTIN_TASKS, TASKS, caller, "register_task")
    entry = TaskEntry(name, factory, description, _current_origin(), caller, version)
    TASKS[name] = entry
    return entry


def _check_version(name: str, version) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UsageError(f"{name!r}: version must be an integer >= 1, got {version!r}; pass e.g. version=2")


def _current_origin() -> dict | None:
    return dict(_LOADING[-1]) if _LOADING else None


def plugin_provenance(family: str | None, task: str | None) -> dict | None:
    """A record's ``plugin`` field: ``None`` when the cell's family and task are both built in
    (or registered outside a plugin file), else ``{"model": origin, "task": origin}`` with each
    origin ``{"path", "sha256"}`` of the plugin file, or ``None`` for the built-in side."""
    model_origin = MODEL_FAMILIES[family].origin if family in MODEL_FAMILIES else None
    task_origin = TASKS[task].origin if task in TASKS else None
    if model_origin is None and task_origin is None:
        return None
    return {"model": model_origin, "task": task_origin}


def record_versions(family: str | None, task: str | None) -> dict:
    """A record's ``family_version`` and ``task_version`` (None for a side the cell has not, e.g.
    the task of a perf cell, or a name not registered)."""
    if family is not None and family not in MODEL_FAMILIES and family in _BUILTIN_FAMILIES:
        _load_builtin_family(family)
    if task is not None and task not in TASKS and task in _BUILTIN_TASKS:
        _load_builtin_task(task)
    return {
        "family_version": MODEL_FAMILIES[family].version if family in MODEL_FAMILIES else None,
        "task_version": TASKS[task].version if task in TASKS else None,
    }


def _load_builtin_family(name: str) -> None:
    module_name, _, variant = _BUILTIN_FAMILIES[name].partition(":")
    module = importlib.import_module(module_name)
    family = module.FAMILIES[variant] if variant else module
    MODEL_FAMILIES[name] = ModelFamily(
        name,
        family.make_mixer,
        tuple(family.BACKENDS),
        family.probe,
        dict(family.DEFAULTS),
        family.DESCRIPTION,
        version=getattr(module, "VERSION", 1),
    )


def _load_builtin_task(name: str) -> None:
    module_name, _, variant = _BUILTIN_TASKS[name].partition(":")
    module = importlib.import_module(module_name)
    version = getattr(module, "VERSION", 1)
    if variant:
        TASKS[name] = TaskEntry(name, module.TASKS[variant], module.DESCRIPTIONS[variant], version=version)
    else:
        TASKS[name] = TaskEntry(name, module.TASK, module.DESCRIPTION, version=version)


def model_family_names() -> list[str]:
    return sorted(set(_BUILTIN_FAMILIES) | set(MODEL_FAMILIES))


def backend_reasons(device: str) -> dict[str, dict[str, str | None]]:
    """``{family: {backend: None if it runs on device, else why not}}``, every family, each probed once
    (what ``suite list`` shows and ``scripts/gpu-check`` checks)."""
    return {
        name: {backend: get_family(name).probe(backend, device) for backend in get_family(name).backends}
        for name in model_family_names()
    }


def builtin_family_names() -> list[str]:
    """The families ``--models all`` means (in a stable, documented order)."""
    return list(_BUILTIN_FAMILIES)


def task_names() -> list[str]:
    return sorted(set(_BUILTIN_TASKS) | set(TASKS))


def builtin_task_names() -> list[str]:
    """The synthetic built-in tasks (``--tasks all``); the real-data ones are in :func:`data_task_names`."""
    return [name for name in _BUILTIN_TASKS if name not in _DATA_TASKS]


def data_task_names() -> list[str]:
    """The built-in tasks that read a real data set (they need it on disk: ``python -m suite data fetch``)."""
    return list(_DATA_TASKS)


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


def check_family_options(family, options, where: str = "") -> None:
    """``options`` are all ``family``'s (keys of its defaults): else one-line did-you-mean naming the
    first unknown key (``where`` says where the options came from, e.g. `` (family_options.gru)``)."""
    unknown = sorted(set(options) - set(family.defaults))
    if unknown:
        raise did_you_mean(f"option of {family.name}{where}", unknown[0], family.defaults or ["(none)"])


def build_model(
    spec: str,
    vocab_size: int,
    d_model: int = 64,
    n_layers: int = 2,
    device: str = "cpu",
    mlp_mult: int = 2,
    dropout: float = 0.0,
    **config,
):
    """Build a ``models.backbone.LanguageModel`` for ``spec`` on ``device``.

    ``config`` overrides the family's defaults (e.g. ``expansion=4``); keys the
    family does not know are rejected with the list of those it does. ``dropout`` is the
    backbone's (every family alike; see ``models.backbone``).
    """
    from models.backbone import LanguageModel

    family, backend = resolve_backend(spec, device)
    check_family_options(family, config)
    options = {**family.defaults, **config}
    model = LanguageModel(
        vocab_size,
        d_model,
        n_layers,
        lambda index: family.make_mixer(d_model, backend, index, **options),
        mlp_mult,
        dropout,
    )
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
