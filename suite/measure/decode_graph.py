"""Decode timed as a CUDA graph: per-token decode without the Python and kernel-launch overhead.

At a small batch on a GPU, one greedy ``step`` is a few dozen small kernels, and the Python that
launches them takes longer than they run: a Python loop times the interpreter more than the
model. On CUDA a perf cell therefore also captures its decode in a CUDA graph
(``torch.cuda.CUDAGraph``) and times the graph's replays, beside the eager loop it always times
(:func:`suite.measure.perf._decode_timing`). The record's headline decode figures
(``decode_ms_per_token``, ``decode_ms_per_token_batch1``, ``decode_iqr_ms``, ``decode_raw_ms``,
``decode_batch1_raw_ms``) are the graph's when both batches were captured and checked, else the
eager loop's; ``decode_method`` says which (``"cuda_graph"`` or ``"eager"``). Both methods'
medians are kept (``decode_ms_per_token_eager``, ``decode_ms_per_token_graph`` and their
``_batch1`` twins) and ``decode_graph_reason`` says why the headline is not the graph's.

What is captured
    One run of ``decode_tokens`` greedy steps from the prefilled state, the run the eager timing
    repeats, as one graph (not one graph per token). A transformer's cache position is a Python
    int: each step slices and writes its KV cache at the next position, so a one-token graph
    could not be replayed at the next token; a run always starts from the same prefilled state
    at the same positions, so the whole run is the same kernels on the same buffers at every
    replay. The prefilled state and the first token are the graph's static inputs (made before
    the capture and kept alive with it); a KV cache is written in place, as in eager decode;
    recurrent states are new tensors in the graph's private memory pool, at the same addresses
    at every replay. A run's time over ``decode_tokens`` is its milliseconds per token.
How
    As PyTorch's CUDA-graph docs prescribe: the eager run first (it gives the reference tokens),
    warm-up runs on a side stream (lazy initialisation, library handles, kernel choices, the
    autocast cache of bf16 weight copies), then the capture (``torch.cuda.graph``) on a fresh
    stream. Under bf16 autocast the captured kernels read the bf16 weight copies the warm-up
    cached, so the graph is captured, checked, timed and dropped inside the one autocast region
    that made them (the cache is freed when the region ends).
Checked
    One replay's greedy tokens must equal the eager run's, token for token, at every step, both
    from the prefilled state as it was after the prefill. Runs that write the state in place do
    not all start from the same values: a sliding window's ring buffer holds the previous run's
    keys by the next run (the same work on other values, which is all a timing needs), so the
    state's tensors are copied after the prefill and written back before the checked replay.
Falls back
    to eager for that cell, with the reason in ``decode_graph_reason``, never silently: off CUDA
    (a CPU cell is always eager); when the capture raises (a step that synchronises with the
    host, such as ``.item()``, Python control flow on a tensor's value, an operation CUDA graphs
    do not support, no memory for the graph); or when the replay's tokens differ from eager's.
    The headline is the graph's only when batch B and batch 1 both passed, so its two figures
    are always of one method.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from suite.devices import is_cuda
from suite.measure.timing import Timing, synchronize, time_repeats
from suite.measure.train import autocast_context

GRAPH, EAGER = "cuda_graph", "eager"  # the values of decode_method
WARMUP_RUNS = 3  # side-stream runs before the capture (PyTorch's docs warm up with a few iterations)
REASON_CHARS = 300  # a capture error is cut to this many characters in the record


@dataclass
class GraphDecode:
    """The graph timing of one batch's decode: per-token seconds, or None with the reason why not."""

    timing: Timing | None = None
    reason: str | None = None


def not_captured_reason(device) -> str | None:
    """Why a decode on ``device`` is not even tried as a CUDA graph (None: it is tried)."""
    if not is_cuda(device):
        return f"eager only: CUDA graphs need a CUDA device, this cell ran on {device}"
    return None


