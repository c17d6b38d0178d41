"""The speed gate of ``suite compare``: is a speed ratio's change beyond the noise both runs measured?

Reads records only (no torch). ``compare`` judges speed through ratios measured within one run
(:func:`suite.analysis.speed.speed_ratios`: a cell's throughput over the reference model's, timed
seconds apart on the same machine). This module says how much such a ratio may move between two
runs before the move means something, and whether two runs may be compared for speed at all.

Noise of one timing
    The relative spread of its timed repeats: inter-quartile range over median. Records keep every
    repeat (``train_step_raw_ms``, ``prefill_raw_ms``, ``decode_raw_ms``; schema version 7), and
    the spread is recomputed from them (:func:`relative_spread`, the quartiles
    :mod:`suite.measure.timing` uses). Records written before (no raw values) fall back to their
    recorded spread: ``iqr_ms`` over ``train_step_ms``, ``prefill_iqr_ms`` over the prefill's
    median (``batch_size * seq_len / prefill_tokens_per_s``), ``decode_iqr_ms`` over
    ``decode_ms_per_token``. Fewer than 2 repeats, or no spread recorded: unknown.
Noise of a ratio within one run
    The cell's and the reference's timings are independent measurements, so the relative spread of
    their quotient is that of both combined: ``hypot(cell, reference)`` (the reference's is the
    median over its seeds' records).
Noise of a change between two runs
    Likewise both runs' ratio noises combined: ``hypot(baseline, current)``.
Verdict
    A change counts only when it exceeds both the noise of the change and the configured
    ``speed_percent`` (a floor: the smallest change worth a verdict on the quietest machine): a
    fall beyond both is a regression (gated by ``--gate speed``), a rise beyond both an
    improvement, anything within is ``same``. Where the noise is unknown the floor alone applies and
    the reason says so. As in NVIDIA nvbench's compare script, a difference within the measured
    noise is "same" whatever its size, and the noise is each run's own, not a fixed percentage.
    A cell flagged ``timing_noisy`` in either run (a busy host, too few repeats: see
    :mod:`suite.measure.timing`) stays ``noisy`` and ungated, as before.

Machines
    As pyperf refuses to compare runs whose machine metadata differ, a speed ratio is not gated
    between runs on different devices (cpu vs cuda), different hardware (the CPU model or GPU name a
    record's ``device_name`` holds, and the manifest's ``cpu_name``) or different torch versions:
    its verdict is ``info`` with the reason, and :func:`machine_differences` lists what differs
    (``Comparison.machine_differences``, a warning line in ``compare``'s output). A ratio is a
    property of a machine and a software stack; across them it is a different measurement.

Decode methods
    A perf record's decode figures are a CUDA graph's replays or an eager Python loop's
    (``decode_method``; :mod:`suite.measure.decode_graph`), and at a small batch on a GPU the two
    differ several-fold. ``decode_speed_ratio`` is gated only where the cell and the reference
    decoded by the same methods in both runs (:func:`decode_methods`); else its verdict is ``info``,
    naming the methods. Records from before the field (schema 9) decoded eagerly.

Versions
    Every record carries its family's and task's version (``family_version``, ``task_version``;
    :mod:`suite.registry`). :func:`version_warnings` names the matched cells whose versions differ
    between the runs (a changed generator or model: their difference may be the code's, not a
    regression), and says how many have no versions on one side (records from before version 7).
"""

from __future__ import annotations

import math
import statistics

import pandas as pd

from suite.analysis.tables import join_distinct

# the record metric behind each speed ratio -> (its raw timings, its recorded IQR)
TIMINGS = {
    "train_tokens_per_s": ("train_step_raw_ms", "iqr_ms"),
    "prefill_tokens_per_s": ("prefill_raw_ms", "prefill_iqr_ms"),
    "decode_ms_per_token": ("decode_raw_ms", "decode_iqr_ms"),
}
MACHINE_FACTS = (
    ("device", "devices"),
    ("device_name", "hardware (CPU model or GPU)"),
    ("cpu_name", "CPU models"),
    ("torch_version", "torch versions"),
)
VERSION_FIELDS = ("family_version", "task_version")


