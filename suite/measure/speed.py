"""The speed benchmark's measurements: training steps timed interleaved, and scan bandwidth.

What is timed
-------------
One *training step* without the optimizer: forward, a loss, backward.

- ``scope = "mixer"``: one sequence-mixing layer alone, input ``x[B, T, D]``
  with ``requires_grad`` (a layer below would need ``dL/dx``) and the loss
  ``<out, dout>`` for a fixed random ``dout``: ``out.backward(dout)``, as
  kernel benchmarks time a layer, so no elementwise pass of a loss is added to
  every subject's time. The recurrent families run at **equal hidden width**
  ``d_h = D``: ``nn.GRU(D, D)``/``nn.LSTM(D, D)``, and minGRU/minLSTM with
  ``expansion = 1``, so a ratio compares recurrences, not a width choice.
  Mamba, Mamba-2 and the Transformer run their default layer.
- ``scope = "model"``: the whole language model the suite trains (embedding,
  ``n_layers`` blocks with their MLPs, head), family defaults, cross-entropy
  on random tokens.

Every subject of one (scope, length) is built and warmed up (``warmup``
untimed steps each) before any timing; then rounds each time one step of
every subject in turn (A B C … A B C …), so a slow drift of the machine
(another process, a clock change) hits every subject alike. A subject stays
in the rounds until it has at least ``repeats`` times summing to at least
``min_time_s`` (the adaptive rule of :func:`suite.measure.timing.time_repeats`): a
1 s loop step is timed ``repeats`` times, a 2 ms scan step enough times for a
stable median. Each step is timed alone by :func:`suite.measure.timing.time_once`
(CUDA events on CUDA). Reported: the median, the inter-quartile range
(``iqr_ms``, 75th minus 25th percentile), the minimum and the count, with the
host's load over the group and the ``timing_noisy`` verdict
(:func:`suite.measure.timing.noise_fields`).

Scan bandwidth (``scope = "scan"``)
-----------------------------------
For each min-RNN scan backend: the forward of the scan alone on a ready
projection ``[B, T, (2|3) D]`` in the step's dtype (bfloat16 on CUDA,
float32 on CPU), no autograd. Its floor is one read of the projection and one
write of ``h`` (float32): ``bytes_per_s = (projection bytes + h bytes) /
median``. In the same run, interleaved with it, a device-to-device copy
moving the same number of bytes (a buffer of half that size, read once and
written once) gives ``copy_bytes_per_s``; their ratio is the fraction of
copy bandwidth the scan reaches.

The bytes are those the backend's kernels actually move where it is one
kernel pipeline (``bytes_counted = "kernel"``): the Triton forward reads the
projection twice (a chunk-summary pass, then the pass that writes ``h``),
writes ``h`` once, and writes and reads its per-chunk summaries (the last
state and decay of every chunk, and the carried state entering it). For
``linear`` and ``log``, which run as many separate torch operations, the
floor is counted (``bytes_counted = "floor"``): their ratio to copy is an
effective bandwidth, not a kernel's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable

import torch
from torch.nn import functional as F

from suite.devices import is_cuda
from suite.measure.timing import HostActivity, Timing, noise_fields, synchronize, time_once
from suite.registry import build_model, resolve_backend
from suite.measure.train import autocast_context

EQUAL_WIDTH_OPTIONS = {"mingru": {"expansion": 1.0}, "minlstm": {"expansion": 1.0}}
MODEL_VOCAB_SIZE = 64
MODEL_LAYERS = 2


@dataclass
class Subject:
    """One thing to time: ``step()`` runs one timed unit; ``seconds`` collects the times."""

    spec: str
    scope: str
    step: Callable[[], None] | None = None
    backend: str | None = None
    params: int | None = None
    state_bytes: int | None = None
    config: dict = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None
    timing: Timing = field(default_factory=Timing)
    bytes_moved: int | None = None
    describe: Callable[[], str] | None = None  # the backend as it ran, read again after timing
    noise: dict = field(default_factory=dict)  # suite.measure.timing.noise_fields of its group


def mixer_options(family, seq_len: int) -> dict:
    """The options a mixer-scope subject of ``family`` (a registry family) is built with: its
    defaults at equal hidden width, a KV cache of ``seq_len``, unset ones left out. The plan of a
    unit (:mod:`suite.measure.speed_units`) records the same, so a record says what was built."""
    options = {**family.defaults, **EQUAL_WIDTH_OPTIONS.get(family.name, {})}
    if "max_seq_len" in options:
        options["max_seq_len"] = seq_len
    return {key: value for key, value in options.items() if value is not None}


def model_options(family, seq_len: int) -> dict:
    """The options a model-scope subject of ``family`` is built with beyond its defaults."""
    return {"max_seq_len": seq_len} if "max_seq_len" in family.defaults else {}


def mixer_subject(spec: str, seq_len: int, batch: int, d_model: int, device: str, dtype: str, seed: int) -> Subject:
    family, backend = resolve_backend(spec, device)
    options = mixer_options(family, seq_len)
    torch.manual_seed(seed)
    mixer = family.make_mixer(d_model, backend, 0, **options).to(device)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, seq_len, d_model, generator=generator).to(device).requires_grad_()
    upstream = torch.randn(batch, seq_len, d_model, generator=generator).to(device)

    def step():
        x.grad = None
        mixer.zero_grad(set_to_none=True)
        with autocast_context(device, dtype):
            out = mixer(x)
        out.backward(upstream.to(out.dtype))

    state = mixer.state_elements(seq_len)
    return Subject(
        spec,
        "mixer",
        step,
        backend=str(mixer.backend),
        describe=lambda: str(mixer.backend),
        params=sum(p.numel() for p in mixer.parameters()),
        state_bytes=4 * state if state is not None else None,
        config={"d_model": d_model, "n_layers": 1, "options": options, "scope": "mixer"},
    )


PROJECTIONS = "projections"  # the backend name of a min-RNN mixer's input projections timed alone


def projections_subject(
    family_name: str, seq_len: int, batch: int, d_model: int, device: str, dtype: str, seed: int
) -> Subject:
    """The input projections of a min-RNN mixer at mixer scope, alone: the same ``F.linear`` per
    gate (forward and backward, same input and upstream gradient) without the scan, the floor a
    mixer step cannot go below. ``<family>:<backend>`` over this is what the scan adds."""
    width = 2 if family_name == "mingru" else 3
    torch.manual_seed(seed)
    weight = torch.nn.Linear(d_model, width * d_model, bias=False).weight.to(device).requires_grad_()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, seq_len, d_model, generator=generator).to(device).requires_grad_()
    upstream = torch.randn(batch, seq_len, d_model, generator=generator).to(device)

    def step():
        x.grad = weight.grad = None
        with autocast_context(device, dtype):
            outputs = [F.linear(x, rows) for rows in weight.split(d_model)]
        torch.autograd.backward(outputs, [upstream.to(out.dtype) for out in outputs])

    return Subject(
        f"{family_name}:{PROJECTIONS}",
        "mixer",
        step,
        backend=PROJECTIONS,
        params=weight.numel(),
        config={"d_model": d_model, "n_layers": 1, "scope": "mixer", "projections_of": family_name},
    )


def model_subject(spec: str, seq_len: int, batch: int, d_model: int, device: str, dtype: str, seed: int) -> Subject:
    family, _ = resolve_backend(spec, device)
    options = model_options(family, seq_len)
    torch.manual_seed(seed)
    model = build_model(
        spec, vocab_size=MODEL_VOCAB_SIZE, d_model=d_model, n_layers=MODEL_LAYERS, device=device, **options
    )
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, MODEL_VOCAB_SIZE, (batch, seq_len + 1), generator=generator).to(device)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]

    def step():
        model.zero_grad(set_to_none=True)
        with autocast_context(device, dtype):
            logits = model(inputs)
        F.cross_entropy(logits.reshape(-1, MODEL_VOCAB_SIZE).float(), targets.reshape(-1)).backward()

    return Subject(
        spec,
        "model",
        step,
        backend=str(model.backend),
        describe=lambda: str(model.backend),
        params=model.num_params(),
        state_bytes=model.state_bytes(1, seq_len),
        config={
            "d_model": d_model,
            "n_layers": MODEL_LAYERS,
            "vocab_size": MODEL_VOCAB_SIZE,
            "options": options,
            "scope": "model",
        },
    )


def scan_subjects(seq_len: int, batch: int, d_model: int, device: str, dtype: str, seed: int) -> list[Subject]:
    """Every min-RNN scan backend's forward, plus the copy of the same bytes."""
    from models.scans import gated, linear_space

    element = getattr(torch, scan_input_dtype(dtype).removeprefix("torch."))
    subjects = []
    for family, width in SCAN_FAMILIES:
        generator = torch.Generator().manual_seed(seed)
        projection = torch.randn(batch, seq_len, width * d_model, generator=generator).to(device=device, dtype=element)
        moved = projection.numel() * projection.element_size() + batch * seq_len * d_model * 4
        for backend in gated.BACKENDS:
            counted = "kernel" if backend == "triton" else "floor"
            subject = Subject(
                f"{family}:{backend}",
                "scan",
                backend=backend,
                bytes_moved=moved,
                config={
                    "d_model": d_model,
                    "hidden": d_model,
                    "input_dtype": str(element),
                    "scope": "scan",
                    "bytes_counted": counted,
                },
            )
            reason = gated.probe(backend, device)
            if reason:
                subject.status, subject.error = "skipped", reason
            else:
                kind = "gru" if family == "mingru" else "lstm"
                if backend == "linear":  # fed one contiguous tensor per gate, as its mixer does
                    pieces = [piece.contiguous() for piece in projection.split(d_model, dim=-1)]
                    subject.step = _no_grad(lambda p=pieces: linear_space.gated_scan(None, *p))
                else:
                    subject.step = _no_grad(
                        lambda b=backend, p=projection, k=kind: gated.scan_projection(b, p, None, d_model, k)
                    )
                if counted == "kernel":
                    subject.bytes_moved = triton_forward_bytes(projection, d_model)
            subjects.append(subject)
        source = torch.empty(moved // 2, dtype=torch.uint8, device=device)
        target = torch.empty_like(source)
        subjects.append(
            Subject(
                f"copy:{family}",
                "scan",
                _no_grad(lambda s=source, t=target: t.copy_(s)),
                backend="copy",
                bytes_moved=2 * source.numel(),
                config={"d_model": d_model, "scope": "scan", "copy_of": family},
            )
        )
    return subjects


def scan_input_dtype(dtype: str) -> str:
    """The element type of a scan subject's projection, as records name it: the step's (bfloat16
    under bfloat16 autocast, else float32)."""
    return "torch.bfloat16" if dtype.startswith("bfloat16") else "torch.float32"


SCAN_FAMILIES = (("mingru", 2), ("minlstm", 3))  # each min-RNN family and its projection's width in D


def triton_forward_bytes(projection: torch.Tensor, hidden: int) -> int:
    """What the Triton forward moves (see the module docstring): the projection read twice,
    ``h`` written once in float32, and per chunk the last state and decay (written, read) and
    the carried state (written, read), each ``[B, H]`` in float32."""
    from models.scans.triton_scan import CHUNK  # a constant: importing it needs triton, not CUDA

    batch, seq_len = projection.shape[:2]
    chunks = -(-seq_len // CHUNK)
    return (
        2 * projection.numel() * projection.element_size()
        + 4 * batch * seq_len * hidden
        + 3 * 2 * 4 * batch * chunks * hidden
    )


def _no_grad(fn):
    def run():
        with torch.no_grad():
            fn()

    return run


def time_interleaved(
    subjects: list[Subject],
    device: str,
    warmup: int,
    repeats: int,
    classify: Callable[[BaseException], str],
    one_line: Callable[[BaseException], str],
    min_time_s: float = 0.0,
    max_repeats: int = 1000,
) -> None:
    """Warm every runnable subject up, then time them round-robin; see the module docstring.
    A subject that fails gets its status and error and leaves the rounds; the others go on."""
    live = [subject for subject in subjects if subject.status == "ok"]

    def attempt(subject, timed: bool) -> bool:
        try:
            seconds = time_once(subject.step, device)
            if timed:
                subject.timing.seconds.append(seconds)
            return True
        except Exception as error:  # OOM at a long length is a result, not a crash of the bench
            subject.status, subject.error, subject.step = classify(error), one_line(error), None
            if is_cuda(device):
                torch.cuda.empty_cache()
            return False

    def wants_more(subject) -> bool:
        return subject.status == "ok" and subject.timing.wants_more(repeats, min_time_s, max_repeats)

    for subject in live:
        for _ in range(warmup):
            if not attempt(subject, timed=False):
                break
    synchronize(device)
    with HostActivity() as activity:
        while any(wants_more(subject) for subject in live):
            for subject in live:
                if wants_more(subject):
                    attempt(subject, timed=True)
    for subject in live:
        if subject.describe is not None and subject.status == "ok":
            subject.backend = subject.describe()  # kernels are picked per call: name the one that ran
        if subject.timing.repeats:
            subject.noise = noise_fields({"step": subject.timing}, torch.get_num_threads(), activity)
