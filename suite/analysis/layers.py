"""The layers of a model as its records write them, bottom first, and the shape of a stack: which
layers are attention (full, or a sliding window), where they sit, what the others are.

A mixed stack's record lists its layers in ``model_config["layers"]`` (:mod:`suite.stacks`, each
``family[:backend][options]``); a plain model's layers are ``n_layers`` of its family. An *attention
layer* is a ``transformer`` layer; its window is ``window=W`` among its options.
"""

from __future__ import annotations

import re

ATTENTION = "transformer"
STACK_FAMILY = "stack"
_WINDOW = re.compile(r"window\s*=\s*(\d+)")


def layer_family(text: str) -> str:
    """The family of one layer as records write it (``transformer:sdpa[window=16]`` → ``transformer``)."""
    return re.split(r"[:\[]", str(text), maxsplit=1)[0].strip()


def layer_window(text: str) -> int | None:
    """A layer's sliding window (``window=W`` among its options), or None."""
    options = str(text).partition("[")[2]
    match = _WINDOW.search(options)
    return int(match.group(1)) if match else None


def layers_of(record) -> list[str]:
    """A record's layers, bottom first: a stack's ``model_config["layers"]``, else ``n_layers`` of its
    family (with the family's window, if its options set one)."""
    config = record.get("model_config") if isinstance(record.get("model_config"), dict) else {}
    if config.get("layers"):
        return [str(layer) for layer in config["layers"]]
    family = str(record.get("family") or layer_family(record.get("model", "")))
    window = (config.get("options") or {}).get("window")
    text = f"{family}[window={window}]" if family == ATTENTION and window else family
    n_layers = config.get("n_layers") or record.get("n_layers") or 1
    return [text] * int(n_layers)


def place_of(positions: list[int], n_layers: int) -> str:
    """Where the attention layers sit, in words: ``none``, ``all``, ``bottom`` (0), ``top`` (last),
    ``middle (2)``, or their positions (``1, 3``), counted from 0 at the embedding."""
    if not positions:
        return "none"
    if len(positions) == n_layers:
        return "all"
    if len(positions) == 1:
        (only,) = positions
        return "bottom" if only == 0 else "top" if only == n_layers - 1 else f"middle ({only})"
    return ", ".join(str(p) for p in positions)


def shape_of(layers: list[str]) -> dict:
    """A stack's shape: its attention layers (full or windowed) and the family of the others."""
    families = [layer_family(layer) for layer in layers]
    positions = [index for index, family in enumerate(families) if family == ATTENTION]
    windows = sorted({w for layer in layers if (w := layer_window(layer)) is not None})
    others = sorted({family for family in families if family != ATTENTION})
    return {
        "layers": " + ".join(layers),
        "n_layers": len(layers),
        "other_family": ", ".join(others) if others else "none",
        "n_attention": len(positions),
        "attention_at": place_of(positions, len(layers)),
        "windows": ", ".join(str(w) for w in windows) if windows else "",
    }


def plain_family(record) -> str:
    """The family a record counts as: a stack whose layers are all one family, without options, counts
    as that family (``transformer*4`` is a transformer); any other stack is ``stack``."""
    family = str(record.get("family") or "")
    if family != STACK_FAMILY:
        return family
    layers = layers_of(record)
    families = {layer_family(layer) for layer in layers}
    plain = len(families) == 1 and not any("[" in layer for layer in layers)
    return families.pop() if plain else family
