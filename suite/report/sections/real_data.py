"""The report's "Real data" section: language models on a text corpus and classifiers of a real data
set, from the analysis's ``real_data`` (:mod:`suite.analysis.real_data`); absent for a run without
such cells.

Per language-model setting (task, corpus, context, width, depth): a table of each model's test loss
with its 95% interval (and the seed spread with two or more seeds), bits per character, the paper's
loss beside it (Shakespeare corpora only), steps to the best validation loss with the paper's beside
it, the seconds to it, how training stopped and whether it overfitted; the validation loss against
steps and against training seconds (one colour per model, one line per seed); the test loss at each
position of the window; the recall split with each model's gap to the run's attention model; and the
synthetic-vs-real agreement sentences (by test loss and by loss on recall tokens) when the run, or a run
given with ``suite report --synthetic``, has synthetic accuracy cells. Then one table
per data-set classification task (e.g. sequential Fashion-MNIST).
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from suite.analysis import real_data
from suite.analysis.missing import is_missing, is_present
from suite.analysis.tables import curve_points
from suite.report.format import NO_VALUE, Cell, format_accuracy, format_count, format_number
from suite.report.palette import label_of, with_palette
from suite.report.plots import STYLE, figure_to_png_base64, plain_log_ticks
from suite.report.template import section

LM_HEADERS = [
    "model",
    "params",
    "seeds",
    "test loss [95% CI]",
    "bits/char",
    "accuracy",
    "paper's loss",
    "steps to best (paper's)",
    "seconds to best",
    "stopped (steps of max)",
    "overfitted",
]
RECALL_HEADERS = [
    "model",
    "recall tokens",
    "loss on recall tokens",
    "loss on other tokens",
    "gap to {control}: recall",
    "gap: other",
    "recall gap − other gap",
]
CLASSIFICATION_HEADERS = [
    "model",
    "params",
    "seeds",
    "accuracy [95% CI]",
    "chance",
    "best step",
    "seconds to best",
    "stopped (steps of max)",
]
POSITION_BINS = 24
OVERFIT_CSS = "undertrained"  # the report's mark for "read with care"


def _loss(value) -> str:
    return NO_VALUE if is_missing(value) else f"{value:.3f}"


def _signed(value) -> str:
    return NO_VALUE if is_missing(value) else f"{value:+.3f}"


def _steps(value) -> str:
    return NO_VALUE if is_missing(value) else f"{value:.0f}"


def _stopped(row) -> str:
    steps = _steps(row["steps_trained"])
    if is_present(row["max_steps"]):
        steps += f" of {row['max_steps']:.0f}"
    return f"{row['stop_reasons'] or 'not recorded'} ({steps})"


def _interval(row, value: str, low: str, high: str, formatter) -> str:
    if is_missing(row[value]):
        return NO_VALUE
    text = formatter(row[value])
    if is_present(row[low]) and is_present(row[high]):
        text += f" [{formatter(row[low])}, {formatter(row[high])}]"
    return text


def lm_cells(row) -> list[Cell]:
    """One model's row of the language-model table."""
    loss = _interval(row, "test_loss", "test_loss_ci_low", "test_loss_ci_high", _loss)
    if is_present(row["test_loss_sd"]):
        loss += f"; seeds {_loss(row['test_loss_min'])}–{_loss(row['test_loss_max'])} (sd {row['test_loss_sd']:.3f})"
    elif row["ci_method"] == "windows":
        loss += " (over test windows)"
    paper_steps = "" if is_missing(row["paper_steps_to_best"]) else f" ({row['paper_steps_to_best']:.0f})"
    overfitted = f"yes ({int(row['n_overfitted'])} of {int(row['n_ok'])})" if row["overfitted"] else "no"
    return [
        Cell(row["model"]),
        Cell(format_count(row["params"])),
        Cell(row["seeds"] or NO_VALUE),
        Cell(loss),
        Cell(format_number(row["bits_per_char"])),
        Cell(format_accuracy(row["accuracy"])),
        Cell(_loss(row["paper_test_loss"])),
        Cell(_steps(row["steps_to_best"]) + paper_steps),
        Cell(NO_VALUE if is_missing(row["seconds_to_best"]) else f"{format_number(row['seconds_to_best'])} s"),
        Cell(_stopped(row)),
        Cell(overfitted, OVERFIT_CSS if row["overfitted"] else ""),
    ]


