"""What process isolation costs per cell: a forkserver child that does nothing.
A benchmark (pytest-benchmark), not a timed assertion: run with
``pytest tests/benchmarks --benchmark-only`` and read the median."""
from suite.executors.isolated import call_in_child


def do_nothing():
    return 1


def test_isolated_child_round_trip(benchmark):
    call_in_child(do_nothing, (), {}, 60)  # start the forkserver outside the measurement
    result, failure = benchmark.pedantic(call_in_child, args=(do_nothing, (), {}, 60), rounds=20, iterations=1)
    assert failure is None and result == 1
