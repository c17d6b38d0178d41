"""The accuracy heatmap of the report's accuracy section: model × training length per task, the
colour scale centred on the task's chance level."""

from __future__ import annotations


import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

from suite.analysis.missing import is_missing, is_present
from suite.report.palette import label_of
from suite.report.plots import STYLE, chance_of, figure_to_png_base64

MISSING_CELL_COLOUR = "#d9d9d9"


def _cell_text(row) -> str:
    """What a heatmap cell says: the accuracy, how many seeds succeeded when not
    all did, or the status text when none did."""
    if row is None:
        return ""
    if row["n_ok"] and is_present(row["accuracy"]):
        text = f"{row['accuracy']:.3f}"
        return text if row["n_ok"] == row["n_runs"] else f"{text}\n({row['status']})"
    if row["n_ok"]:
        return f"{row['status']}\n(no accuracy\nrecorded)"
    return str(row["status"]).replace(", ", "\n")


def heatmap_grid(table: pd.DataFrame) -> tuple[list, list, np.ndarray, list]:
    """One task's rows as (models, lengths, the accuracy grid with NaN where no seed succeeded, the
    text of each cell)."""
    models = sorted(table["model"].map(label_of).unique())
    lengths = sorted(table["seq_len"].dropna().unique())
    grid = np.full((len(models), len(lengths)), np.nan)
    texts = [["" for _ in lengths] for _ in models]
    for _, row in table.iterrows():
        if pd.isna(row["seq_len"]):
            continue
        i, j = models.index(label_of(row["model"])), lengths.index(row["seq_len"])
        if row["n_ok"]:
            grid[i, j] = row["accuracy"]
        texts[i][j] = _cell_text(row)
    return models, lengths, grid, texts


def _text_style(value, cmap, norm) -> tuple[str, str]:
    """A cell text's colour (readable on its background) and style (italic where no accuracy)."""
    if is_missing(value):
        return "#444444", "italic"
    red, green, blue, _ = cmap(norm(value))
    return ("white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"), "normal"


def accuracy_heatmap(table: pd.DataFrame, task: str) -> str | None:
    """Model × seq_len heatmap of one task's accuracy rows (from
    :func:`suite.analysis.tables.accuracy_table`).

    Numbers are seed-mean accuracies; cells where no seed succeeded are grey and
    show their status text. The diverging colour scale is centred on the chance
    level (white = chance, red = below, blue = above), which the colour bar marks
    with a line and the title states.
    """
    table = table[table["task"] == task]
    if table.empty:
        return None
    models, lengths, grid, texts = heatmap_grid(table)
    chance = chance_of(table)
    if 0.0 < chance < 1.0:
        norm, title = TwoSlopeNorm(vmin=0.0, vcenter=chance, vmax=1.0), f"{task}: accuracy (chance = {chance:.3g})"
    else:
        norm, title = Normalize(vmin=0.0, vmax=1.0), f"{task}: accuracy (chance level unknown)"
    cmap = matplotlib.colormaps["RdBu"]
    with matplotlib.rc_context(STYLE):
        label_inches = 0.06 * max((len(str(model)) for model in models), default=0)  # a stack's name is long
        figure = Figure(
            figsize=(1.6 + label_inches + 0.95 * len(lengths), 1.2 + 0.48 * len(models)), layout="constrained"
        )
        axes = figure.subplots()
        axes.set_facecolor(MISSING_CELL_COLOUR)
        sns.heatmap(
            pd.DataFrame(grid, index=models, columns=[str(int(length)) for length in lengths]),
            ax=axes,
            cmap=cmap,
            norm=norm,
            vmin=0.0,
            vmax=1.0,
            linewidths=0.5,
            linecolor="white",
            cbar_kws={"label": "accuracy"},
        )
        axes.grid(False)
        colourbar = axes.collections[0].colorbar
        if 0.0 < chance < 1.0 and colourbar is not None:
            colourbar.ax.axhline(chance, color="black", linewidth=1.5)
            ticks = [0.0, chance] + [t for t in (0.25, 0.5, 0.75, 1.0) if t - chance > 0.08]
            colourbar.set_ticks(ticks, labels=[f"{t:.3g}" if t != chance else f"chance {t:.3g}" for t in ticks])
        for i in range(len(models)):
            for j in range(len(lengths)):
                colour, style = _text_style(grid[i, j], cmap, norm)
                axes.text(
                    j + 0.5, i + 0.5, texts[i][j], ha="center", va="center", fontsize=7.5, color=colour, fontstyle=style
                )
        axes.set_title(title)
        axes.set_xlabel("seq_len (training length, tokens)")
        axes.set_ylabel("model")
        axes.tick_params(axis="y", rotation=0)
        return figure_to_png_base64(figure)