def recall_cells(row) -> list[Cell]:
    return [
        Cell(row["model"]),
        Cell(NO_VALUE if is_missing(row["recall_fraction"]) else f"{row['recall_fraction']:.1%}"),
        Cell(_loss(row["recall_loss"])),
        Cell(_loss(row["other_loss"])),
        Cell(_signed(row["recall_gap"])),
        Cell(_signed(row["other_gap"])),
        Cell(_signed(row["gap_difference"])),
    ]


def classification_cells(row) -> list[Cell]:
    return [
        Cell(row["model"]),
        Cell(format_count(row["params"])),
        Cell(row["seeds"] or NO_VALUE),
        Cell(_interval(row, "accuracy", "accuracy_ci_low", "accuracy_ci_high", format_accuracy)),
        Cell(format_accuracy(row["chance_accuracy"])),
        Cell(_steps(row["steps_to_best"])),
        Cell(NO_VALUE if is_missing(row["seconds_to_best"]) else f"{format_number(row['seconds_to_best'])} s"),
        Cell(_stopped(row)),
    ]


def _title(key: dict) -> str:
    text = f"{key['task']} on {key['dataset'] or 'its data'}, T {int(key['train_len'])}"
    if is_present(key["budget_width"]):
        text += f", d_model {int(key['budget_width'])}"
    if is_present(key["n_layers"]):
        text += f", {int(key['n_layers'])} layers"
    if key.get("param_match") not in (None, "width"):
        text += f" ({key['param_match']} matching)"
    return text


def _setting(frame: pd.DataFrame):
    """``frame``'s rows per setting, as (setting dict, rows) in a stable order."""
    if frame.empty:
        return []
    keys = list(real_data.SETTING)
    text = frame[keys].astype(object).where(frame[keys].notna(), None).astype(str).agg("|".join, axis=1)
    out = []
    for _, index in frame.groupby(text, sort=True).groups.items():
        rows = frame.loc[index]
        out.append((rows.iloc[0][keys].to_dict(), rows))
    return out


def _same_setting(frame: pd.DataFrame, key: dict) -> pd.DataFrame:
    if frame.empty:
        return frame
    mask = pd.Series(True, index=frame.index)
    for column, value in key.items():
        column_values = frame[column]
        mask &= column_values.isna() if is_missing(value) else (column_values == value)
    return frame[mask]


def curve_figure(cells: pd.DataFrame, palette: dict | None = None) -> str | None:
    """Validation loss against steps (left) and against training seconds (right), one line per seed
    in its model's colour, a dot at each seed's best checkpoint."""
    drawn = cells[cells["valid_curve"].map(lambda c: len(curve_points(c)) > 0)] if len(cells) else cells
    if drawn.empty:
        return None
    palette = with_palette(drawn["model"], palette)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(10.4, 3.4), layout="constrained")
        steps_axes, seconds_axes = figure.subplots(1, 2, sharey=True)
        timed = False
        for _, record in drawn.sort_values(["model", "seed"]).iterrows():
            points = curve_points(record["valid_curve"])
            colour = palette[label_of(record["model"])]
            steps_axes.plot([p[0] for p in points], [p[2] for p in points], color=colour, linewidth=1.1, alpha=0.85)
            seconds = [(s, loss) for _, s, loss in points if s is not None]
            if seconds:
                timed = True
                seconds_axes.plot([s for s, _ in seconds], [v for _, v in seconds], color=colour, linewidth=1.1)
            best = [p for p in points if p[0] == record.get("best_step")]
            if best:
                steps_axes.scatter([best[0][0]], [best[0][2]], color=colour, s=14, zorder=3)
                if best[0][1] is not None:
                    seconds_axes.scatter([best[0][1]], [best[0][2]], color=colour, s=14, zorder=3)
        steps_axes.set_xlabel("training step")
        steps_axes.set_ylabel("validation loss (nats per token)")
        seconds_axes.set_xlabel("training seconds (evaluation excluded)")
        if not timed:
            seconds_axes.text(
                0.5, 0.5, "no seconds recorded", ha="center", va="center", transform=seconds_axes.transAxes
            )
        models = sorted(drawn["model"].map(label_of).unique())
        handles = [Line2D([], [], color=palette[m]) for m in models]
        figure.legend(handles, models, loc="outside right center", title="model (dot: best)")
        return figure_to_png_base64(figure)


