"""A preset changed without Python: ``--set key=value`` and ``--config FILE.toml``.

``--set`` (repeatable) replaces one field of the run's preset: ``--set train_steps=500``
(or its alias ``max_steps``), ``--set patience=12``, ``--set time_limit_s=600`` (a guard),
``--set d_model=128``, ``--set seq_lens=64,128,256``, or a value inside a dict field by a
dotted path, ``--set task_params.mqar.num_kv_pairs=8``. A value is read as a TOML value
(``3``, ``1e-3``, ``true``, ``[64, 128]``, ``"text"``); a bare word is a string. It is
checked against the field's type: an integer field takes an integer, a float field a number,
a boolean ``true``/``false``, a tuple field a list (or comma-separated values), a dict field
a TOML inline table or a dotted path. An unknown field gets "did you mean", exit 2. A field may
also be named with its group (:mod:`suite.plan.preset_groups`): ``--set training.lr=1e-3``.

``--config FILE.toml`` defines a whole preset: its top-level keys are preset fields, checked
the same way (or grouped in tables such as ``[training]``), with an optional ``base = "<preset>"``
to start from a built-in one; ``name`` defaults to the file's stem.

What was set is part of the run's options in the manifest, and the changed values reach
the cells' configurations, so their cell keys differ from the preset's own: ``--resume``
re-applies the same settings (and refuses a preset that changed), and ``compare`` sees them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from suite.errors import UsageError
from suite.naming import did_you_mean


# Other names of preset fields: the step budget is ``max_steps`` in the early-stopping vocabulary, and the
# wall-clock guard was called ``time_budget_s`` before it stopped being a budget.
ALIASES = {"max_steps": "train_steps", "time_budget_s": "time_limit_s"}


def _fields(preset_type) -> dict:
    """Every field ``--set`` and ``--config`` can name, by its flat name (see :mod:`suite.plan.preset_groups`)."""
    from suite.plan.preset_groups import preset_fields

    return preset_fields()


def flat_key(key: str) -> str:
    """A key's flat form: an alias (``max_steps``) or a grouped key (``training.lr``) as the field's own
    name (``train_steps``, ``lr``); any other key as given."""
    from suite.plan.preset_groups import GROUP_OF, GROUPS

    top, _, rest = key.partition(".")
    if top in GROUPS and rest:
        name, _, deeper = rest.partition(".")
        name = ALIASES.get(name, name)
        if GROUP_OF.get(name) != top:
            raise did_you_mean(f"{top} field", name, sorted(n for n, group in GROUP_OF.items() if group == top))
        return name + ("." + deeper if deeper else "")
    top = ALIASES.get(top, top)
    return top + ("." + rest if rest else "")


def read_value(text: str):
    """A TOML value (``3``, ``1e-3``, ``true``, ``[1, 2]``, ``{a = 1}``, ``"x"``), else the text itself."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def item_type(name: str, current) -> type:
    """What a tuple field holds: lengths, widths and layer counts are integers; otherwise what it
    holds now (strings when empty: model specs, task names, kinds)."""
    if name.endswith("_lens") or name in ("d_models", "n_layers_grid", "eval_len_multiples", "seeds"):
        return int
    return type(current[0]) if current else str


def checked(value, kind: str, current, where: str, name: str = ""):
    """``value`` as the type ``kind`` (the field's annotation) says, or a one-line UsageError."""
    optional = kind.endswith("| None")
    kind = kind.replace("| None", "").strip()
    if optional and (value is None or (isinstance(value, str) and value.lower() == "none")):
        return None
    if kind == "tuple":
        items = value if isinstance(value, list) else [read_value(item.strip()) for item in str(value).split(",")]
        wanted = item_type(name, current)
        if any(isinstance(item, bool) or not isinstance(item, wanted) for item in items):
            raise UsageError(
                f"{where}: takes a list of {'integers' if wanted is int else wanted.__name__ + 's'}, "
                f"e.g. 64,128, got {value!r}"
            )
        return tuple(items)
    if kind == "dict":
        if not isinstance(value, dict):
            raise UsageError(f"{where}: takes a table such as {{key = 1}}, or a dotted key (field.key=value)")
        return value
    expected = {"int": int, "float": (int, float), "bool": bool, "str": str}.get(kind, type(current))
    if isinstance(value, bool) and kind != "bool" or not isinstance(value, expected):
        name = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}.get(kind, kind)
        raise UsageError(f"{where}: takes {name}, got {value!r}")
    return float(value) if kind == "float" else value


