"""Decode as a CUDA graph (suite.measure.decode_graph), the logic that runs on a CPU: a CPU perf cell is eager
and says why; the method chosen; the fallback when capture raises or the replay's tokens differ, with a
stand-in capture whose replay reruns the steps eagerly into the same output tensors."""

import pytest
import torch

from suite.measure import decode_graph, perf
from suite.measure.cell import run_cell
from suite.measure.decode_graph import EAGER, GRAPH, DecodeTimings, GraphDecode, describe, graph_decode_timing
from suite.measure.timing import Timing
from suite.plan.cells import TimingConfig
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset
from suite.records.schema import PERF_FIELDS, validate
from suite.stacks import build_model

VOCAB = 16
REPEATS = {"min_repeats": 2, "min_time_s": 0.0}
SPECS = ("mingru", "transformer:sdpa", "mingru+transformer:sdpa[window=4]")


def eager_capture(run):
    """A stand-in for capture_cuda_graph: the outputs of one run, rewritten in place by each replay."""
    outputs = run()

    def replay():
        for out, new in zip(outputs, run()):
            out.copy_(new)

    return replay, outputs


def model_of(spec):
    torch.manual_seed(0)
    return build_model(spec, vocab_size=VOCAB, d_model=16, n_layers=1).eval()


def prompt(batch=2, length=8):
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(1))


def test_a_cpu_perf_cell_decodes_eagerly_and_says_why():
    [cell] = build_plan(get_preset("tiny"), models=["mingru"], kinds=("perf",), device="cpu")[:1]
    [record] = run_cell(cell, "cpu")
    assert record["status"] == "ok", record["error"]
    assert validate(record) == [] and set(PERF_FIELDS) <= set(record)
    assert record["decode_method"] == EAGER
    assert record["decode_ms_per_token"] == record["decode_ms_per_token_eager"] > 0
    assert record["decode_ms_per_token_batch1"] == record["decode_ms_per_token_batch1_eager"] > 0
    assert record["decode_ms_per_token_graph"] is None and record["decode_ms_per_token_batch1_graph"] is None
    assert "CUDA graphs need a CUDA device" in record["decode_graph_reason"]


def test_only_cuda_is_tried():
    assert decode_graph.not_captured_reason("cuda:0") is None
    assert "ran on cpu" in decode_graph.not_captured_reason("cpu")
    assert graph_decode_timing(model_of("mingru"), prompt(), 2, "cpu", "float32", REPEATS).timing is None


@pytest.mark.parametrize("spec", SPECS)
def test_a_replay_that_gives_the_eager_tokens_is_timed(spec):
    graph = graph_decode_timing(model_of(spec), prompt(), 5, "cpu", "float32", REPEATS, capture=eager_capture)
    assert graph.reason is None and graph.timing.repeats >= 2 and graph.timing.median_ms > 0


def test_a_capture_that_raises_falls_back_with_the_error_it_started_from():
    def failing(run):
        run()
        try:
            raise RuntimeError("operation not permitted when stream is capturing\nmore detail")
        except RuntimeError:
            raise RuntimeError("CUDA error: operation failed due to a previous error during capture") from None

    graph = graph_decode_timing(model_of("mingru"), prompt(), 3, "cpu", "float32", REPEATS, capture=failing)
    assert graph.timing is None
    assert graph.reason == "capture failed: RuntimeError: operation not permitted when stream is capturing"


def test_a_replay_whose_tokens_differ_falls_back_and_names_the_step():
    def wrong_from_step_2(run):
        replay, outputs = eager_capture(run)

        def corrupt():
            replay()
            outputs[2].add_(1)

        return corrupt, outputs

    graph = graph_decode_timing(model_of("transformer:sdpa"), prompt(), 4, "cpu", "float32", REPEATS, wrong_from_step_2)
    assert graph.timing is None and "differ from eager decode's (first at step 2 of 4)" in graph.reason


