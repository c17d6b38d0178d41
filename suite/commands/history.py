"""``python -m suite history RUN_DIR...``: key metrics per model across runs.

Runs are ordered by the date of the commit they ran (``git show`` in this
checkout; when the commit is unknown here, the run's creation time). Per run and
model it takes, from the run's analysis (``analysis.json``, or built from the
records of a run without one: docs/analysis-json.md): seed-and-length-mean
accuracy per task, the median over lengths of the training-throughput ratio to
the reference model (timed in the same run, see :mod:`suite.analysis.compare`),
and, from the records, the training peak memory at the longest perf length. Each
run is compared with the one before it (the shared cells, under the default gates of
:mod:`suite.analysis.compare`); runs with a regression are flagged in the table and
shaded red in the plot.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd

from suite.paths import REPO_ROOT


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", help="run directories (or records.jsonl files), any order")
    parser.add_argument("--html", default=None, help="write the history page here")
    parser.add_argument("--reference", default="gru", help="model speeds are divided by (default gru)")


def commit_date(commit) -> str | None:
    if not commit:
        return None
    try:
        done = subprocess.run(
            ["git", "show", "-s", "--format=%cI", str(commit)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def accuracy_metrics(run) -> list[dict]:
    """Seed-and-length-mean accuracy per model and task, from the run's analysis (its accuracy table)."""
    accuracy = pd.DataFrame(run.analysis["tables"]["accuracy"], columns=["model", "task", "accuracy"])
    accuracy = accuracy.dropna(subset=["accuracy"])
    return [
        {"model": model, "metric": f"accuracy: {task}", "value": group["accuracy"].mean()}
        for (model, task), group in accuracy.groupby(["model", "task"])
    ]


def speed_metrics(run, reference: str) -> list[dict]:
    """Median over lengths of each model's training-throughput ratio to ``reference``, max-len probes
    left out: the analysis's ratios when it divided by the same reference, else taken now from the
    records (:func:`suite.analysis.speed.speed_ratios`)."""
    from suite.analysis.cell_labels import probe_mask
    from suite.analysis.speed import speed_ratios

    if run.analysis["speed"]["reference"] == reference:
        ratios = pd.DataFrame(run.analysis["speed"]["ratios"], columns=["model", "max_len_probe", "train_speed_ratio"])
        ratios = ratios[~ratios["max_len_probe"].astype(bool)]
    else:
        records = run.records[~probe_mask(run.records)]
        ratios = speed_ratios(records, reference)
        ratios = records.loc[ratios.index, ["model"]].join(ratios)
    return [
        {"model": model, "metric": f"train speed / {reference}", "value": group["train_speed_ratio"].median()}
        for model, group in ratios.dropna(subset=["train_speed_ratio"]).groupby("model")
    ]


def memory_metrics(run) -> list[dict]:
    """Training peak memory per model at the longest perf length, max-len probes left out (the
    analysis's perf table keeps them: a probe times one repeat up to the memory cap)."""
    from suite.analysis import tables as analysis
    from suite.analysis.cell_labels import probe_mask

    perf = analysis.perf_table(run.records[~probe_mask(run.records)]).dropna(subset=["train_peak_mem_bytes"])
    longest = perf[perf["seq_len"] == perf["seq_len"].max()] if len(perf) else perf
    return [
        {
            "model": row["model"],
            "metric": f"train peak MiB @ {int(row['seq_len'])}",
            "value": row["train_peak_mem_bytes"] / 2**20,
        }
        for _, row in longest.iterrows()
    ]


def run_metrics(run, reference: str) -> list[dict]:
    """One row per model and metric of ``run`` (a :class:`suite.analysis.runs.Run`, whose analysis is
    its ``analysis.json`` or built from its records)."""
    return accuracy_metrics(run) + speed_metrics(run, reference) + memory_metrics(run)


