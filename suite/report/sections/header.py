"""The report's first screen: the run's identity and provenance in one table, and the warnings that
change how its numbers read (fallback backends, cells that shared CPU cores, noisy timings, no cell ok)."""

from __future__ import annotations

import datetime

import pandas as pd

from suite.analysis import cells as counting
from suite.analysis import tables as analysis
from suite.analysis.summary import fallback_models
from suite.report.format import (
    distinct,
    text_of,
)
from suite.report.template import render


def fallback_texts(records: pd.DataFrame, manifest_backends: dict) -> list[str]:
    """One line per model that ran on a reference/loop implementation."""
    texts = []
    for entry in fallback_models(records, manifest_backends):
        backends = ", ".join(entry["backends"])
        detail = entry["detail"]
        text = f"{entry['model']}: {backends}"
        if detail and detail != backends:
            text = f"{entry['model']}: {detail}" if detail.startswith(backends) else f"{text} ({detail})"
        requested = entry["model"].partition(":")[2]
        if requested and requested in entry["backends"]:
            text += " [requested in the model spec]"
        texts.append(text)
    return texts


SHARED_CORES_WARNING = (
    "timed cells ran side by side on the same CPU cores ({label}, up to {at_once} at once): "
    "their throughput and latency are not those of a cell alone; rerun perf cells with one "
    "job for timings"
)


def shared_cores_warnings(manifest: dict) -> list[str]:
    """One warning line per executor start of the manifest (its ``executors`` list) whose timed
    cells shared CPU cores (``timed_cells_shared_cores``)."""
    return [
        SHARED_CORES_WARNING.format(label=entry.get("label"), at_once=entry.get("cells_at_once") or "many")
        for entry in manifest.get("executors") or []
        if entry.get("timed_cells_shared_cores")
    ]


def header(records: pd.DataFrame, manifest: dict, manifest_problem: str | None):
    environment = manifest.get("environment") or {}
    commit = environment.get("git_commit") or distinct(records, "git_commit")
    if environment.get("git_dirty"):
        commit = f"{commit} (uncommitted changes)"
    run_id = manifest.get("run_id") or distinct(records, "run_id") or "unknown run"
    rows = [
        ("run id", run_id),
        ("created", manifest.get("created")),
        ("preset", manifest.get("preset") or distinct(records, "preset")),
        ("device", environment.get("device") or distinct(records, "device")),
        ("device name", environment.get("device_name") or distinct(records, "device_name")),
        ("dtype", distinct(records, "dtype") or (manifest.get("preset_config") or {}).get("dtype")),
        ("torch", environment.get("torch_version") or distinct(records, "torch_version")),
        ("git commit", commit),
        ("hostname", environment.get("hostname") or distinct(records, "hostname")),
        ("cells", counting.cell_count_text(records)),
        ("records", f"{len(records)} (an accuracy cell writes one per evaluation length)" if len(records) else "0"),
        ("report written", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
    ]
    return render(
        "run_header.html.j2",
        run_id=str(run_id),
        rows=[(k, text_of(v)) for k, v in rows],
        manifest_problem=manifest_problem,
        fallbacks=fallback_texts(records, manifest.get("backends") or {}),
        none_ok=bool(len(records)) and not (records["status"] == "ok").any(),
        executor_warnings=shared_cores_warnings(manifest),
        noisy=noisy_summary(records),
    )


def noisy_summary(records: pd.DataFrame) -> dict | None:
    """For the first screen: how many ok timed cells were flagged noisy, and the kinds of reason."""
    if not len(records):
        return None
    noisy = analysis.noisy_timed_cells(records)
    if noisy.empty:
        return None
    cells = counting.latest_cells(records)
    timed = int((cells["kind"].isin(analysis.TIMED_KINDS) & (cells["status"] == "ok")).sum())
    kinds = sorted(
        {
            "too few repeats"
            if "spread unknown" in reason
            else ("busy host" if "load" in reason or "other processes" in reason else "spread")
            for text in noisy["timing_noisy_reason"].dropna()
            for reason in str(text).split("; ")
        }
    )
    return {"count": len(noisy), "timed": timed, "reasons": ", ".join(kinds) or "no reason recorded"}