def capture_cuda_graph(run):
    """``run()`` (greedy steps returning the token tensors) warmed up on a side stream and captured in a
    CUDA graph: ``(replay, outputs)``, ``outputs`` the tensors one replay rewrites. Raises whatever the
    capture raises."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(WARMUP_RUNS):
            run()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    # A fresh capture stream each time, and the caller's stream restored by the outer context even
    # when a failed capture leaves torch.cuda.graph's own stream context unclosed.
    with torch.cuda.stream(torch.cuda.current_stream()):
        with torch.cuda.graph(graph, stream=torch.cuda.Stream()):
            outputs = run()
    return graph.replay, outputs


def graph_decode_timing(
    model, prompt, decode_tokens: int, device, dtype: str, repeats: dict, capture=None
) -> GraphDecode:
    """The CUDA-graph timing of ``decode_tokens`` greedy steps after prefilling ``prompt`` (see the module
    docstring): per-token seconds of each timed replay, or the reason there are none. ``capture``
    replaces :func:`capture_cuda_graph` (tests give a stand-in that runs on the CPU)."""
    if capture is None:
        reason = not_captured_reason(device)
        if reason is not None:
            return GraphDecode(reason=reason)
        capture = capture_cuda_graph
    tokens = max(1, decode_tokens)
    with torch.no_grad(), autocast_context(device, dtype):
        logits, prefilled = model(prompt, return_state=True)
        first = logits[:, -1].argmax(-1)
        del logits

        def run() -> list:
            state, token, out = prefilled, first, []
            for _ in range(tokens):
                logits, state = model.step(token, state)
                token = logits.argmax(-1)
                out.append(token)
            return out

        written = state_tensors(prefilled)
        pristine = [tensor.clone() for tensor in written]
        expected = torch.stack(run(), dim=1)
        try:
            replay, outputs = capture(run)
            restore(written, pristine)
            replay()
            synchronize(device)
        except Exception as error:  # any failure to capture means eager, with the reason
            _settle(device)
            return GraphDecode(reason=f"capture failed: {describe(error)}")
        del pristine
        mismatch = first_difference(torch.stack(outputs, dim=1), expected)
        if mismatch is not None:
            return GraphDecode(
                reason=f"graph replay's greedy tokens differ from eager decode's (first at step {mismatch} of {tokens})"
            )
        timing = time_repeats(replay, device, warmup=1, **repeats)
        del replay, outputs  # the graph and its memory pool go before the autocast cache it reads
    return GraphDecode(timing=Timing([seconds / tokens for seconds in timing.seconds]))


def state_tensors(state) -> list:
    """Every tensor of a decode state (per-layer lists, tuples and named tuples, dicts, dataclasses)."""
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, dict):
        values = state.values()
    elif isinstance(state, (list, tuple)):
        values = state
    elif dataclasses.is_dataclass(state) and not isinstance(state, type):
        values = [getattr(state, field.name) for field in dataclasses.fields(state)]
    else:
        return []
    return [tensor for value in values for tensor in state_tensors(value)]


def restore(tensors: list, saved: list) -> None:
    """Write ``saved`` back into ``tensors`` in place (their addresses, which a graph reads, unchanged)."""
    for tensor, copy in zip(tensors, saved):
        tensor.copy_(copy)


def first_difference(got: torch.Tensor, expected: torch.Tensor) -> int | None:
    """The first step (column of ``[B, steps]`` token tensors) where the two differ, None when equal."""
    if got.shape != expected.shape:
        return 0
    differs = (got != expected).any(dim=0).nonzero()
    return int(differs[0]) if len(differs) else None


def describe(error: BaseException) -> str:
    """One line naming the error a failed capture started from (the capture's own exit error that
    followed it, if any, is the consequence)."""
    root, seen = error, {id(error)}
    while root.__context__ is not None and id(root.__context__) not in seen:
        root = root.__context__
        seen.add(id(root))
    text = str(root).strip().splitlines()
    line = f"{type(root).__name__}: {text[0]}" if text else type(root).__name__
    return line[:REASON_CHARS]


def _settle(device) -> None:
    """After a failed capture: let queued work finish; a device left unusable shows in the next phase."""
    try:
        synchronize(device)
    except Exception:  # the capture's error is the one recorded
        pass


@dataclass
class DecodeTimings:
    """A perf cell's decode timings, eager and graph, at batch B and batch 1, and the headline they give."""

    eager: Timing
    eager_batch1: Timing
    graph: GraphDecode
    graph_batch1: GraphDecode

    @property
    def method(self) -> str:
        """``cuda_graph`` when both batches were captured and checked, else ``eager``."""
        return GRAPH if self.graph.timing is not None and self.graph_batch1.timing is not None else EAGER

    @property
    def headline(self) -> tuple[Timing, Timing]:
        """The timings behind the record's headline decode figures: (batch B, batch 1)."""
        if self.method == GRAPH:
            return self.graph.timing, self.graph_batch1.timing
        return self.eager, self.eager_batch1

    @property
    def reason(self) -> str | None:
        """Why the headline is not the graph's (None when it is)."""
        if self.method == GRAPH:
            return None
        reasons = {"batch B": self.graph.reason, "batch 1": self.graph_batch1.reason}
        found = {where: reason for where, reason in reasons.items() if reason}
        if len(set(found.values())) == 1 and len(found) == len(reasons):
            return next(iter(found.values()))
        return "; ".join(f"{where}: {reason}" for where, reason in found.items()) or None

    def fields(self) -> dict:
        """The record's decode timing fields (see the module docstring and ``suite.records.schema``)."""
        decode, batch1 = self.headline
        return {
            "decode_method": self.method,
            "decode_ms_per_token": decode.median_ms,
            "decode_ms_per_token_batch1": batch1.median_ms,
            "decode_iqr_ms": decode.iqr_ms,
            "decode_raw_ms": decode.raw_ms,
            "decode_batch1_raw_ms": batch1.raw_ms,
            "decode_ms_per_token_eager": self.eager.median_ms,
            "decode_ms_per_token_batch1_eager": self.eager_batch1.median_ms,
            "decode_ms_per_token_graph": _median_ms(self.graph),
            "decode_ms_per_token_batch1_graph": _median_ms(self.graph_batch1),
            "decode_graph_reason": self.reason,
        }


def _median_ms(graph: GraphDecode) -> float | None:
    return None if graph.timing is None else graph.timing.median_ms
