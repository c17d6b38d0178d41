"""The report's "paper vs measured" section, for runs of the ``paper-*`` presets.

Feng et al. 2024's published numbers (:mod:`suite.analysis.published`) overlaid on what
the run measured: speed-up vs length (log-log, the paper's points as black
crosses), memory ratios, the selective-copying table beside the paper's and the
Mamba paper's, whether the paper's depth effect holds (one sentence per minRNN,
:func:`suite.analysis.paper_depth.depth_effect`), steps to the target validation
accuracy with the curves behind them and how each cell stopped, energy per
token, and the published Shakespeare numbers (no such task here). Each row says
agrees / disagrees / not measured here and why; the rules are in
:mod:`suite.analysis.paper`.
"""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from suite.analysis import paper
from suite.analysis import published
from suite.analysis.tables import curve_points
from suite.analysis.missing import is_missing
from suite.report.format import NO_VALUE, NOISY_MARK, Cell, cells
from suite.report.palette import with_palette
from suite.report.plots import STYLE, figure_to_png_base64, ring_noisy
from suite.report.template import section


def _number(value, digits: str = ".3g", suffix: str = "") -> str:
    return NO_VALUE if is_missing(value) else f"{value:{digits}}{suffix}"


def speedup_figure(table: pd.DataFrame, palette: dict | None = None) -> str | None:
    """Measured speed-up vs T per minRNN spec (lines) and the paper's points (black crosses)."""
    measured = table.dropna(subset=["measured"])
    if measured.empty and table["paper"].dropna().empty:
        return None
    palette = with_palette(table["model"], palette)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(6.4, 4.2))
        axes = figure.add_subplot(1, 1, 1)
        for model, line in measured.groupby("model"):
            line = line.sort_values("seq_len")
            axes.plot(
                line["seq_len"],
                line["measured"],
                marker="o",
                color=palette[model],
                label=f"{model} / {line['baseline'].iloc[0]} (measured)",
            )
            noisy = line[line["noisy"].astype(bool)]
            if len(noisy):
                ring_noisy(axes, noisy["seq_len"], noisy["measured"])
        for (model, baseline), points in published.paper_speedups().items():
            lengths = sorted(points)
            axes.plot(
                lengths,
                [points[length] for length in lengths],
                linestyle="none",
                marker="x",
                markersize=10,
                markeredgewidth=2,
                color="black" if model == "mingru" else "dimgrey",
                label=f"{model} / {baseline} (paper, T4)",
            )
        if measured["noisy"].astype(bool).any():
            ring_noisy(axes, [], [], label="noisy timing")
        axes.axhline(1.0, color="grey", linestyle=":", linewidth=1)
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xlabel("sequence length T")
        axes.set_ylabel("speed-up over the sequential loop (x)")
        axes.legend(fontsize=7)
    return figure_to_png_base64(figure)


def steps_figure(accuracy: pd.DataFrame, palette: dict | None = None) -> str | None:
    """Validation accuracy vs training step, one panel per layer count, one line per model."""
    curves = (
        accuracy[accuracy["valid_curve"].apply(lambda c: isinstance(c, list) and len(c) > 0)]
        if len(accuracy)
        else accuracy
    )
    if curves.empty:
        return None
    panels = sorted(curves["n_layers"].unique())
    palette = with_palette(curves["model"], palette)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.2 * len(panels), 3.2))
        for index, layers in enumerate(panels):
            axes = figure.add_subplot(1, len(panels), index + 1)
            for row in curves[curves["n_layers"] == layers].itertuples():
                points = curve_points(row.valid_curve)  # [step, seconds, accuracy] or older [step, accuracy]
                axes.plot([p[0] for p in points], [p[2] for p in points], color=palette[row.model], label=row.model)
            target = curves["target_accuracy"].dropna()
            if len(target):
                axes.axhline(float(target.iloc[0]), color="black", linestyle="--", linewidth=1, label="target")
            axes.set_ylim(-0.02, 1.02)
            axes.set_xlabel("training step")
            axes.set_ylabel("validation accuracy")
            axes.set_title(f"{int(layers)} layer(s)")
            axes.legend(fontsize=7)
    return figure_to_png_base64(figure)


