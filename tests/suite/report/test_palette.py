"""suite.report.palette: one fixed colour per model family, shades for its backends."""

import pandas as pd
from matplotlib.colors import to_rgb

from suite.report.palette import (
    FAMILY_COLOURS,
    SPARE_COLOURS,
    family_of,
    label_of,
    model_palette,
    series_palette,
    shade,
    with_palette,
)


def test_label_of_and_family_of():
    assert label_of(None) == "?" and label_of(float("nan")) == "?"
    assert label_of(8) == "8" and label_of("gru") == "gru"
    assert family_of("gru:loop") == "gru" and family_of("mamba") == "mamba"


def test_shade_zero_is_the_colour_and_others_differ():
    assert shade("#1f77b4", 0) == to_rgb("#1f77b4")
    darker, lighter = shade("#1f77b4", 1), shade("#1f77b4", 2)
    assert sum(darker) < sum(to_rgb("#1f77b4")) < sum(lighter)


def test_model_palette_keeps_family_colours_whatever_the_subset():
    small = model_palette(["mamba", "gru"])
    big = model_palette(["transformer", "gru:loop", "gru", "mamba", "zeta", "alpha"])
    assert small["gru"] == big["gru"] == to_rgb(FAMILY_COLOURS["gru"])
    assert small["mamba"] == big["mamba"]
    assert big["gru:loop"] == shade(FAMILY_COLOURS["gru"], 1)
    assert big["alpha"] == to_rgb(SPARE_COLOURS[0]) and big["zeta"] == to_rgb(SPARE_COLOURS[1])
    many = model_palette([f"family{i}" for i in range(len(SPARE_COLOURS) + 3)])
    assert len(set(many.values())) == len(many)


def test_with_palette_reuses_or_extends():
    palette = model_palette(["gru", "mamba"])
    assert with_palette(["gru"], palette) is palette
    extended = with_palette(["gru", "lstm"], palette)
    assert set(extended) == {"gru", "mamba", "lstm"} and extended["gru"] == palette["gru"]
    assert set(with_palette(["gru"], None)) == {"gru"}


def test_series_palette_shades_a_models_series():
    palette = model_palette(["gru", "mamba"])
    perf = pd.DataFrame({"model": ["gru", "gru", "mamba"], "series": ["gru B=8", "gru B=16", "mamba"]})
    colours = series_palette(perf, palette)
    assert colours["gru B=16"] == palette["gru"]  # sorted: "gru B=16" < "gru B=8"
    assert colours["gru B=8"] == shade(palette["gru"], 1)
    assert colours["mamba"] == palette["mamba"]