def test_describe_is_one_line_and_bounded():
    assert describe(ValueError("first\nsecond")) == "ValueError: first"
    assert describe(ValueError()) == "ValueError"
    assert len(describe(RuntimeError("x" * 1000))) == decode_graph.REASON_CHARS


def test_the_headline_is_the_graph_only_when_both_batches_were_captured():
    eager, eager1, fast, fast1 = (Timing([s]) for s in (0.004, 0.002, 0.001, 0.0005))
    both = DecodeTimings(eager, eager1, GraphDecode(fast), GraphDecode(fast1))
    assert both.method == GRAPH and both.reason is None
    fields = both.fields()
    assert fields["decode_method"] == "cuda_graph"
    assert fields["decode_ms_per_token"] == fields["decode_ms_per_token_graph"] == pytest.approx(1.0)
    assert fields["decode_ms_per_token_batch1"] == fields["decode_ms_per_token_batch1_graph"] == pytest.approx(0.5)
    assert fields["decode_ms_per_token_eager"] == pytest.approx(4.0)
    assert fields["decode_raw_ms"] == [1.0] and fields["decode_batch1_raw_ms"] == [0.5]

    one = DecodeTimings(eager, eager1, GraphDecode(fast), GraphDecode(reason="capture failed: X"))
    assert one.method == EAGER and one.reason == "batch 1: capture failed: X"
    fields = one.fields()
    assert fields["decode_ms_per_token"] == fields["decode_ms_per_token_eager"] == pytest.approx(4.0)
    assert (
        fields["decode_ms_per_token_graph"] == pytest.approx(1.0) and fields["decode_ms_per_token_batch1_graph"] is None
    )
    assert one.headline == (eager, eager1)

    off = DecodeTimings(eager, eager1, GraphDecode(reason="not CUDA"), GraphDecode(reason="not CUDA"))
    assert off.reason == "not CUDA"
    assert set(both.fields()) == set(PERF_FIELDS[PERF_FIELDS.index("decode_method") :][:6]) | {
        "decode_ms_per_token",
        "decode_ms_per_token_batch1",
        "decode_iqr_ms",
        "decode_raw_ms",
        "decode_batch1_raw_ms",
    }


def test_a_perf_cell_whose_capture_works_heads_with_the_graph(monkeypatch):
    def captured(*args, **kwargs):
        return graph_decode_timing(*args, **kwargs, capture=eager_capture)

    monkeypatch.setattr(perf, "graph_decode_timing", captured)
    config = TimingConfig(dtype="float32", warmup=1, repeats=3, decode_tokens=3, lr=1e-3)
    fields = perf.measure(model_of("mingru+transformer:sdpa"), 8, 2, 0, config, "cpu")
    assert fields["decode_method"] == GRAPH and fields["decode_graph_reason"] is None
    assert fields["decode_ms_per_token"] == fields["decode_ms_per_token_graph"] > 0
    assert fields["decode_ms_per_token_batch1"] == fields["decode_ms_per_token_batch1_graph"] > 0
    assert fields["decode_ms_per_token_eager"] > 0 and fields["decode_ms_per_token_batch1_eager"] > 0
    assert len(fields["decode_raw_ms"]) >= 3


def test_a_perf_cell_whose_capture_fails_stays_eager(monkeypatch):
    def broken(run):
        raise RuntimeError("captured a host sync")

    def failing(*args, **kwargs):
        return graph_decode_timing(*args, **kwargs, capture=broken)

    monkeypatch.setattr(perf, "graph_decode_timing", failing)
    config = TimingConfig(dtype="float32", warmup=1, repeats=2, decode_tokens=2, lr=1e-3)
    fields = perf.measure(model_of("mingru"), 8, 2, 0, config, "cpu")
    assert fields["decode_method"] == EAGER
    assert fields["decode_graph_reason"] == "capture failed: RuntimeError: captured a host sync"
    assert fields["decode_ms_per_token"] == fields["decode_ms_per_token_eager"]
