"""``python -m suite bench speed``: is minGRU faster than cuDNN's GRU here, and by how much?

Times one training step (forward + loss + backward) of every min-RNN scan
backend, the classic RNNs (``nn.GRU``/``nn.LSTM``: cuDNN on CUDA, ATen on CPU)
and their sequential baselines (``gru:loop``/``lstm:loop``: ``nn.GRUCell`` /
``nn.LSTMCell`` stepped in Python, the paper's comparison), Mamba, Mamba-2 and
the Transformer, per length, at two scopes (the mixer alone, the whole model),
plus the scans' bandwidth against a copy, and at mixer scope each min-RNN
family's input projections alone (``mingru:projections``: the floor its step
cannot go below; the summary prints each mixer's step over it). How each
number is taken: :mod:`suite.measure.speed`.

Output: ``records.jsonl`` (``kind: speed``, with ``scope``, ``train_step_ms``,
``iqr_ms``, ``timing_repeats``, ``train_step_raw_ms``) and ``manifest.json`` in ``--out``, the speed ratios
measured in this run on stdout and in the manifest, and an HTML report.
"""

from __future__ import annotations

import datetime
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from suite.commands.arguments import csv_list, csv_positive_ints
from suite.errors import UsageError
from suite.paths import REPO_ROOT

DEFAULT_MODELS = (
    "mingru:triton",
    "mingru:linear",
    "mingru:log",
    "minlstm:triton",
    "minlstm:linear",
    "minlstm:log",
    "gru",
    "gru:loop",
    "lstm",
    "lstm:loop",
    "mamba",
    "mamba2",
    "transformer",
)
SCOPES = ("mixer", "model", "scan")
MAX_ROUNDS = 1000  # --repeats and --warmup: the most timed rounds time_interleaved takes for --min-time-s


def add_arguments(parser) -> None:
    parser.add_argument("what", choices=["speed"], help="what to benchmark (speed: training-step time per length)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: cuda if available)")
    parser.add_argument(
        "--seq-lens",
        type=csv_positive_ints,
        default=[128, 512, 2048, 4096],
        help="comma-separated lengths (default 128,512,2048,4096)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per step (default 8)")
    parser.add_argument("--d-model", type=int, default=256, help="model width D (default 256)")
    parser.add_argument(
        "--models",
        type=csv_list,
        default=list(DEFAULT_MODELS),
        help="comma-separated model specs (default: every min-RNN backend and every baseline)",
    )
    parser.add_argument("--scopes", type=csv_list, default=list(SCOPES), help="mixer, model, scan (default: all)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument(
        "--min-time-s",
        type=float,
        default=0.2,
        help="keep timing a subject until its timed steps add up to this (default 0.2)",
    )
    parser.add_argument(
        "--tf32", choices=("on", "off"), default="off", help="TF32 for fp32 matmuls and cuDNN on CUDA (default off)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per subject before timing (default 2)")
    parser.add_argument(
        "--dtype", default="auto", help="auto (float32 on CPU, bfloat16 autocast on CUDA), float32 or bfloat16-autocast"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="run directory to create (default results/bench-speed-<time>)")
    parser.add_argument(
        "--report",
        default=None,
        help="HTML report path (default: report.html in --out; without --out, reports/<run_id>.html)",
    )
    parser.add_argument("--no-report", action="store_true", help="write records only")