def _number(value) -> float | None:
    if value is None or isinstance(value, (list, dict, str)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def relative_spread(raw_ms) -> float | None:
    """Inter-quartile range over median of raw timings (None: fewer than 2, or a median of 0)."""
    if not isinstance(raw_ms, (list, tuple)) or len(raw_ms) < 2:
        return None
    median = statistics.median(raw_ms)
    if median <= 0:
        return None
    q1, _, q3 = statistics.quantiles(raw_ms, n=4, method="inclusive")
    return (q3 - q1) / median


def recorded_median_ms(record, metric: str) -> float | None:
    """The median milliseconds behind ``metric`` as an older record stored it."""
    if metric == "train_tokens_per_s":
        return _number(record.get("train_step_ms"))
    if metric == "decode_ms_per_token":
        return _number(record.get("decode_ms_per_token"))
    tokens_per_s = _number(record.get("prefill_tokens_per_s"))
    batch, length = _number(record.get("batch_size")), _number(record.get("seq_len"))
    if not tokens_per_s or batch is None or length is None:
        return None
    return 1000 * batch * length / tokens_per_s


def timing_noise(record, metric: str) -> float | None:
    """The relative noise of the timing behind ``metric`` (see the module docstring): from the raw
    repeats where the record has them, else from its recorded IQR and median; None when unknown."""
    raw_field, iqr_field = TIMINGS[metric]
    raw = record.get(raw_field)
    if isinstance(raw, (list, tuple)):
        return relative_spread(raw)
    iqr, median = _number(record.get(iqr_field)), recorded_median_ms(record, metric)
    if iqr is None or not median or median <= 0:
        return None
    return iqr / median


def ratio_noises(records: pd.DataFrame, reference: str, ratios: dict) -> pd.DataFrame:
    """Per ok timed record (indexed as ``records``): the noise of each of its speed ratios in its own
    run, the cell's timing noise and the reference's combined. Grouped as
    :func:`suite.analysis.speed.speed_ratios` groups (kind, scope, length, batch)."""
    from suite.analysis.cell_labels import probe_mask
    from suite.analysis.tables import TIMED_KINDS

    timed = records[records["kind"].isin(TIMED_KINDS) & (records["status"] == "ok")]
    timed = timed.assign(scope=timed["scope"].fillna("").where(~probe_mask(timed), "max-len probe"))
    out = {}
    for _, group in timed.groupby(["kind", "scope", "seq_len", "batch_size"]):
        ref = group[group["model"] == reference]
        if ref.empty:
            continue
        for ratio, (metric, _) in ratios.items():
            ref_noises = [noise for noise in (timing_noise(r, metric) for _, r in ref.iterrows()) if noise is not None]
            ref_noise = statistics.median(ref_noises) if ref_noises else None
            for index, row in group.iterrows():
                cell_noise = timing_noise(row, metric)
                known = cell_noise is not None and ref_noise is not None
                out.setdefault(index, {})[ratio] = math.hypot(cell_noise, ref_noise) if known else None
    return pd.DataFrame.from_dict(out, orient="index", columns=list(ratios))


def decode_methods(records: pd.DataFrame, reference: str) -> dict:
    """Per ok perf record (keyed as ``records``): the decode methods behind its ``decode_speed_ratio``,
    its own and the reference's, as ``"cuda_graph / eager"`` (the reference's joined when its seeds
    differ); grouped as :func:`suite.analysis.speed.speed_ratios` groups."""
    from suite.analysis.cell_labels import probe_mask

    if "decode_method" not in records:
        return {}
    perf = records[(records["kind"] == "perf") & (records["status"] == "ok")]
    perf = perf.assign(scope=pd.Series("", index=perf.index).where(~probe_mask(perf), "max-len probe"))
    methods = {}
    for _, group in perf.groupby(["scope", "seq_len", "batch_size"]):
        ref = group[group["model"] == reference]
        if ref.empty:
            continue
        ref_method = join_distinct(ref["decode_method"].map(_method)) or "unrecorded"
        for index, row in group.iterrows():
            methods[index] = f"{_method(row['decode_method'])} / {ref_method}"
    return methods


def _method(value) -> str:
    return value if isinstance(value, str) and value else "unrecorded"


def change_noise(baseline_noise, current_noise) -> float | None:
    """The relative noise of a ratio's change between two runs: both runs' noises combined."""
    base, current = _number(baseline_noise), _number(current_noise)
    if base is None or current is None:
        return None
    return math.hypot(base, current)


def judge_ratio(
    ratio: str, change_percent: float, noise, floor_percent: float, gated: bool, reference: str
) -> tuple[str, str]:
    """(verdict, reason) of one ratio's change (in percent, current over baseline) given the noise
    of the change (a fraction, or None when unknown); see the module docstring."""
    allowance = floor_percent if noise is None else max(floor_percent, 100 * noise)
    if noise is None:
        within = f"tolerance {floor_percent:g}%; noise unknown"
    else:
        within = f"noise {100 * noise:.0f}%, tolerance {floor_percent:g}%"
    if change_percent < -allowance:
        verdict = "regression" if gated else "worse"
        return verdict, f"{ratio} fell {-change_percent:.0f}% ({within}; vs {reference})"
    if change_percent > allowance:
        return "improvement", f"{ratio} rose {change_percent:.0f}% ({within}; vs {reference})"
    if abs(change_percent) > floor_percent:
        return "same", f"within the noise ({within})"
    return "same", ""


def machine_facts(run) -> dict:
    """What a run's speed depends on, from its manifest's environment and its records."""
    environment = run.manifest.get("environment") or {}
    facts = {}
    for key, _ in MACHINE_FACTS:
        value = environment.get(key)
        if value is None and key in run.records:
            value = join_distinct(run.records[key]) or None
        facts[key] = value
    return facts


def machine_differences(baseline, current) -> list[str]:
    """The machine facts that differ between two runs (see the module docstring); empty: same machine
    as far as both runs recorded it."""
    b, c = machine_facts(baseline), machine_facts(current)
    return [
        f"{what}: {b[key]} vs {c[key]}"
        for key, what in MACHINE_FACTS
        if b.get(key) is not None and c.get(key) is not None and str(b[key]) != str(c[key])
    ]


def machine_warning(differences: list[str]) -> str:
    return (
        "speed ratios not gated: the runs ran on different machines or software ("
        + "; ".join(differences)
        + "); compare speed between runs of one machine"
    )


def version_warnings(base: pd.DataFrame, cur: pd.DataFrame, shared, labels) -> list[str]:
    """Matched records whose family or task version differs between the runs, and how many have none
    on one side (records written before versions were recorded)."""
    changed, unrecorded = [], 0
    for key in shared:
        b, c = base.loc[key], cur.loc[key]
        pairs = [(name, _number(b.get(name)), _number(c.get(name))) for name in VERSION_FIELDS]
        if any((before is None) != (after is None) for name, before, after in pairs if name == "family_version"):
            unrecorded += 1
        differ = [
            f"{name} {before:g} -> {after:g}"
            for name, before, after in pairs
            if before is not None and after is not None and before != after
        ]
        if differ:
            changed.append(f"{labels.cell(key)} ({', '.join(differ)})")
    notes = []
    if changed:
        notes.append(
            f"{len(changed)} matched record(s) ran a different version of their model family or task, so a "
            "difference may be the code's change, not a regression: "
            + "; ".join(changed[:5])
            + (" ..." if len(changed) > 5 else "")
        )
    if unrecorded:
        notes.append(
            f"{unrecorded} matched record(s) carry family/task versions in one run only (the other's records "
            "predate them): a change of model or task code between the runs cannot be ruled out"
        )
    return notes


def judged_ratios(
    base_ratios: pd.Series, cur_ratios: pd.Series, noises: tuple, tol, machines: list, methods: tuple = (None, None)
) -> list[tuple]:
    """One cell's speed ratios (to the reference, each run's own) judged, as ``(ratio, baseline, current,
    verdict, reason, change in percent)``: beyond the noise of the change and the tolerance (see the
    module docstring); a noisy timing on either side, runs on different machines, or a decode ratio
    whose decode methods changed, never gated. ``noises`` is the cell's row of :func:`ratio_noises`
    in the baseline and in the current run, ``methods`` its :func:`decode_methods` in each."""
    base_noise, cur_noise = noises
    base_methods, cur_methods = methods
    judged = []
    for ratio in base_ratios.index.drop("noisy", errors="ignore"):
        b_value, c_value = base_ratios[ratio], cur_ratios[ratio]
        if pd.isna(b_value) or pd.isna(c_value):
            continue
        change = (c_value / b_value - 1) * 100
        if machines:
            verdict, reason = "info", "not gated: the runs ran on different machines or software"
        elif ratio == "decode_speed_ratio" and base_methods != cur_methods:
            verdict = "info"
            reason = f"not gated: decode timed as {base_methods} (cell / reference), now {cur_methods}"
        elif base_ratios["noisy"] or cur_ratios["noisy"]:
            verdict, reason = "noisy", "not gated: noisy timing in the baseline or current run"
        else:
            noise = change_noise(_noise_of(base_noise, ratio), _noise_of(cur_noise, ratio))
            verdict, reason = judge_ratio(ratio, change, noise, tol.speed_percent, "speed" in tol.gates, tol.reference)
        judged.append((ratio, b_value, c_value, verdict, reason, change))
    return judged


def _noise_of(noises, ratio: str):
    return None if noises is None or ratio not in noises else noises[ratio]


MEMORY_METRICS = ("train_peak_mem_bytes", "prefill_peak_mem_bytes", "decode_peak_mem_bytes")


def judged_memory(b, c, tol) -> list[tuple]:
    """One cell's peak memory per phase, as ``(metric, baseline, current, verdict, reason, change)``:
    gated by ``memory`` where both runs ran it on a GPU (CUDA's allocator counts exactly)."""
    from suite.devices import is_cuda

    on_gpu = is_cuda(b["device"]) and is_cuda(c["device"])
    judged = []
    for metric in MEMORY_METRICS:
        if pd.isna(b[metric]) or pd.isna(c[metric]) or b[metric] <= 0:
            continue
        change = (c[metric] / b[metric] - 1) * 100
        if change > tol.memory_percent and on_gpu:
            verdict = "regression" if "memory" in tol.gates else "worse"
            reason = f"{metric} grew {change:.1f}% (tolerance {tol.memory_percent:g}%)"
        elif change < -tol.memory_percent and on_gpu:
            verdict, reason = "improvement", f"{metric} fell {-change:.1f}%"
        else:
            verdict, reason = ("same" if on_gpu else "info"), ("" if on_gpu else "CPU peak: not gated")
        judged.append((metric, b[metric], c[metric], verdict, reason, change))
    return judged


def provenance_warnings(baseline, current, tol) -> list[str]:
    """Differences between the runs that make numbers less comparable."""
    from suite.analysis.tables import TIMED_KINDS

    b, c = baseline.provenance(), current.provenance()
    notes = []
    for key, what in (
        ("device", "devices"),
        ("device_name", "hardware"),
        ("torch_version", "torch versions"),
        ("torch_threads", "torch thread counts"),
    ):
        if b.get(key) and c.get(key) and str(b[key]) != str(c[key]):
            notes.append(f"the runs used different {what}: {b[key]} vs {c[key]}")
    for model in sorted(set(b["backends"]) & set(c["backends"])):
        if b["backends"][model] != c["backends"][model]:
            notes.append(f"{model} ran on different backends: {b['backends'][model]} vs {c['backends'][model]}")
    if "speed" in tol.gates:
        for run, side in ((baseline, "baseline"), (current, "current")):
            timed = run.records[run.records["kind"].isin(TIMED_KINDS) & (run.records["status"] == "ok")]
            if len(timed) and not (timed["model"] == tol.reference).any():
                notes.append(
                    f"the {side} run has no ok timed cell of the reference model {tol.reference!r}: "
                    "no speed ratio can be formed (choose another --reference)"
                )
    return notes