def build_history(paths, reference: str = "gru") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs: one row per run in commit order with its flag, metrics: long table)."""
    from suite.analysis.compare import Tolerances, compare_runs, load_run

    runs = [load_run(path) for path in paths]
    entries = []
    for run in runs:
        commit = run.provenance().get("git_commit")
        date = commit_date(commit)
        created = run.manifest.get("created") or analysis_min_timestamp(run)
        entries.append(
            {
                "run": run,
                "label": run.label,
                "commit": str(commit or "")[:10],
                "date": date or created,
                "created": created or "",
                "date_source": "commit" if date else "run created",
            }
        )
    entries.sort(key=lambda e: (e["date"] or "", e["created"], e["label"]))
    tolerances = Tolerances(reference=reference)
    for previous, entry in zip([None] + entries[:-1], entries):
        entry["flagged"] = ""
        if previous is not None:
            regressions = compare_runs(previous["run"], entry["run"], tolerances).regressions
            if len(regressions):
                entry["flagged"] = f"{len(regressions)} regression(s) vs the run before: " + "; ".join(
                    f"{r['cell']} {r['metric']}" for _, r in regressions.head(5).iterrows()
                )
    metrics = [
        dict(row, order=index) for index, entry in enumerate(entries) for row in run_metrics(entry["run"], reference)
    ]
    table = pd.DataFrame([{k: v for k, v in e.items() if k != "run"} for e in entries])
    return table, pd.DataFrame(metrics, columns=["model", "metric", "value", "order"])


def analysis_min_timestamp(run) -> str | None:
    stamps = run.records["timestamp"].dropna()
    return str(stamps.min()) if len(stamps) else None


def history_plot(runs: pd.DataFrame, metrics: pd.DataFrame) -> str | None:
    """One panel per metric: value per run (x: runs in commit order), a line per model."""
    import matplotlib
    import numpy as np
    from matplotlib.figure import Figure

    from suite.report import plots

    if metrics.empty:
        return None
    names = list(dict.fromkeys(sorted(metrics["metric"])))
    palette = plots.model_palette(metrics["model"])
    columns = min(3, len(names))
    with matplotlib.rc_context(plots.STYLE):
        figure = Figure(figsize=(4.2 * columns + 1.6, 3.0 * -(-len(names) // columns)), layout="constrained")
        axes_list = np.atleast_1d(figure.subplots(-(-len(names) // columns), columns, squeeze=False)).ravel()
        labels = [f"{row.commit or row.label}" for row in runs.itertuples()]
        for axes, name in zip(axes_list, names):
            mine = metrics[metrics["metric"] == name]
            for model, rows in mine.groupby("model"):
                rows = rows.sort_values("order")
                axes.plot(
                    rows["order"], rows["value"], marker="o", color=palette[plots.label_of(model)], label=str(model)
                )
            for index, flagged in enumerate(runs["flagged"]):
                if flagged:
                    axes.axvspan(index - 0.4, index + 0.4, color="#d62728", alpha=0.15)
            axes.set_title(name)
            axes.set_xticks(range(len(labels)))
            axes.set_xticklabels(labels, rotation=45, fontsize=7)
        for axes in axes_list[len(names) :]:
            axes.set_visible(False)
        handles, legend_labels = axes_list[0].get_legend_handles_labels()
        figure.legend(handles, legend_labels, loc="outside right center", title="model")
        return plots.figure_to_png_base64(figure)


def command(args) -> int:
    from suite.analysis.compare import CompareError
    from suite.report.template import fragment, render_page, section

    runs, metrics = build_history(args.runs, args.reference)
    for row in runs.itertuples():
        print(f"{row.date or '?':<26} {row.commit:<11} {row.label:<30} {row.flagged or 'clean'}")
    if args.html:
        png = history_plot(runs, metrics)
        page = render_page(
            "suite history",
            [
                section(
                    "history",
                    "Key metrics over commits",
                    "figure.html.j2",
                    png=png,
                    alt="metrics per run",
                    note="Runs in commit order; a red band marks a run that compare flagged against the run before it.",
                    missing="no metrics in these runs",
                ),
                section("runs", "Runs", "history_runs.html.j2", runs=runs.to_dict("records")),
            ],
            fragment("<h1>{{ title }}</h1>", title=f"History of {len(runs)} run(s)"),
        )
        try:
            Path(args.html).parent.mkdir(parents=True, exist_ok=True)
            Path(args.html).write_text(page, encoding="utf-8")
        except OSError as error:
            raise CompareError(
                f"--html {args.html} cannot be written ({error.strerror}): choose a writable path"
            ) from None
        print(f"history: {args.html}")
    return 0