def check_arguments(args) -> None:
    from suite.plan.presets import DTYPES
    from suite.registry import parse_spec
    from suite.plan.settings import MAX_SEED, check_threads

    if not args.models:
        raise UsageError("--models is empty: name at least one model spec, e.g. --models mingru,gru")
    for spec in args.models:
        parse_spec(spec)  # unknown family or backend: one line with "did you mean"
    unknown = sorted(set(args.scopes) - set(SCOPES))
    if unknown:
        raise UsageError(f"unknown --scopes {', '.join(unknown)}: use {', '.join(SCOPES)}")
    if not args.scopes:
        raise UsageError(f"--scopes is empty: use one or more of {', '.join(SCOPES)}")
    for name in ("batch_size", "d_model", "repeats"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not 0 <= args.warmup <= MAX_ROUNDS or args.repeats > MAX_ROUNDS:
        raise UsageError(
            f"--warmup must be from 0 to {MAX_ROUNDS} and --repeats from 1 to {MAX_ROUNDS}, got "
            f"{args.warmup} and {args.repeats}"
        )
    if args.dtype not in DTYPES:
        raise UsageError(f"unknown --dtype {args.dtype!r}: use one of {', '.join(DTYPES)}")
    if not 0 <= args.min_time_s < float("inf"):
        raise UsageError(f"--min-time-s must be a finite number of seconds, 0 or more, got {args.min_time_s}")
    if not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed must be an integer from 0 to 2**32-1 ({MAX_SEED}), got {args.seed}")
    check_threads(args.threads)


def memory_of(device: str) -> tuple[int, str]:
    """The bytes one subject could at most use, and where: the device's memory on CUDA; on a CPU, the
    machine's memory, or the cgroup's limit where that is lower."""
    from suite.devices import is_cuda

    if is_cuda(device):
        import torch

        properties = torch.cuda.get_device_properties(torch.device(device))
        return properties.total_memory, f"{device} ({properties.name})"
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        total = min(total, int(limit)) if limit.isdigit() else total
    except OSError:
        pass
    return total, "this machine"


def check_fits(args, device: str) -> None:
    """Refuse shapes that cannot fit before anything runs. Two floors, each far below what a subject
    needs: every mixer- and model-scope subject holds at least one D x D float32 weight, and every
    subject at least one [B, T, D] float32 tensor (its input, or a scan's output). A shape above
    both floors that still does not fit is recorded ``oom`` at run time."""
    total, where = memory_of(device)

    def gib(size: int) -> str:
        size /= 2**30
        return f"{size:,.0f} GiB" if size >= 100 else f"{size:.3g} GiB"

    weight = 4 * args.d_model**2
    if set(args.scopes) & {"mixer", "model"} and weight > total:
        raise UsageError(
            f"--d-model {args.d_model}: one D x D weight alone takes {gib(weight)}, more than the "
            f"{gib(total)} of {where}: choose a smaller --d-model"
        )
    longest = max(args.seq_lens)
    activation = 4 * args.batch_size * longest * args.d_model
    if activation > total:
        raise UsageError(
            f"--batch-size {args.batch_size} x --seq-lens {longest} x --d-model {args.d_model}: one "
            f"activation alone takes {gib(activation)}, more than the {gib(total)} of {where}: choose "
            "smaller ones"
        )


@dataclass(frozen=True)
class BenchSettings:
    """What every subject of one ``bench speed`` run is timed under."""

    dtype: str
    batch_size: int
    seed: int
    warmup: int
    repeats: int
    min_time_s: float


def subject_cell(subject, seq_len: int, settings: BenchSettings):
    """The :class:`suite.plan.cells.SpeedCell` a bench subject is recorded as: its key is the
    record's ``cell_key`` and :func:`suite.measure.cell.record_header` builds its record, as for
    every other record of the suite."""
    from suite.plan.cells import SpeedCell, SpeedTiming, SubjectConfig

    timing = SpeedTiming(settings.dtype, settings.warmup, settings.repeats, settings.min_time_s)
    shape = SubjectConfig.from_dict(subject.config)
    return SpeedCell(subject.spec, subject.scope, shape, seq_len, settings.batch_size, settings.seed, timing)


def to_record(subject, seq_len: int, device: str, context, settings: BenchSettings) -> dict:
    """The ``speed`` record of one timed subject (see the module docstring)."""
    from suite.measure.cell import record_header
    from suite.measure.timing import numerics_fields

    record = record_header(subject_cell(subject, seq_len, settings), device, context)
    record.update(
        backend=subject.backend,
        status=subject.status,
        error=subject.error,
        params=subject.params,
        state_bytes=subject.state_bytes,
        wall_s=sum(subject.timing.seconds),
        scope=subject.scope,
        **numerics_fields(),
    )
    timing = subject.timing
    if subject.status == "ok" and timing.repeats:
        median_ms = timing.median_ms
        record.update(
            train_step_ms=median_ms,
            train_step_raw_ms=timing.raw_ms,
            iqr_ms=timing.iqr_ms,
            min_ms=timing.min_ms,
            timing_repeats=timing.repeats,
            **subject.noise,
        )
        if subject.scope == "scan":
            record["bytes_per_s"] = subject.bytes_moved / (median_ms / 1000)
        else:
            record["train_tokens_per_s"] = settings.batch_size * seq_len / (median_ms / 1000)
    elif subject.status == "ok":
        record.update(status="error", error="no timed repeat completed")
    return record


def fill_copy_bandwidth(records: list[dict]) -> None:
    """Give each scan record of ``records`` (one length's scan group) the ``copy_bytes_per_s``
    of the copy timed beside it."""
    copies = {
        (r["model_config"]["copy_of"], r["seq_len"]): r["bytes_per_s"]
        for r in records
        if r.get("scope") == "scan" and r.get("backend") == "copy" and r.get("bytes_per_s")
    }
    for record in records:
        if record.get("scope") == "scan" and record.get("backend") != "copy" and record.get("bytes_per_s"):
            record["copy_bytes_per_s"] = copies.get((record["family"], record["seq_len"]))


def speed_ratios(records: list[dict]) -> list[dict]:
    """How many times faster each min-RNN backend is than each baseline, per scope and length,
    from medians taken in this run (:func:`suite.analysis.speed.speedups`)."""
    import pandas as pd

    from suite.analysis.speed import SPEED_COLUMNS, speedups

    frame = pd.DataFrame.from_records(records).reindex(columns=list(SPEED_COLUMNS))
    return speedups(frame).to_dict("records")


def projection_overheads(records: list[dict]) -> list[dict]:
    """Per min-RNN mixer timed at mixer scope: its step median over its projections' median (same run)."""
    from suite.measure.speed import PROJECTIONS

    ok = [r for r in records if r["status"] == "ok" and r.get("scope") == "mixer" and r.get("train_step_ms")]
    floors = {(r["family"], r["seq_len"]): r["train_step_ms"] for r in ok if r["backend"] == PROJECTIONS}
    return [
        {
            "model": r["model"],
            "seq_len": r["seq_len"],
            "median_ms": r["train_step_ms"],
            "projections_ms": floors[(r["family"], r["seq_len"])],
            "overhead": r["train_step_ms"] / floors[(r["family"], r["seq_len"])],
        }
        for r in ok
        if r["backend"] != PROJECTIONS and (r["family"], r["seq_len"]) in floors
    ]


def print_summary(records: list[dict], ratios: list[dict], out=None) -> None:
    """The speed-ups, projection overheads and scan bandwidths of the run; a figure from a timing
    flagged noisy is marked ``~``, as in the report, and a legend says so."""
    from suite.analysis.tables import is_flag_set
    from suite.report.format import NOISY_MARK

    out = out or sys.stdout

    marked = []

    def mark(noisy) -> str:
        if noisy:
            marked.append(True)
        return NOISY_MARK if noisy else ""

    print("\nspeed-up (times faster; baseline median / model median, same run):", file=out)
    print(f"  {'scope':<6} {'T':>6}  {'model':<16} {'vs':<10} {'speed-up':>9}", file=out)
    for ratio in ratios:
        speedup = f"{mark(is_flag_set(ratio.get('noisy')))}{ratio['speedup']:.2f}x"
        print(
            f"  {ratio['scope']:<6} {ratio['seq_len']:>6}  {ratio['model']:<16} "
            f"{ratio['baseline'] + ' (' + ratio['baseline_backend'] + ')':<10} {speedup:>9}",
            file=out,
        )
    noisy = {(r["model"], r.get("scope"), r["seq_len"]) for r in records if is_flag_set(r.get("timing_noisy"))}
    floors = projection_overheads(records)
    if floors:
        print(
            "\nmixer step over its own input projections (forward + backward; 1.0 = the scan costs nothing):", file=out
        )
        for row in floors:
            either = {
                (row["model"], "mixer", row["seq_len"]),
                (f"{row['model'].partition(':')[0]}:projections", "mixer", row["seq_len"]),
            } & noisy
            overhead = f"{mark(bool(either))}{row['overhead']:.2f}x"
            print(
                f"  T={row['seq_len']:>6}  {row['model']:<16} {overhead:>7}  "
                f"({row['median_ms']:.3g} ms vs {row['projections_ms']:.3g} ms)",
                file=out,
            )
    scans = [r for r in records if r.get("scope") == "scan" and r.get("copy_bytes_per_s")]
    if scans:
        print("\nscan forward bandwidth (projection read + h written) vs a copy of the same bytes:", file=out)
        for record in scans:
            copy = (f"copy:{record['family']}", "scan", record["seq_len"])
            rate = f"{mark(is_flag_set(record.get('timing_noisy')) or copy in noisy)}{record['bytes_per_s'] / 1e9:.2f}"
            print(
                f"  T={record['seq_len']:>6}  {record['model']:<16} {rate:>8} GB/s "
                f"= {record['bytes_per_s'] / record['copy_bytes_per_s']:6.1%} of copy "
                f"({record['copy_bytes_per_s'] / 1e9:.2f} GB/s)",
                file=out,
            )
    if marked:
        print(
            f"\n{NOISY_MARK}: a timing behind the figure was flagged noisy (timing_noisy_reason in its record); "
            "read it as approximate",
            file=out,
        )
    failed = [r for r in records if r["status"] != "ok"]
    for record in failed:
        print(
            f"  {record['scope']:<6} T={record['seq_len']:>6} {record['model']}: {record['status']} "
            f"({record['error']})",
            file=out,
        )


def subjects_of(scope: str, seq_len: int, args, device: str, dtype: str) -> list:
    """What is timed together at one scope and length (a subject that cannot be built is a failed one)."""
    from suite.measure.cell import classify, one_line
    from suite.measure.speed import (
        PROJECTIONS,
        Subject,
        mixer_subject,
        model_subject,
        projections_subject,
        scan_subjects,
    )

    shape = (seq_len, args.batch_size, args.d_model, device, dtype, args.seed)

    def failed(spec: str, error: Exception, **fields):
        return Subject(spec, scope, status=classify(error), error=one_line(error), **fields)

    if scope == "scan":
        try:
            return scan_subjects(*shape)
        except Exception as error:  # OOM while allocating the projections: a record per scan backend
            from models.scans import gated

            return [
                failed(f"{family}:{backend}", error, backend=backend, config={"scope": "scan"})
                for family in ("mingru", "minlstm")
                for backend in gated.BACKENDS
            ]
    subjects = []
    if scope == "mixer":  # each min-RNN family's projections alone: the floor of its step
        families = dict.fromkeys(spec.partition(":")[0] for spec in args.models)
        for family in families:
            if family in ("mingru", "minlstm"):
                try:
                    subjects.append(projections_subject(family, *shape))
                except Exception as error:  # OOM while building
                    subjects.append(
                        failed(
                            f"{family}:{PROJECTIONS}",
                            error,
                            backend=PROJECTIONS,
                            config={"scope": "mixer", "projections_of": family},
                        )
                    )
    for spec in args.models:
        try:
            subjects.append({"mixer": mixer_subject, "model": model_subject}[scope](spec, *shape))
        except Exception as error:  # unavailable backend, OOM while building: a record each
            subjects.append(failed(spec, error))
    return subjects


def new_manifest(args, run_id: str, env: dict, dtype: str) -> dict:
    options = {
        name: getattr(args, name)
        for name in (
            "seq_lens",
            "batch_size",
            "d_model",
            "models",
            "scopes",
            "repeats",
            "warmup",
            "seed",
            "threads",
            "min_time_s",
            "tf32",
        )
    }
    return {
        "run_id": run_id,
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "preset": "bench-speed",
        "environment": env,
        "options": {**options, "dtype": dtype},
        "command": [sys.executable, "-m", "suite", *sys.argv[1:]],
        "status": "running",
    }


def command(args) -> int:
    import torch

    from suite.commands.run_state import check_report_path, report_label, report_path
    from suite.devices import is_cuda
    from suite.measure import environment
    from suite.measure.cell import classify, one_line
    from suite.measure.speed import time_interleaved
    from suite.measure.timing import apply_numerics
    from suite.plan.presets import resolve_dtype
    from suite.records.store import RecordWriter, prepare_run_dir, write_manifest
    from suite.plan.settings import RunContext

    check_arguments(args)
    device = environment.resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    check_fits(args, device)
    run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + "-bench-speed"
    run_dir = Path(args.out) if args.out else REPO_ROOT / "results" / run_id
    if not args.no_report:
        check_report_path(report_path(args, run_id), *report_label(args, run_id), run_dir)
    if args.threads:
        torch.set_num_threads(args.threads)
    apply_numerics(tf32=args.tf32 == "on")  # the numerics of every cell of `suite run`
    run_dir = prepare_run_dir(run_dir)
    env = environment.collect(device)
    context = RunContext(
        run_id=run_id,
        preset="bench-speed",
        git_commit=env["git_commit"],
        hostname=env["hostname"],
        device_name=env["device_name"],
    )
    settings = BenchSettings(dtype, args.batch_size, args.seed, args.warmup, args.repeats, args.min_time_s)
    manifest = new_manifest(args, run_id, env, dtype)
    write_manifest(run_dir, manifest)
    report = "no report" if args.no_report else f"report {report_path(args, run_id)}"
    print(
        f"bench speed {run_id} on {device} ({env['device_name']}), {dtype}, B={args.batch_size} "
        f"D={args.d_model} -> {run_dir} ({report})",
        file=sys.stderr,
    )
    records = []
    try:
        with RecordWriter(run_dir) as writer:
            for seq_len in args.seq_lens:
                for scope in args.scopes:
                    started = time.perf_counter()
                    subjects = subjects_of(scope, seq_len, args, device, dtype)
                    time_interleaved(
                        subjects, device, args.warmup, args.repeats, classify, one_line, min_time_s=args.min_time_s
                    )
                    group = [to_record(subject, seq_len, device, context, settings) for subject in subjects]
                    fill_copy_bandwidth(group)
                    for record in group:
                        writer.append(record)
                    records.extend(group)
                    del subjects
                    if is_cuda(device):
                        torch.cuda.empty_cache()
                    print(f"  T={seq_len:<6} {scope:<5} {time.perf_counter() - started:6.1f} s", file=sys.stderr)
    except KeyboardInterrupt:
        manifest.update(status="interrupted")
        write_manifest(run_dir, manifest)
        print(
            f"interrupted: {len(records)} speed records kept in {shlex.quote(str(run_dir))} (a bench does not "
            "resume: run it again with a new --out)",
            file=sys.stderr,
        )
        return 130
    return finish(args, run_dir, manifest, records)


def finish(args, run_dir: Path, manifest: dict, records: list[dict]) -> int:
    from suite.commands.run_state import finish_run

    ratios = speed_ratios(records)
    print_summary(records, ratios)
    return finish_run(args, run_dir, manifest, speed_ratios=ratios, projection_overheads=projection_overheads(records))