def _set_path(table: dict, path: list[str], value) -> dict:
    """A copy of ``table`` with ``value`` at ``path``; a value already there keeps its type."""
    copy = dict(table)
    head, rest = path[0], path[1:]
    if rest:
        inner = copy.get(head, {})
        copy[head] = _set_path(inner if isinstance(inner, dict) else {}, rest, value)
    else:
        old = copy.get(head)
        if (
            old is not None
            and not isinstance(value, type(old))
            and not (isinstance(old, float) and isinstance(value, int))
        ):
            raise UsageError(f"{head} holds {type(old).__name__} values, got {value!r}")
        copy[head] = value
    return copy


def apply_one(preset, assignment: str):
    """``preset`` with one ``key=value`` (see the module docstring)."""
    key, equals, text = assignment.partition("=")
    key = key.strip()
    if not equals or not key:
        raise UsageError(f"--set {assignment!r}: write key=value, e.g. --set train_steps=500")
    known = _fields(type(preset))
    top, *path = flat_key(key).split(".")
    if top not in known or top == "name":
        raise did_you_mean("--set field", top, sorted(set(known) - {"name"}))
    where = f"--set {assignment}"
    if path:
        if known[top].type != "dict":
            raise UsageError(f"{where}: {top} is not a table, so it takes no dotted key")
        try:
            value = _set_path(getattr(preset, top), path, read_value(text.strip()))
        except UsageError as error:
            raise UsageError(f"{where}: {error}") from None
    else:
        value = checked(read_value(text.strip()), known[top].type, getattr(preset, top), where, top)
    try:
        return dataclasses.replace(preset, **{top: value})
    except UsageError as error:  # the value has the right type but no run can use it
        raise UsageError(f"{where}: {getattr(error, 'problem', error)}: fix the value") from None


def apply_overrides(preset, assignments) -> object:
    for assignment in assignments or []:
        preset = apply_one(preset, assignment)
    return preset


def flatten_groups(table: dict) -> dict:
    """A ``--config`` table with its group tables (``[training]``) opened into flat keys (``training.lr``)."""
    from suite.plan.preset_groups import GROUPS

    flat = {}
    for key, value in table.items():
        if key in GROUPS and isinstance(value, dict):
            flat.update({f"{key}.{name}": inner for name, inner in value.items()})
        else:
            flat[key] = value
    return flat


def preset_from_file(path):
    """The preset a TOML file defines (see the module docstring)."""
    from suite.plan.presets import PRESETS as presets, Preset as preset_type

    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config {path} does not exist: pass a TOML file of preset fields") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"--config {path} is not valid TOML ({error}): fix the file") from None
    base_name = table.pop("base", None)
    if base_name is not None and base_name not in presets:
        raise did_you_mean(f"--config {path}: base preset", base_name, presets)
    base = presets[base_name] if base_name else preset_type(name=path.stem, description="")
    known = _fields(preset_type)
    values = {
        "name": table.pop("name", path.stem),
        "description": table.pop("description", f"from {path.name}" + (f" (on {base_name})" if base_name else "")),
    }
    for key, value in flatten_groups(table).items():
        key = flat_key(key)
        if key not in known:
            raise did_you_mean(f"--config {path}: field", key, sorted(known))
        values[key] = checked(value, known[key].type, getattr(base, key), f"--config {path}: {key}", key)
    try:
        return dataclasses.replace(base, **values)
    except UsageError as error:
        raise UsageError(f"--config {path}: {getattr(error, 'problem', error)}: fix the value") from None
