"""Mixed stacks: a model whose layers are of different families, each with its own backend and options.

A stack is written as its layers from the bottom (next to the embedding) to the top, joined by ``+``;
``*N`` repeats a layer and ``[key=value;key=value]`` gives that layer options (values read as TOML)::

    mingru*3+transformer                    three minGRU layers, then one attention layer on top
    mingru+mingru+transformer+mingru        attention at position 2 (counting from 0)
    mingru:log*2+transformer[window=16]*2   two log-space minGRU layers, two sliding-window layers
    transformer[window=64]*4                a uniform stack of sliding-window attention

There are no commas, so a stack is one item of ``--models a,b``, of a preset's ``models`` and of a
``--config`` file's list. A spec without ``+``, ``*`` or ``[`` is a plain ``family[:backend]``
(a uniform stack of the preset's ``n_layers``); a stack's depth is its own layer count.

A layer's options are its family's (``suite.registry``: ``defaults``) over the preset's
``family_options`` of that family, under the layer's own. Records carry the stack as written
(``model``), its family ``stack``, its layers (``model_config["layers"]``, each ``family[:backend][opts]``)
and the backends that ran, one per layer joined by ``+`` when they differ (``backend``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

from suite.errors import UsageError

STACK_FAMILY = "stack"
EXAMPLE = "mingru*3+transformer[window=16]"
_LAYER = re.compile(r"^(?P<name>[^\[\]*]+)(?:\[(?P<options>[^\[\]]*)\])?(?:\*(?P<repeat>-?\d+))?$")


@dataclass(frozen=True)
class Layer:
    """One layer of a stack: ``family``, the ``backend`` asked for (None: the first that runs) and options."""

    family: str
    backend: str | None = None
    options: dict = field(default_factory=dict)

    @property
    def spec(self) -> str:
        return self.family + (f":{self.backend}" if self.backend else "")

    @property
    def text(self) -> str:
        """The layer as written, options sorted: ``transformer:sdpa[window=16]``."""
        if not self.options:
            return self.spec
        return self.spec + "[" + ";".join(f"{key}={_toml(value)}" for key, value in sorted(self.options.items())) + "]"


def _toml(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f'"{value}"' if isinstance(value, str) else repr(value)


def is_stack(spec: str) -> bool:
    return any(mark in spec for mark in "+*[")


def spec_family(spec: str) -> str:
    """The family a record names: ``stack`` for a stack, else the part before ``:``."""
    return STACK_FAMILY if is_stack(spec) else spec.partition(":")[0].strip()


def parse_stack(spec: str) -> tuple[Layer, ...]:
    """The layers of ``spec``, bottom first; one-line :class:`UsageError` on anything malformed,
    did-you-mean on an unknown family, backend or option."""
    layers = []
    for index, item in enumerate(spec.strip().split("+")):
        layer, repeat = _parse_item(item.strip(), index, spec)
        layers.extend([layer] * repeat)
    if not layers:
        raise UsageError(f"stack {spec!r} has zero layers: write at least one, e.g. {EXAMPLE}")
    return tuple(layers)


def _parse_item(item: str, index: int, spec: str) -> tuple[Layer, int]:
    from suite.registry import parse_spec

    match = _LAYER.match(item)
    if not item or match is None:
        raise UsageError(f"stack {spec!r}: cannot read layer item {index} {item!r}; write e.g. {EXAMPLE}")
    family, backend = parse_spec(match["name"])  # unknown family or backend: did you mean
    repeat = int(match["repeat"]) if match["repeat"] is not None else 1
    if repeat < 0:
        raise UsageError(f"stack {spec!r}: a layer repeated {repeat} times; use *N with N >= 0")
    options = _read_options(match["options"] or "", family, spec)
    return Layer(family.name, None if backend == "auto" else backend, options), repeat


def _read_options(text: str, family, spec: str) -> dict:
    from suite.naming import did_you_mean

    options = {}
    for assignment in filter(None, (part.strip() for part in text.split(";"))):
        key, equals, value = assignment.partition("=")
        key = key.strip()
        if not equals or not key:
            raise UsageError(f"stack {spec!r}: write a layer option as key=value, got {assignment!r}")
        if key not in family.defaults:
            known = sorted(family.defaults)
            if not known:
                raise UsageError(f"stack {spec!r}: {family.name} layers take no options, got {key!r}")
            raise UsageError(f"stack {spec!r}: {did_you_mean(f'option of {family.name}', key, known)}")
        options[key] = _value(value.strip())
    check_window(options.get("window"), spec)
    return options


def _value(text: str):
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def check_window(window, where: str) -> None:
    """A window is an integer >= 1 (or None: full attention)."""
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise UsageError(f"{where}: window must be an integer >= 1 (the positions attended to), got {window!r}")


def layer_options(layer: Layer, family_options: dict) -> dict:
    """A layer's options: the run's options of its family under the layer's own."""
    return {**family_options.get(layer.family, {}), **layer.options}


