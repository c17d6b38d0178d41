"""The flags of ``python -m suite run``, in groups: which cells, the preset they are made from,
where and how each cell's process runs, and where the run goes. The flags that define a run
default to None, so that ``--resume`` takes unset ones from the manifest
(:func:`suite.records.manifest.merge_options`); each is a field of
:class:`suite.plan.settings.RunOptions`, validated there once.
"""

from __future__ import annotations

from suite.commands.arguments import csv_ints, csv_list, csv_positive_floats, csv_positive_ints, parse_bytes
from suite.executors import options as executor_options


def add_arguments(run) -> None:
    # Options that define the run default to None here: --resume takes unset ones from the manifest.
    add_cell_arguments(run)
    add_preset_arguments(run)
    add_process_arguments(run)
    add_output_arguments(run)
    executor_options.add_arguments(run)


def add_cell_arguments(run) -> None:
    """Which cells: models, tasks, lengths, learning rates, seeds, kinds."""
    run.add_argument("--models", type=csv_list, default=None, help="all, or specs family[:backend],... (default: all)")
    run.add_argument("--tasks", type=csv_list, default=None, help="all, or task names (default: the preset's)")
    run.add_argument("--seq-lens", type=csv_positive_ints, default=None, help="train lengths of accuracy cells")
    run.add_argument(
        "--train-len",
        type=csv_positive_ints,
        default=None,
        help="one train length for accuracy cells (same as --seq-lens L)",
    )
    run.add_argument(
        "--eval-lens",
        type=csv_positive_ints,
        default=None,
        help="score each trained accuracy cell at these lengths, e.g. 64,128,256,512",
    )
    run.add_argument(
        "--lrs",
        type=csv_positive_floats,
        default=None,
        help="learning rates swept per accuracy cell; the best on the validation stream is kept",
    )
    run.add_argument(
        "--match",
        choices=("width", "params"),
        default=None,
        help="width: the preset's d_model for all (default); params: widths matched on parameters",
    )
    run.add_argument("--perf-seq-lens", type=csv_positive_ints, default=None, help="lengths of perf cells")
    run.add_argument(
        "--perf-repeats",
        type=int,
        default=None,
        help="timed repeats of each perf cell, replacing the preset's (e.g. a quick GPU check)",
    )
    run.add_argument(
        "--tf32",
        choices=("on", "off"),
        default=None,
        help="TF32 for fp32 matmuls and cuDNN on CUDA, set once per cell for every model (default: "
        "the preset's, off for fp32 presets)",
    )
    run.add_argument("--kinds", type=csv_list, default=None, help="accuracy,perf (default: both)")
    run.add_argument("--seeds", type=csv_ints, default=None, help="e.g. 0,1,2 (default: 0)")


def add_preset_arguments(run) -> None:
    """The preset the cells are made from: a name, a file, single fields changed."""
    from suite.plan.presets import PRESETS

    run.add_argument(
        "--preset",
        default=None,
        help=f"one of {', '.join(PRESETS)} (default: cpu, or standard on a GPU; `python -m suite list` describes them)",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="change one preset field, e.g. train_steps=500 or task_params.mqar.num_kv_pairs=8 "
        "(repeatable; see docs/presets.md)",
    )
    run.add_argument(
        "--config",
        default=None,
        metavar="FILE.toml",
        help='the preset from a TOML file of preset fields (base = "cpu" starts from one)',
    )
    run.add_argument("--plugin", action="append", default=None, help="python file registering models/tasks")


def add_process_arguments(run) -> None:
    """Where and how each cell's process runs, and the max-len search."""
    run.add_argument("--device", default=None, help="auto, cpu or cuda[:N] (default: auto)")
    run.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    run.add_argument(
        "--isolation",
        choices=("process", "none"),
        default=None,
        help="process: every cell in its own child (default); none: all in this process",
    )
    run.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: the preset's)")
    run.add_argument("--mem-limit", type=parse_bytes, default=None, help="memory cap per cell's process, e.g. 2GiB")
    run.add_argument(
        "--find-max-len",
        action="store_true",
        default=None,
        help="per model, double the length from --max-len-start until a perf probe fails",
    )
    run.add_argument("--max-len-start", type=int, default=None, help="first length probed (default: 256)")
    run.add_argument("--max-len-limit", type=int, default=None, help="stop doubling past this (default: 1048576)")


def add_output_arguments(run) -> None:
    """Where the run goes (not part of what defines it)."""
    run.add_argument("--out", default=None, help="run directory (default: results/<run_id>)")
    run.add_argument("--resume", action="store_true", help="finish the run in --out: only cells without a record")
    run.add_argument(
        "--report",
        default=None,
        help="report file (default: report.html in --out; without --out, reports/<run_id>.html)",
    )
    run.add_argument("--no-report", action="store_true", help="do not write the HTML report")
