"""The console's closing account of a run: every failed cell with its one-line error, every skipped
model with its reason, every cell the time guard cut; and the exit status it implies."""

import io

from suite.progress import EXIT_CELLS_FAILED, EXIT_OK, Progress


def record(model="mingru", status="ok", error=None, **fields):
    return {
        "model": model,
        "task": "mqar",
        "kind": "accuracy",
        "seq_len": 64,
        "seed": 0,
        "status": status,
        "error": error,
        "train_config": {},
        **fields,
    }


def closed(*cells):
    stream = io.StringIO()
    progress = Progress(len(cells), stream=stream)
    for records in cells:
        progress.start(f"{records[0]['model']} {records[0]['task']}")
        progress.finish(records[0]["status"], records)
    progress.close()
    return progress, stream.getvalue()


def test_a_run_whose_cells_all_have_a_result_exits_0():
    progress, text = closed(
        [record()],
        [record("gru", "oom", "RuntimeError: out of memory")],
        [record("lstm", "nan", "NonFiniteLoss: training loss became nan at step 3")],
    )
    assert progress.exit_status() == EXIT_OK
    assert "3/3 cells in" in text and "1 nan, 1 ok, 1 oom" in text
    assert "oom: gru mqar T=64 seed=0: RuntimeError: out of memory" in text
    assert "nan: lstm mqar T=64 seed=0: NonFiniteLoss" in text


def test_an_error_or_a_timeout_exits_3_and_prints_its_line():
    progress, text = closed([record()], [record(status="error", error="ValueError: Invalid learning rate: -1.0")])
    assert progress.exit_status() == EXIT_CELLS_FAILED
    assert "error: mingru mqar T=64 seed=0: ValueError: Invalid learning rate: -1.0" in text
    progress, text = closed([record(status="timeout", error="no result after 60 s (--cell-timeout)")])
    assert progress.exit_status() == EXIT_CELLS_FAILED and "timeout: mingru" in text


def test_skipped_cells_say_why_once_per_model_and_reason():
    reason = "triton needs a CUDA device; this is cpu"
    progress, text = closed([record("mingru:triton", "skipped", reason)], [record("mingru:triton", "skipped", reason)])
    assert progress.exit_status() == EXIT_OK
    assert text.count(reason) == 1 and "skipped: mingru:triton (2 cells): " + reason in text


def test_a_max_len_probe_that_runs_out_of_memory_or_time_is_not_a_failed_run():
    probe = record(status="timeout", error="no result", task=None, kind="perf", train_config={"probe": "max_len"})
    progress, text = closed([probe])
    assert progress.exit_status() == EXIT_OK and "1 timeout" in text and "no result" not in text


def test_cells_cut_by_the_time_guard_are_named():
    progress, text = closed([record(stop_reason="time_limit", cut_by_time=True, steps_trained=59, time_limit_s=45.0)])
    assert progress.exit_status() == EXIT_OK
    assert "1 cell(s) cut by time, kept out of verdicts" in text
    assert "mingru mqar T=64 seed=0 after 59 steps (time_limit_s=45)" in text
