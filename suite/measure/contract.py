"""The contract a model family or a task keeps, checked in seconds before a run's grid starts.

A family registered by a ``--plugin`` file that does not keep the contract would otherwise
turn every one of its cells into an ``error`` record; these checks say what is wrong, one
short line per problem, before any cell runs.

- :func:`check_model`: the family built tiny (vocabulary 11, ``d_model`` 16, 2 layers, the
  first backend whose probe says it runs here; none runs here → nothing to check) gives
  logits of shape ``(2, 5, 11)`` for ``(2, 5)`` tokens; ``init_state`` then ``step`` token by
  token gives forward's logits at every position, and so does ``forward(return_state=True)``
  on the first 4 tokens followed by one ``step``; ``backend`` names the implementation;
  ``state_elements``/``state_bytes`` give non-negative numbers (``models/backbone.py``).
- :func:`check_task`: the task built with ``params`` (default: its defaults) samples a
  ``Batch`` whose ``inputs``/``targets`` (int64) and ``mask`` (bool, at least one True) are
  ``(2, L)``, tokens within ``[0, vocab_size)`` (targets where the mask is set), and the same
  generator seed gives the same batch (``tasks/base.py``).
- :func:`check_plugins`: both checks for every family and task the given plugin files
  registered; :func:`plugin_problems` loads the files first, for a child process
  (``suite.executors.isolated.call_in_child``).
"""

from __future__ import annotations

import numbers
from pathlib import Path

import torch

from suite import registry
from suite.measure.cell import one_line
from suite.plugins import PluginError, load_plugins

VOCAB, D_MODEL, N_LAYERS = 11, 16, 2
BATCH, STEPS = 2, 5
TOLERANCE = 1e-4  # float32, relative to the largest logit (the built-ins agree to ~1e-6)
MIXER = "models/backbone.py"
TASK = "tasks/base.py"


def _label(kind: str, name: str, entry) -> str:
    return f"{'plugin ' if entry is not None and entry.origin else ''}{kind} {name!r}"


