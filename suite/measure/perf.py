"""Performance cells: how fast and how big, with random weights and no training.

For one model at one length ``T`` and batch ``B`` (random tokens from a fixed
seed, made before any timing):

- **train step** — forward + cross-entropy over all positions + backward +
  AdamW step. ``perf_warmup`` untimed steps (they also allocate the optimizer
  state), then timed steps, at least ``perf_repeats`` and at least
  ``perf_min_time_s`` seconds of them (:func:`suite.measure.timing.time_repeats`);
  ``train_step_ms`` is the median, with ``iqr_ms``, ``min_ms`` and
  ``timing_repeats``, and ``train_tokens_per_s = B * T / median``; every timed step's
  milliseconds in ``train_step_raw_ms`` (``prefill_raw_ms``, ``decode_raw_ms`` and
  ``decode_batch1_raw_ms`` likewise). ``train_peak_mem_bytes``: one step,
  measured by :class:`suite.measure.memory.PhaseMemory` (parameters, gradients kept
  from before, and optimizer state are outside the phase: it is what a step
  needs on top of the model).
- **prefill** — the parallel forward that returns the state (``eval`` mode, no
  grad); same warm-up/repeat scheme; ``prefill_tokens_per_s = B * T / median``,
  ``prefill_iqr_ms``.
- **decode** — prefill ``T`` tokens, then runs of ``decode_tokens`` greedy
  ``step`` calls, each run from the same prefilled state and timed as a whole
  (one untimed run first; at least ``perf_repeats`` runs and
  ``perf_min_time_s`` seconds); a run's time over ``decode_tokens`` is its
  milliseconds per token. ``decode_ms_per_token`` is the median at batch ``B``
  (with ``decode_iqr_ms``), ``decode_ms_per_token_batch1`` at batch 1. Timing
  whole runs rather than single sub-millisecond steps keeps timer and
  allocator jitter out of the spread. On CUDA the same runs are also captured
  in a CUDA graph, checked against the eager tokens and timed as replays
  (:mod:`suite.measure.decode_graph`); the headline decode figures are the
  graph's when it worked at both batches, and ``decode_method`` says which
  method they are (``"cuda_graph"`` or ``"eager"``, always ``"eager"`` on a CPU),
  ``decode_ms_per_token_eager``/``_graph`` (and ``_batch1``) keep both medians,
  ``decode_graph_reason`` why the headline is eager.
- **spread and load** — the host's load around the timed phases and the
  ``timing_noisy`` verdict over the three phases' spreads
  (:func:`suite.measure.timing.noise_fields`; the decode's spread is the headline
  method's). ``decode_peak_mem_bytes`` is the peak while decoding (eager, batch
  ``B``) above the level *before the prefill*, with the prefill's own peak
  forgotten: the state or KV cache that decoding holds plus per-step temporaries.
- **energy** (presets with ``energy``, at ``energy_seq_lens`` when given): joules
  per training token (the train step above, repeated for >= 2 s) and per decoded
  token (``decode_tokens`` greedy eager steps at batch ``B`` from one prefilled state,
  repeated for >= 2 s), idle power subtracted; read from the hardware counter
  (NVML on GPU, RAPL on CPU) or ``None`` with ``energy_reason``. The method is in
  :mod:`suite.measure.energy`; it runs after the timings, so it never changes them.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from suite.measure import energy
from suite.measure.decode_graph import DecodeTimings, graph_decode_timing
from suite.measure.memory import PhaseMemory
from suite.measure.timing import HostActivity, Timing, noise_fields, synchronize, time_repeats
from suite.measure.train import autocast_context
from suite.plan.cells import TimingConfig
from suite.records.schema import ENERGY_NOT_REQUESTED


def random_tokens(vocab_size: int, batch: int, seq_len: int, seed: int, device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (batch, seq_len + 1), generator=generator).to(device)


def _decode_timing(
    model, prompt, decode_tokens: int, device, dtype: str, repeats: dict, memory: PhaseMemory | None = None
) -> Timing:
    """Times of runs of ``decode_tokens`` greedy steps, each run from the same prefilled state
    (a KV cache is overwritten in place, at the same positions; a sliding window's ring buffer
    then holds the previous run's keys: the same work on other values), divided by ``decode_tokens``:
    seconds per token, one value per run."""
    tokens = max(1, decode_tokens)
    with torch.no_grad(), autocast_context(device, dtype):
        logits, prefilled = model(prompt, return_state=True)
        first = logits[:, -1].argmax(-1)
        del logits
        if memory is not None:
            memory.reset_peak()

        def run():
            state, token = prefilled, first
            for _ in range(tokens):
                logits, state = model.step(token, state)
                token = logits.argmax(-1)

        timing = time_repeats(run, device, warmup=1, **repeats)
    return Timing([seconds / tokens for seconds in timing.seconds])


def measure(model, seq_len: int, batch_size: int, seed: int, config: TimingConfig, device: str) -> dict:
    """Every perf metric of the record for one model; see the module docstring."""
    vocab_size = model.vocab_size
    tokens = random_tokens(vocab_size, batch_size, seq_len, seed, device)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    dtype, warmup = config.dtype, config.warmup
    repeats = {"min_repeats": config.repeats, "min_time_s": config.min_time_s or 0.0}
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    model.train()

    def train_step():
        with autocast_context(device, dtype):
            logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, vocab_size).float(), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(max(1, warmup)):
        train_step()
    with PhaseMemory(device) as train_memory:
        train_step()
    with HostActivity() as activity:
        train = time_repeats(train_step, device, warmup=0, **repeats)
        energy_fields = (
            _energy(model, train_step, inputs, config, device)
            if wants_energy(config, seq_len)
            else energy.blank_fields(ENERGY_NOT_REQUESTED)
        )
        optimizer.state.clear()  # free the moments before the inference phases
        model.zero_grad(set_to_none=True)

        model.eval()

        def prefill():
            with torch.no_grad(), autocast_context(device, dtype):
                return model(inputs, return_state=True)

        with PhaseMemory(device) as prefill_memory:
            prefill()
        prefill_timing = time_repeats(prefill, device, warmup=warmup, **repeats)

        with PhaseMemory(device) as decode_memory:
            decode = _decode_timing(model, inputs, config.decode_tokens, device, dtype, repeats, decode_memory)
        decode_batch1 = _decode_timing(model, inputs[:1], config.decode_tokens, device, dtype, repeats)
        decodes = DecodeTimings(
            decode,
            decode_batch1,
            graph_decode_timing(model, inputs, config.decode_tokens, device, dtype, repeats),
            graph_decode_timing(model, inputs[:1], config.decode_tokens, device, dtype, repeats),
        )

    timings = {"train step": train, "prefill": prefill_timing, "decode": decodes.headline[0]}
    memory = {"train": train_memory, "prefill": prefill_memory, "decode": decode_memory}
    return {
        **timing_fields(timings, decodes, batch_size * seq_len),
        **memory_fields(memory),
        **noise_fields(timings, torch.get_num_threads(), activity),
        **energy_fields,
    }


def timing_fields(timings: dict, decodes: DecodeTimings, tokens_per_step: int) -> dict:
    """The train step's and the prefill's timing fields (``timings``) and the decode's, headline and
    both methods' (:meth:`suite.measure.decode_graph.DecodeTimings.fields`)."""
    train, prefill_timing = timings["train step"], timings["prefill"]
    return {
        **train.step_fields(),
        "train_tokens_per_s": tokens_per_step / (train.median_ms / 1000),
        "prefill_tokens_per_s": tokens_per_step / (prefill_timing.median_ms / 1000),
        "prefill_iqr_ms": prefill_timing.iqr_ms,
        "prefill_raw_ms": prefill_timing.raw_ms,
        **decodes.fields(),
    }


def memory_fields(memory: dict) -> dict:
    """``<phase>_peak_mem_bytes`` and ``<phase>_peak_reserved_bytes`` of each phase, and the method."""
    fields = {"peak_mem_method": memory["train"].method}
    for phase, measured in memory.items():
        fields[f"{phase}_peak_mem_bytes"] = measured.peak_bytes
        fields[f"{phase}_peak_reserved_bytes"] = measured.peak_reserved_bytes
    return fields


def wants_energy(config: TimingConfig, seq_len: int) -> bool:
    """Whether energy is measured at ``seq_len``: asked for, at every length or at this one."""
    lengths = config.energy_seq_lens
    return bool(config.energy) and (not lengths or seq_len in lengths)


def _energy(model, train_step, inputs, config: TimingConfig, device: str) -> dict:
    """Energy per training and per decoded token (see the module docstring and :mod:`suite.measure.energy`)."""
    batch, seq_len = inputs.shape
    decode_tokens = max(1, config.decode_tokens)
    model.eval()
    with torch.no_grad(), autocast_context(device, config.dtype):
        logits, prefilled = model(inputs, return_state=True)
        first = logits[:, -1].argmax(-1)
        del logits

    def decode():
        state, token = prefilled, first
        with torch.no_grad(), autocast_context(device, config.dtype):
            for _ in range(decode_tokens):
                logits, state = model.step(token, state)
                token = logits.argmax(-1)

    def train():
        model.train()
        train_step()

    regions = {
        "train_joules_per_token": (train, batch * seq_len),
        "decode_joules_per_token": (lambda: (model.eval(), decode()), batch * decode_tokens),
    }
    fields = energy.measure_energy(device, regions, sync=lambda: synchronize(device))
    model.train()
    return fields
