"""What process isolation costs per cell: a forkserver child that does nothing.
A benchmark (pytest-benchmark), not a timed assertion: run with
``pytest tests/benchmarks --benchmark-only`` and read the median."""

from suite.executors.isolated import call_in_child
from suite.plan.settings import ChildSettings, RunContext


def do_nothing():
    return 1


def test_isolated_child_round_trip(benchmark):
    call_in_child(do_nothing, (), ChildSettings(), 60)  # start the forkserver outside the measurement
    result, failure = benchmark.pedantic(
        call_in_child, args=(do_nothing, (), ChildSettings(), 60), rounds=20, iterations=1
    )
    assert failure is None and result == 1


def test_overhead_per_cell_over_the_smoke_plan(benchmark):
    """Driver-side time of each smoke cell minus the time the cell itself reports
    (``wall_s``): what the child process adds. The median lands in extra_info."""
    import statistics
    import time

    from suite.measure.cell import run_cell
    from suite.plan.planning import build_plan
    from suite.plan.presets import get_preset

    cells = build_plan(get_preset("smoke"), kinds=("perf",), perf_seq_lens=[64])
    overheads = []

    def run_plan():
        for cell in cells:
            start = time.perf_counter()
            records, failure = call_in_child(
                run_cell, (cell, "cpu", RunContext(run_id="benchmark")), ChildSettings(), 120
            )
            record = (records or [None])[0]
            assert failure is None and record["status"] == "ok", failure or record["error"]
            overheads.append(time.perf_counter() - start - record["wall_s"])

    benchmark.pedantic(run_plan, rounds=1, iterations=1)
    benchmark.extra_info["median_overhead_s"] = statistics.median(overheads)
    benchmark.extra_info["cells"] = len(overheads)
    assert len(overheads) == len(cells)