def steps_rows(accuracy: pd.DataFrame) -> list[list[str]]:
    """Steps to the target per (model, layers), and each as a multiple of minGRU's at the same depth."""
    rows = []
    for row in accuracy.itertuples():
        reference = accuracy[(accuracy["model"] == "mingru") & (accuracy["n_layers"] == row.n_layers)]
        ref_steps = reference["steps_to_target"].iloc[0] if len(reference) else None
        ratio = (
            row.steps_to_target / ref_steps
            if pd.notna(row.steps_to_target) and ref_steps is not None and pd.notna(ref_steps)
            else None
        )
        reached = (
            f"step {int(row.steps_to_target)}"
            if pd.notna(row.steps_to_target)
            else f"not within {_number(row.train_steps, '.0f')} steps"
        )
        rows.append(
            [
                row.model,
                str(row.n_layers),
                _number(row.target_accuracy, ".0%"),
                _number(row.eval_every, ".0f"),
                reached,
                _number(row.seconds_to_target, ".3g", " s"),
                row.stop_reasons or NO_VALUE,
                _number(ratio, ".2f", "x"),
            ]
        )
    return rows


def speed_rows(speed: pd.DataFrame) -> list:
    """The published speed-ups next to the measured ones; a noisy timing is marked."""
    return [
        [
            r.model,
            r.baseline,
            str(int(r.seq_len)),
            _number(r.paper, ".0f", "x"),
            Cell(NOISY_MARK + _number(r.measured, ".3g", "x"), "num noisy")
            if r.noisy
            else _number(r.measured, ".3g", "x"),
            r.backend or NO_VALUE,
            r.verdict or NO_VALUE,
            r.why + ("; noisy timing" if r.noisy else ""),
        ]
        for r in speed.itertuples()
    ]


def memory_rows(memory: pd.DataFrame) -> list:
    """The published memory ratios next to the measured ones."""
    return [
        [
            r.model,
            r.reference,
            _number(r.seq_len, ".0f"),
            _number(r.paper, ".2f", "x"),
            _number(r.measured, ".2f", "x"),
            r.verdict,
            r.why,
        ]
        for r in memory.itertuples()
    ]


def copy_rows(copy: pd.DataFrame) -> list:
    """The published selective-copying accuracies (by model and depth) next to the measured ones."""
    return [
        [
            r.model,
            _number(r.n_layers, ".0f"),
            _number(r.paper, ".1f") + (f" ± {r.paper_pm:.1f}" if pd.notna(r.paper_pm) else ""),
            _number(r.measured, ".1f") + (f" ± {r.measured_std:.1f}" if pd.notna(r.measured_std) else ""),
            r.verdict or NO_VALUE,
            r.why,
        ]
        for r in copy.itertuples()
    ]


def energy_rows(energy: pd.DataFrame) -> list:
    """The energy per token measured, where the run measured it."""
    return [
        [
            r.model,
            r.backend or NO_VALUE,
            str(int(r.seq_len)),
            str(int(r.batch_size)),
            r.energy_backend or NO_VALUE,
            _number(r.idle_watts, ".1f", " W"),
            _number(r.train_joules_per_token, ".3g"),
            _number(r.decode_joules_per_token, ".3g"),
            r.energy_reason or "",
        ]
        for r in energy.itertuples()
    ]


def paper_section(inputs):
    """The section, or None for runs that are not of a ``paper-*`` preset (whose analysis has no
    paper tables)."""
    tables = inputs.analysis.paper
    if not tables:
        return None
    data = published.load()
    accuracy = tables["accuracy_by_layers"]
    shakespeare = data["shakespeare"]
    shakespeare_rows = [
        [r["model"], f"{r['test_loss']:.3f}", str(r["steps_to_best"]), shakespeare["measured_here"]]
        for r in shakespeare["result"]
    ]
    return section(
        "paper",
        "Paper vs measured (Feng et al. 2024)",
        "paper.html.j2",
        citation=data["source"]["citation"],
        versions=data["source"]["arxiv_versions"],
        mamba_citation=data["mamba_source"]["citation"],
        data_version=data["version"],
        speed_setting=f"{data['speed']['hardware']}, {data['speed']['setting']}",
        speed_png=speedup_figure(tables["speedups"], inputs.palette),
        speed_rows=cells(speed_rows(tables["speedups"])),
        memory_setting=f"{data['memory']['hardware']}, {data['memory']['setting']}",
        memory_rows=cells(memory_rows(tables["memory"])),
        copy_setting=data["selective_copy"]["setting"],
        copy_rows=cells(copy_rows(tables["selective_copy"])),
        depth=[entry["sentence"] for entry in tables["depth_effect"]],
        steps_png=steps_figure(accuracy, inputs.palette),
        steps_rows=cells(steps_rows(accuracy)) if len(accuracy) else [],
        energy_rows=cells(energy_rows(tables["energy"])),
        shakespeare_setting=shakespeare["setting"],
        shakespeare_rows=cells(shakespeare_rows),
        rules={"speed": paper.SPEED_ORDERS, "memory": paper.MEMORY_TOLERANCE},
    )
