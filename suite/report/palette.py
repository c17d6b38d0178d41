"""One colour per model in every figure of a report.

Each family has a fixed colour (:data:`FAMILY_COLOURS`), kept from run to run and from figure to
figure; backend variants of a family (``gru``, ``gru:loop``) get shades of it. The report builds
one palette from every model of the run (:func:`model_palette`) and hands it to every figure, so a
figure that draws only some of the models still draws each in its colour.
"""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib.colors import to_hex, to_rgb


def label_of(value) -> str:
    """Text for a model/task/batch value; ``"?"`` where it is missing."""
    return "?" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


# One colour per model family, whatever else the run holds: a family keeps its colour from run to
# run and from figure to figure. Red stays out (it rings noisy timings); families without an entry
# take the spare colours in name order.
FAMILY_COLOURS = {
    "transformer": "#1f77b4",
    "mingru": "#ff7f0e",
    "minlstm": "#2ca02c",
    "gru": "#9467bd",
    "lstm": "#8c564b",
    "mamba": "#e377c2",
    "mamba2": "#17becf",
}
SPARE_COLOURS = (
    "#bcbd22",
    "#7f7f7f",
    "#1b9e77",
    "#7570b3",
    "#e6ab02",
    "#a6761d",
    "#66a61e",
    "#e7298a",
    "#d95f02",
    "#666666",
)
SHADES = ((0.0, 0.4), (1.0, 0.45), (0.0, 0.65), (1.0, 0.7))  # (blend toward black/white, by how much)


def family_of(label: str) -> str:
    """The family of a model spec ``family[:backend]`` (``gru:loop`` -> ``gru``)."""
    return label.partition(":")[0]


def shade(colour, index: int) -> tuple:
    """The ``index``-th shade of ``colour`` (0: the colour itself; then darker, lighter, ...)."""
    red, green, blue = to_rgb(colour)
    if index == 0:
        return red, green, blue
    target, amount = SHADES[(index - 1) % len(SHADES)]
    return tuple(c + (target - c) * amount for c in (red, green, blue))


def model_palette(names) -> dict:
    """A colour per model label of ``names`` (pass every model of the run, so that each figure
    gets the same colours whatever subset it draws): each family has a fixed colour
    (:data:`FAMILY_COLOURS`; other families take :data:`SPARE_COLOURS` in name order), and the
    backend variants of a family (``gru``, ``gru:loop``) shades of it, the bare family first."""
    labels = sorted(dict.fromkeys(label_of(n) for n in names), key=lambda name: (family_of(name), ":" in name, name))
    families = list(dict.fromkeys(family_of(label) for label in labels))
    unknown = [family for family in families if family not in FAMILY_COLOURS]
    spare = list(SPARE_COLOURS)
    if len(unknown) > len(spare):
        spare += [to_hex(c) for c in sns.color_palette("husl", len(unknown) - len(spare))]
    base = {**FAMILY_COLOURS, **dict(zip(unknown, spare))}
    palette, used = {}, {}
    for label in labels:
        family = family_of(label)
        palette[label] = shade(base[family], used.get(family, 0))
        used[family] = used.get(family, 0) + 1
    return palette


def with_palette(names, palette: dict | None) -> dict:
    """``palette`` (the report's, from every model of the run) when it names every label of
    ``names``, else one built for both (a figure drawn on its own)."""
    labels = {label_of(n) for n in names}
    if palette and labels <= set(palette):
        return palette
    return model_palette(list(palette or {}) + list(labels))


def series_palette(perf: pd.DataFrame, palette: dict) -> dict:
    """A colour per ``series`` of ``perf`` (:func:`series_labels`): its model's colour, or shades
    of it when the model has several series (batch sizes, tasks)."""
    out = {}
    for model, series in perf.groupby(perf["model"].map(label_of))["series"]:
        for index, name in enumerate(sorted(series.unique())):
            out[name] = shade(palette[model], index)
    return out