def position_bins(losses, bins: int = POSITION_BINS) -> tuple[list[float], list[float]]:
    """``losses`` (one per position) averaged within log-spaced bins of "characters read" (position + 1):
    ``(bin centres, bin means)``. One position's mean is noisy (it is one character per test window);
    a bin pools many positions where the loss changes slowly, and keeps the first positions apart."""
    losses = np.asarray(losses, dtype=float)
    edges = np.unique(np.round(np.geomspace(1, len(losses) + 1, bins + 1)).astype(int))
    centres, means = [], []
    for start, stop in zip(edges[:-1], edges[1:]):
        chunk = losses[start - 1 : stop - 1]
        if len(chunk):
            centres.append(float(np.sqrt(start * (stop - 1))) if stop - 1 > start else float(start))
            means.append(float(chunk.mean()))
    return centres, means


def position_figure(positions: pd.DataFrame, palette: dict | None = None) -> str | None:
    """Test loss against the characters read (mean over seeds, in log-spaced bins), one line per model."""
    if positions.empty:
        return None
    palette = with_palette(positions["model"], palette)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(7.4, 3.4), layout="constrained")
        axes = figure.add_subplot(1, 1, 1)
        for _, row in positions.sort_values("model").iterrows():
            centres, means = position_bins(row["loss_by_position"])
            axes.plot(centres, means, color=palette[label_of(row["model"])], linewidth=1.2, marker="o", markersize=2.5)
        axes.set_xscale("log")
        lengths = pd.Series([float(len(c)) for c in positions["loss_by_position"]] + [1.0])
        plain_log_ticks(axes.xaxis, lengths)
        axes.set_xlabel("characters read (position in the window + 1; log-spaced bins)")
        axes.set_ylabel("test loss (nats per token)")
        models = sorted(positions["model"].map(label_of).unique())
        figure.legend([Line2D([], [], color=palette[m]) for m in models], models, loc="outside right center")
        return figure_to_png_base64(figure)


def lm_groups(tables: dict, cells: pd.DataFrame, palette: dict) -> list[dict]:
    """One entry per language-model setting: its title, tables, figures and agreement sentences."""
    groups = []
    agreement = tables["agreement"]
    for key, rows in _setting(tables["lm"]):
        recall = _same_setting(tables["recall"], key)
        controls = sorted({str(c) for c in recall["control"].dropna()}) if len(recall) else []
        mine = _same_setting(cells, key)
        sentences, runs = [], []
        if len(agreement):
            same = agreement[
                (agreement["real_task"] == key["task"])
                & (agreement["dataset"] == key["dataset"])
                & (agreement["real_len"] == key["train_len"])
                & (agreement["real_d_model"] == key["budget_width"])
                & (agreement["real_n_layers"] == key["n_layers"])
            ]
            sentences = list(same["sentence"])
            runs = sorted({run for ids in same["synthetic_runs"] for run in ids})
        groups.append(
            {
                "title": _title(key),
                "paper": rows["paper_test_loss"].notna().any(),
                "rows": [lm_cells(row) for _, row in rows.iterrows()],
                "curves_png": curve_figure(mine, palette),
                "positions_png": position_figure(_same_setting(tables["loss_by_position"], key), palette),
                "recall_headers": [h.format(control=controls[0] if controls else "attention") for h in RECALL_HEADERS],
                "recall_rows": [recall_cells(row) for _, row in recall.iterrows()],
                "recall_ngram": ", ".join(sorted({str(n) for n in recall["recall_ngram"] if n})) if len(recall) else "",
                "control": controls[0] if controls else None,
                "agreement": sentences,
                "agreement_runs": f"run{'s' if len(runs) > 1 else ''} {', '.join(runs)}" if runs else "this run",
            }
        )
    return groups


def classification_groups(table: pd.DataFrame) -> list[dict]:
    return [
        {"title": _title(key), "rows": [classification_cells(row) for _, row in rows.iterrows()]}
        for key, rows in _setting(table)
    ]


def real_data_section(inputs):
    """The section builder: None for a run without real-data cells."""
    tables = inputs.analysis.real_data
    if not tables:
        return None
    cells = real_data.lm_cells(inputs.records)
    cells = cells[cells["status"] == "ok"] if len(cells) else cells
    paper = tables["paper"]
    return section(
        "real-data",
        "Real data",
        "real_data.html.j2",
        lm_groups=lm_groups(tables, cells, inputs.palette),
        lm_headers=LM_HEADERS,
        classification_groups=classification_groups(tables["classification"]),
        classification_headers=CLASSIFICATION_HEADERS,
        paper=paper,
        paper_results=", ".join(
            f"{r['model']} {r['test_loss']:.3f} (best at step {r['steps_to_best']})" for r in paper["results"]
        ),
        overfit_rule=tables["overfit_rule"]["text"],
        agreement_rows=len(tables["agreement"]),
    )
