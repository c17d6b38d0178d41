"""How families are sized against each other: ``run --match width|params``.

- ``width`` (the default): every family gets the preset's ``d_model``. Parameter
  counts then differ by family (about 3x between the smallest and the largest
  at d_model 64: an LSTM layer holds 8·d² weights, attention 4·d², minGRU 2·d²
  plus its expansion).
- ``params``: each family's ``d_model`` is chosen so its parameter count matches
  the *reference* — the ``transformer`` at the preset's width (or the width of
  the sweep step) — as closely as an even width allows; a family that
  cannot come within 10% raises instead of running mismatched. The chosen width
  is the cell's ``model_config["d_model"]`` and ``model_config["param_match"]``
  says ``params``; the record's ``params`` is the count that actually ran.

Counts come from building the model on the CPU with the family's first
backend that runs there (the parameter count does not depend on the backend).
"""

from __future__ import annotations

import functools

from suite.errors import UsageError
from suite.stacks import is_stack

MATCHES = ("width", "params")
REFERENCE_FAMILY = "transformer"
WIDTH_STEP = 2
TOLERANCE = 0.10


@functools.cache
def param_count(family: str, vocab_size: int, d_model: int, n_layers: int, mlp_mult: int, options: tuple):
    """Parameters of ``family`` at this size, or ``None`` when the width is not valid for it."""
    from suite.stacks import build_model

    try:
        model = build_model(
            family,
            vocab_size=vocab_size,
            d_model=d_model,
            n_layers=n_layers,
            device="cpu",
            mlp_mult=mlp_mult,
            **dict(options),
        )
    except (ValueError, AssertionError, RuntimeError):
        return None
    return model.num_params()


def _count(preset, family: str, vocab_size: int, d_model: int):
    options = tuple(sorted(preset.family_options.get(family, {}).items()))
    return param_count(family, vocab_size, d_model, preset.n_layers, preset.mlp_mult, options)


def matched_d_model(spec: str, preset, vocab_size: int, width: int) -> int:
    """The width of ``spec``'s family whose parameter count is closest to the reference's at ``width``."""
    family = spec if is_stack(spec) else spec.partition(":")[0]  # a stack is sized as a whole
    target = _count(preset, REFERENCE_FAMILY, vocab_size, width)
    if target is None:
        raise UsageError(f"--match params: the reference {REFERENCE_FAMILY} cannot be built at d_model {width}")
    if family == REFERENCE_FAMILY:
        return width
    best = None
    for d_model in range(WIDTH_STEP, 4 * width + 1, WIDTH_STEP):
        count = _count(preset, family, vocab_size, d_model)
        if count is not None and (best is None or abs(count - target) < abs(best[1] - target)):
            best = (d_model, count)
        if count is not None and count > (1 + TOLERANCE) * target:
            break  # counts grow with the width: nothing wider can be closer
    if best is None or abs(best[1] - target) > TOLERANCE * target:
        found = "no valid width" if best is None else f"at best {best[1]} parameters (d_model {best[0]})"
        raise UsageError(
            f"--match params: {family} cannot come within 10% of the {REFERENCE_FAMILY}'s {target} "
            f"parameters ({found}); use --match width for this family"
        )
    return best[0]