def check_model(spec: str, device: str = "cpu") -> list[str]:
    """Problems with the model family of ``spec`` (``family[:backend]``); empty when it keeps
    the mixer contract or when no backend of it runs on ``device``."""
    name = spec.strip().partition(":")[0]
    label = _label("model", name, registry.MODEL_FAMILIES.get(name))
    try:
        family, backend = registry.resolve_backend(spec, device)
    except registry.BackendUnavailable:
        return []
    except Exception as error:  # an unknown name, or a probe that raises
        return [f"{label}: choosing a backend failed ({one_line(error)})"]
    label = _label("model", name, family)
    with torch.random.fork_rng(devices=[]):  # leave the caller's random stream as it was
        torch.manual_seed(0)
        try:
            model = registry.build_model(
                f"{family.name}:{backend}", vocab_size=VOCAB, d_model=D_MODEL, n_layers=N_LAYERS, device=device
            ).eval()
        except Exception as error:
            return [
                f"{label}: building it failed ({one_line(error)}): make_mixer(d_model, backend, "
                f"layer_index, **config) must return a mixer module ({MIXER})"
            ]
        tokens = torch.randint(0, VOCAB, (BATCH, STEPS), generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            return [f"{label}: {problem}" for problem in _model_problems(model, tokens.to(device))]


def _model_problems(model, tokens) -> list[str]:
    problems = _backend_problems(model)
    try:
        logits = model(tokens)
    except Exception as error:
        return problems + [f"forward() failed ({one_line(error)}); see {MIXER}"]
    expected = (BATCH, STEPS, VOCAB)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != expected:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        return problems + [
            f"forward() on tokens {tuple(tokens.shape)} gave {shape}, expected logits {expected}: "
            f"the mixer's forward(x) must return y of x's shape [B, T, D]"
        ]
    if not torch.isfinite(logits).all():
        return problems + ["forward() gave non-finite logits at initialisation"]
    tolerance = TOLERANCE * max(1.0, logits.abs().max().item())
    problems += _step_problems(model, tokens, logits, tolerance)
    problems += _prefill_problems(model, tokens, logits, tolerance)
    return problems + _state_problems(model)


def _backend_problems(model) -> list[str]:
    try:
        backend = model.backend
    except Exception as error:
        return [
            f"reading the mixer's backend failed ({one_line(error)}): it must be a string naming "
            f"the implementation that runs"
        ]
    if not isinstance(backend, str) or not backend:
        return [f"the mixer's backend is {backend!r}: it must be a non-empty string naming the implementation"]
    return []


def _disagreement(got, want, tolerance) -> float | None:
    """The largest |difference|, or None when ``got`` agrees with ``want``."""
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return float("inf")
    diff = (got.float() - want.float()).abs().max().item()
    return None if diff <= tolerance else diff


def _step_problems(model, tokens, logits, tolerance) -> list[str]:
    try:
        state = model.init_state(BATCH)
        for position in range(STEPS):
            step_logits, state = model.step(tokens[:, position], state)
            diff = _disagreement(step_logits, logits[:, position], tolerance)
            if diff is not None:
                what = (
                    f"max |diff| {diff:.3g}"
                    if diff != float("inf")
                    else f"shape {tuple(getattr(step_logits, 'shape', ()))}, expected {(BATCH, VOCAB)}"
                )
                return [
                    f"step() disagrees with forward() at position {position} ({what}): step(x[B, D], state) "
                    f"must continue the recurrence forward() computes, from init_state() ({MIXER})"
                ]
    except Exception as error:
        return [f"init_state()/step() failed ({one_line(error)}); see {MIXER}"]
    return []


def _prefill_problems(model, tokens, logits, tolerance) -> list[str]:
    position = STEPS - 1
    try:
        _, state = model(tokens[:, :position], return_state=True)
        last, _ = model.step(tokens[:, position], state)
    except Exception as error:
        return [f"forward(return_state=True) then step() failed ({one_line(error)}); see {MIXER}"]
    diff = _disagreement(last, logits[:, position], tolerance)
    if diff is not None:
        return [
            f"forward(return_state=True) then step() disagrees with forward() at position {position} "
            f"(max |diff| {diff:.3g}): the state returned must be the state after the last token ({MIXER})"
        ]
    return []


def _state_problems(model) -> list[str]:
    try:
        counts = [block.mixer.state_elements(STEPS) for block in model.blocks]
        total = model.state_bytes(1, STEPS)
    except Exception as error:
        return [f"state_elements()/state_bytes() failed ({one_line(error)}); see {MIXER}"]
    bad = [
        count
        for count in counts + [total]
        if isinstance(count, bool) or not isinstance(count, numbers.Real) or not count >= 0
    ]
    if bad:
        return [f"state_elements({STEPS}) must be a non-negative number of state values, got {bad[0]!r}"]
    return []


def check_task(name: str, params: dict | None = None) -> list[str]:
    """Problems with task ``name`` built with ``params`` (its defaults when None); empty when
    it keeps the task contract."""
    label = _label("task", name, registry.TASKS.get(name))
    try:
        task = registry.get_task(name, **(params or {}))
    except Exception as error:
        return [
            f"{label}: building it failed ({one_line(error)}): factory(**params) must return a tasks.base.Task ({TASK})"
        ]
    problems = _task_attribute_problems(task)
    if not problems:
        problems = _sample_problems(task)
    return [f"{label}: {problem}" for problem in problems]


def _task_attribute_problems(task) -> list[str]:
    vocab = getattr(task, "vocab_size", None)
    if isinstance(vocab, bool) or not isinstance(vocab, int) or vocab < 1:
        return [f"vocab_size is {vocab!r}: it must be a positive int (tokens lie in [0, vocab_size))"]
    chance = getattr(task, "chance_accuracy", None)
    if isinstance(chance, bool) or not isinstance(chance, numbers.Real) or not 0 < chance <= 1:
        return [f"chance_accuracy is {chance!r}: it must be a number in (0, 1] ({TASK})"]
    if not callable(getattr(task, "sample", None)):
        return [f"it has no sample(generator, batch, seq_len) method ({TASK})"]
    return []


def sample_len(task) -> int:
    """A short length the task can make: 16, or its ``min_len``/``max_len`` when 16 is outside."""
    length = max(int(getattr(task, "min_len", 1) or 1), 16)
    max_len = getattr(task, "max_len", None)
    return min(length, max_len) if max_len else length


def _sample_problems(task) -> list[str]:
    length = sample_len(task)
    try:
        if hasattr(task, "check_len"):
            task.check_len(length)
        batch = task.sample(torch.Generator().manual_seed(0), BATCH, length)
    except Exception as error:
        return [f"sample(generator, {BATCH}, {length}) failed ({one_line(error)}); see {TASK}"]
    problems = _batch_problems(batch, task.vocab_size, length)
    if problems:
        return problems
    try:
        again = task.sample(torch.Generator().manual_seed(0), BATCH, length)
        same = all(torch.equal(getattr(batch, name), getattr(again, name)) for name in ("inputs", "targets", "mask"))
    except Exception as error:
        return [f"sampling a second time failed ({one_line(error)}); see {TASK}"]
    if not same:
        return [
            "sample() gave two different batches for the same generator seed: it must draw only "
            f"from the generator it is given ({TASK})"
        ]
    return []


def _batch_problems(batch, vocab: int, length: int) -> list[str]:
    call = f"sample(generator, {BATCH}, {length})"
    fields = {name: getattr(batch, name, None) for name in ("inputs", "targets", "mask")}
    missing = [name for name, value in fields.items() if not isinstance(value, torch.Tensor)]
    if missing:
        return [
            f"{call} returned a {type(batch).__name__} without tensor {', '.join(missing)}: it must "
            f"return tasks.base.Batch(inputs, targets, mask)"
        ]
    shapes = {name: tuple(value.shape) for name, value in fields.items()}
    if any(shape != (BATCH, length) for shape in shapes.values()):
        return [f"{call} gave shapes {shapes}, expected {(BATCH, length)} for each"]
    inputs, targets, mask = fields["inputs"], fields["targets"], fields["mask"]
    if inputs.dtype != torch.int64 or targets.dtype != torch.int64 or mask.dtype != torch.bool:
        return [
            f"{call} gave dtypes inputs {inputs.dtype}, targets {targets.dtype}, mask {mask.dtype}: "
            f"expected int64, int64, bool"
        ]
    problems = []
    if not mask.any():
        problems.append(f"{call} gave a mask with no True: no position would be scored")
    if inputs.min() < 0 or inputs.max() >= vocab:
        problems.append(
            f"{call} gave inputs in [{inputs.min().item()}, {inputs.max().item()}], outside [0, vocab_size={vocab})"
        )
    scored = targets[mask]
    if scored.numel() and (scored.min() < 0 or scored.max() >= vocab):
        problems.append(
            f"{call} gave scored targets in [{scored.min().item()}, {scored.max().item()}], "
            f"outside [0, vocab_size={vocab})"
        )
    return problems


def check_plugins(plugin_paths, device: str = "cpu") -> list[str]:
    """Problems with every family and task that the (already loaded) plugin files registered."""
    paths = {str(Path(path).resolve()) for path in plugin_paths or []}
    problems = []
    for name, family in sorted(registry.MODEL_FAMILIES.items()):
        if family.origin and family.origin["path"] in paths:
            problems += check_model(name, device)
    for name, entry in sorted(registry.TASKS.items()):
        if entry.origin and entry.origin["path"] in paths:
            problems += check_task(name)
    return problems


def plugin_problems(plugin_paths, device: str = "cpu") -> list[str]:
    """Load the plugin files, then :func:`check_plugins`; a file that does not load is its one
    problem. Meant for a fresh child process, before a run's grid starts."""
    try:
        load_plugins(plugin_paths)
    except PluginError as error:
        return [str(error)]
    return check_plugins(plugin_paths, device)