def build_stack(
    spec: str, vocab_size: int, d_model: int, device: str, mlp_mult, family_options: dict, dropout: float = 0.0
):
    """A ``models.backbone.LanguageModel`` whose layer ``i`` is a mixer of ``spec``'s layer ``i``."""
    from models.backbone import LanguageModel
    from suite.naming import did_you_mean
    from suite.registry import check_family_options, resolve_backend

    layers = parse_stack(spec)
    families = sorted({layer.family for layer in layers})
    for name in family_options:
        if name not in families:
            raise did_you_mean(f"family of stack {spec!r} (options given to a family with no layer)", name, families)
    makers = []
    for layer in layers:
        family, backend = resolve_backend(layer.spec, device)
        options = layer_options(layer, family_options)
        check_family_options(family, options)
        makers.append((family, backend, {**family.defaults, **options}))

    def make_mixer(index: int):
        family, backend, options = makers[index]
        return family.make_mixer(d_model, backend, index, **options)

    model = LanguageModel(vocab_size, d_model, len(layers), make_mixer, mlp_mult, dropout)
    model.spec, model.family, model.options = spec, STACK_FAMILY, dict(family_options)
    model.layers = [layer.text for layer in layers]
    return model.to(device)


def windows_of(config) -> list:
    """The windows of a cell's model (``ModelConfig``): one per windowed layer."""
    if config.layers is None:
        return [config.options.get("window")] if config.family == "transformer" else []
    return [layer_options(layer, config.options).get("window") for layer in parse_stack(config.spec)]


def check_options(config) -> None:
    """A uniform model's options (the preset's ``family_options`` of its family) are the family's:
    else one-line did-you-mean (a stack's layers were checked as they were read)."""
    from suite.registry import check_family_options, get_family

    if config.layers is not None:
        return
    family = get_family(config.family)
    check_family_options(family, config.options, f" (family_options.{family.name})")


def check_models(cells) -> None:
    """Every model of the plan takes the options it is given, and every window is an integer >= 1 and
    at most the run's longest length (a wider window is full attention at every length the run has):
    else one-line :class:`UsageError`, before anything is written."""
    longest = max((max([cell.seq_len, *getattr(cell, "eval_lens", [])]) for cell in cells), default=0)
    for cell in cells:
        check_options(cell.architecture)
        for window in windows_of(cell.architecture):
            if window is None:
                continue
            check_window(window, f"model {cell.model!r}")
            if window > longest:
                raise UsageError(
                    f"model {cell.model!r}: window {window} is larger than the run's longest length {longest} "
                    f"(it would be full attention); use a window <= {longest}"
                )


def build_model(
    spec: str,
    vocab_size: int,
    d_model: int = 64,
    n_layers: int = 2,
    device: str = "cpu",
    mlp_mult=2,
    dropout: float = 0.0,
    **config,
):
    """``suite.registry.build_model``, or a mixed stack: a stack has its own depth (``n_layers`` is
    ignored) and takes ``config`` as options per family (``transformer={"max_seq_len": 512}``)."""
    from suite import registry

    if is_stack(spec):
        return build_stack(spec, vocab_size, d_model, device, mlp_mult, config, dropout)
    return registry.build_model(spec, vocab_size, d_model, n_layers, device, mlp_mult, dropout, **config)


def passed_over(spec: str, device: str) -> list[str]:
    """``suite.registry.passed_over`` for each distinct layer of a stack (or for the one spec)."""
    from suite import registry

    specs = dict.fromkeys(layer.spec for layer in parse_stack(spec)) if is_stack(spec) else [spec]
    return [reason for one in specs for reason in registry.passed_over(one, device)]
