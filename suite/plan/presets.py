"""Named run settings. A preset fixes everything a run needs except what the
command line overrides (models, tasks, lengths, seeds, device).

- ``tiny``: for the test suite, a few seconds for every model × task.
- ``smoke``: CI-sized, every family × the three recall tasks in under a minute on 2 cores.
- ``cpu``: what ``suite run`` uses on a CPU when no preset is named; ≤ 10 min on
  2 cores, long enough that the families separate on recall.
- ``cpu-full``: 20–30 min on 2 cores; more steps, more lengths.
- ``cpu-state``: state tracking (parity, cycle-nav, S5) for every family,
  trained at 32 and scored at 32, 64 and 128; run it with ``--seeds 0,1,2``.
- ``recall-sweep``: MQAR over widths and numbers of key-value pairs, for the
  accuracy-vs-state-size figure.
- ``mqar-zoology-cpu``: MQAR at Zoology's vocabulary (8192), where a queried key
  almost never recurs in the filler (0.04% of queries, against 28% at the
  ``cpu`` preset's 32): the regime published MQAR numbers come from.
- ``hybrid-cpu``: four-layer stacks mixing minGRU (or Mamba) with one or two attention layers,
  full or sliding-window, on Zoology-regime MQAR and selective copying (:data:`HYBRID_MODELS`).
- ``standard``: the GPU preset (bf16 autocast, longer sequences, more steps).
- ``paper-speed``, ``paper-memory``, ``paper-selective-copy`` and their ``-cpu``
  variants: Feng et al. 2024's settings where the paper states them, for the
  report's "paper vs measured" section (see :data:`PAPER_PRESETS`).
- ``paper-shakespeare``, ``shakespeare-cpu``, ``fashion-mnist-cpu``: real data, character-level
  language modelling and sequential Fashion-MNIST, for the report's "Real data" section (see
  :data:`REAL_DATA_PRESETS`).
"""

from __future__ import annotations

from suite.devices import is_cuda
from suite.errors import UsageError
from suite.naming import did_you_mean
from suite.plan.paper_presets import PAPER_PRESETS
from suite.plan.preset_checks import DEVICES, DTYPES, LR_SCHEDULES, PresetValueError
from suite.plan.preset_groups import CPU_FAMILY_LR, STATE_FAMILY_LR, Preset
from suite.plan.real_data_presets import REAL_DATA_PRESETS

__all__ = [
    "DEVICES",
    "DTYPES",
    "LR_SCHEDULES",
    "PAPER_PRESETS",
    "PRESETS",
    "Preset",
    "PresetValueError",
    "REAL_DATA_PRESETS",
]

# The hybrid preset's stacks (suite.stacks), four layers each, bottom first: the two pure stacks, one attention
# layer at the bottom, in the middle (position 2) and on top, two attention layers (positions 1 and 3, the
# alternation of Jamba and Based), one sliding-window layer in the middle at two windows, and Mamba with one
# attention layer in the middle. The cells run in this order (each task's cells in turn), and it is chosen only
# so that two workers finish together: Mamba's hybrid is the slowest cell on a CPU (~0.7 s a step on MQAR) and
# comes first, the long selective-copy cells (attention at the bottom, the windows) early in their task. The
# report orders stacks by their structure, not by this list.
HYBRID_MODELS = (
    "mamba*2+transformer+mamba",
    "mingru*2+transformer[window=8]+mingru",
    "mingru*2+transformer+mingru",
    "transformer+mingru*3",
    "mingru+transformer+mingru+transformer",
    "transformer*4",
    "mingru*2+transformer[window=32]+mingru",
    "mingru*4",
    "mingru*3+transformer",
)
# Pure attention at four layers learns MQAR at vocabulary 8192 at 1e-3 (flat near chance for ~1200 steps,
# 60% at step 2000, 85% at 3400), not at the stacks' 3e-3 (2% at step 2000, 23% at 4367): one seed each,
# docs/results.md#hybrid-stacks-on-a-cpu. The minGRU stack with attention in the middle stays at chance at
# both rates.
HYBRID_LR = {"transformer*4": 1e-3}

PRESETS = {
    "tiny": Preset(
        name="tiny",
        description="for tests: every model x task in seconds, nothing learned",
        d_model=16,
        n_layers=1,
        mlp_mult=1,
        family_options={"mamba2": {"headdim": 8}, "transformer": {"n_heads": 2}},
        task_params={
            "mqar": {"vocab_size": 32, "num_kv_pairs": 2},
            "selective-copy": {"num_data_tokens": 2},
            "needle": {"vocab_size": 32},
        },
        seq_lens=(32,),
        train_steps=2,
        batch_size=4,
        warmup_steps=1,
        eval_batches=1,
        eval_batch_size=4,
        perf_seq_lens=(32,),
        perf_batch_size=2,
        perf_repeats=1,
        perf_warmup=1,
        decode_tokens=2,
        perf_min_time_s=0.0,
        perf_vocab_size=32,
        perf_extra_models=(),
        cell_timeout_s=60,
    ),
    "smoke": Preset(
        name="smoke",
        description="CI-sized: every family on the three recall tasks (mqar, selective-copy, needle) "
        "and perf at T 64 and 256, under a minute on 2 CPU cores",
        d_model=32,
        n_layers=2,
        family_options={"mamba2": {"headdim": 16}},
        task_params={
            "mqar": {"vocab_size": 64, "num_kv_pairs": 4},
            "selective-copy": {"num_data_tokens": 4},
            "needle": {"vocab_size": 64},
        },
        seq_lens=(64,),
        train_steps=15,
        batch_size=16,
        warmup_steps=3,
        eval_batches=1,
        eval_batch_size=32,
        eval_every=5,
        perf_seq_lens=(64, 256),
        perf_batch_size=4,
        perf_repeats=3,
        decode_tokens=8,
        perf_extra_models=(),
        perf_min_time_s=0.0,
        cell_timeout_s=120,
    ),
    "cpu": Preset(
        name="cpu",
        description="the CPU default: about 10 minutes on 2 cores, families separate on recall",
        d_model=64,
        n_layers=2,
        family_options={"mamba2": {"headdim": 32}},
        task_params={
            "mqar": {"vocab_size": 32, "num_kv_pairs": 4},
            "selective-copy": {"num_data_tokens": 8},
            "needle": {"vocab_size": 64, "num_distractor_pairs": 4, "num_queries": 4},
        },
        seq_lens=(64,),
        task_seq_lens={"needle": (128,)},
        eval_len_multiples=(1, 2, 4),
        train_steps=250,
        batch_size=32,
        lr=3e-3,
        family_lr=CPU_FAMILY_LR,
        warmup_steps=25,
        eval_batches=4,
        eval_batch_size=64,
        eval_every=25,
        patience=6,
        min_delta=0.01,
        target_accuracy=0.99,
        perf_seq_lens=(128, 512, 2048),
        perf_batch_size=8,
        perf_repeats=5,
        decode_tokens=32,
    ),
    "cpu-full": Preset(
        name="cpu-full",
        description="20-30 minutes on 2 CPU cores: harder recall, two lengths per task",
        d_model=64,
        n_layers=2,
        family_options={"mamba2": {"headdim": 32}},
        task_params={
            "mqar": {"vocab_size": 64, "num_kv_pairs": 8},
            "selective-copy": {"num_data_tokens": 8},
            "needle": {"vocab_size": 64, "num_distractor_pairs": 4, "num_queries": 4},
        },
        seq_lens=(64, 128),
        task_seq_lens={"mqar": (64,), "needle": (128, 256)},
        train_steps=300,
        batch_size=32,
        task_train={"mqar": {"train_steps": 350, "batch_size": 64}, "needle": {"batch_size": 16}},
        lr=3e-3,
        family_lr=CPU_FAMILY_LR,
        warmup_steps=30,
        eval_batches=8,
        eval_batch_size=64,
        # Measured with 8192 as the last length: 32 min 23 s, 8 of them the two loop baselines at 8192.
        perf_seq_lens=(128, 512, 2048, 4096),
        perf_batch_size=8,
        perf_repeats=5,
        decode_tokens=32,
        cell_timeout_s=1200,
    ),
    "cpu-state": Preset(
        name="cpu-state",
        description=(
            "state tracking for every family on 2 CPU cores: parity, cycle-nav, S5; trained at 32, scored to 128"
        ),
        d_model=64,
        n_layers=2,
        family_options={"mamba2": {"headdim": 32}},
        tasks=("parity", "cycle-nav", "s5"),
        task_params={"s5": {"inputs": "generators"}},
        seq_lens=(32,),
        eval_lens=(32, 64, 128),
        train_steps=300,
        batch_size=32,
        task_train={"s5": {"train_steps": 500}},
        lr=3e-3,
        family_lr=STATE_FAMILY_LR,
        warmup_steps=30,
        eval_batches=4,
        eval_batch_size=64,
        perf_seq_lens=(128,),
        cell_timeout_s=900,
    ),
    "recall-sweep": Preset(
        name="recall-sweep",
        description=(
            "Zoology's figure: MQAR accuracy vs state size, 3 widths x 3 key-value counts, ~21 min on 2 CPU cores"
        ),
        d_model=64,
        d_models=(16, 32, 64),
        n_layers=2,
        family_options={"mamba2": {"headdim": 16}},
        tasks=("mqar",),
        task_params={"mqar": {"vocab_size": 64}},
        task_param_grid={"mqar": {"num_kv_pairs": (2, 4, 8)}},
        seq_lens=(64,),
        train_steps=300,
        batch_size=64,
        lr=3e-3,
        family_lr=CPU_FAMILY_LR,
        warmup_steps=30,
        eval_batches=4,
        eval_batch_size=64,
        perf_seq_lens=(128,),
        cell_timeout_s=900,
    ),
    # Zoology (HazyResearch/zoology, original_mqar_configs.py) trains its first segment, T 64 with 4 pairs at
    # vocabulary 8192, on a fixed set of 100k rows for 32 epochs at batch 256, sweeps lr over 1e-3..3.2e-2,
    # AdamW weight decay 0.1, cosine decay, and stops once validation passes 99%; 2 layers, d_model 32-128,
    # no MLP, attention with a short convolution. Here: fresh batches of 64, each family at the CPU presets'
    # rate (sweep with --lrs), the suite's block (MLP x2, no convolution), a step budget that 2 cores
    # finish. The vocabulary, the query distribution, the pairs and the length are Zoology's.
    "mqar-zoology-cpu": Preset(
        name="mqar-zoology-cpu",
        description="MQAR in Zoology's regime on 2 CPU cores: vocabulary 8192, T 64 with 4 key-value pairs (Zoology's "
        "first training segment), every family at d_model 64, 2 layers, batch 64; early stopping at 99% "
        "validation as Zoology stops, or a plateau (under 1 point in 1000 steps), at most 3000 steps per "
        "cell; scored at T 64, 128 and 256; ~20 min",
        d_model=64,
        n_layers=2,
        family_options={"mamba2": {"headdim": 32}},
        kinds=("accuracy",),
        tasks=("mqar",),
        task_params={"mqar": {"vocab_size": 8192, "num_kv_pairs": 4}},
        seq_lens=(64,),
        eval_len_multiples=(1, 2, 4),
        train_steps=3000,
        batch_size=64,
        lr=3e-3,
        family_lr=CPU_FAMILY_LR,
        warmup_steps=100,
        eval_batches=4,
        eval_batch_size=64,
        eval_every=100,
        curve_batches=2,
        patience=10,
        min_delta=0.01,
        target_accuracy=0.99,
        perf_seq_lens=(128,),
        cell_timeout_s=1500,  # a guard: Mamba takes ~0.33 s a step here, 3000 steps ~17 min
    ),
    "hybrid-cpu": Preset(
        name="hybrid-cpu",
        description="does one attention layer close minGRU's recall gap? Four-layer stacks (pure minGRU, pure "
        "attention, one attention layer at the bottom, middle or top, two attention layers, a sliding window of 8 "
        "or 32 in the middle, Mamba with one attention layer) at d_model 64 on Zoology-regime MQAR (vocabulary "
        "8192, T 64, 4 pairs, batch 64) and selective copying (T 64, 8 data tokens, batch 32), every stack at lr "
        "3e-3 but pure attention at 1e-3 (at 3e-3 it was still at 23% on MQAR after 4,367 steps); early stopping "
        "at 99% or a plateau (under 1 point in 500 steps, never before step 1500: pure attention stays near "
        "chance on MQAR for its first ~1200 steps), at most 4000 steps; scored at T 64, 128 and 256; state bytes "
        "and throughput at T 64 and 256. Run it with --jobs 2 (the timed cells run alone after): 39 min 38 s "
        "on an idle 2-core AMD EPYC",
        d_model=64,
        n_layers=4,
        models=HYBRID_MODELS,
        kinds=("accuracy", "perf"),
        tasks=("mqar", "selective-copy"),
        task_params={
            "mqar": {"vocab_size": 8192, "num_kv_pairs": 4},
            "selective-copy": {"vocab_size": 16, "num_data_tokens": 8},
        },
        seq_lens=(64,),
        eval_len_multiples=(1, 2, 4),
        train_steps=4000,
        batch_size=64,
        task_train={"selective-copy": {"batch_size": 32}},
        lr=3e-3,
        family_lr=HYBRID_LR,
        warmup_steps=100,
        eval_batches=4,
        eval_batch_size=64,
        eval_every=100,
        curve_batches=2,
        patience=5,
        min_delta=0.01,
        plateau_after_steps=1500,
        target_accuracy=0.99,
        perf_seq_lens=(64, 256),
        perf_batch_size=8,
        perf_repeats=5,
        decode_tokens=32,
        perf_extra_models=(),
        cell_timeout_s=5400,  # a guard: the Mamba hybrid takes ~0.7 s a step on MQAR here, 4000 steps ~47 min
    ),
    "standard": Preset(
        name="standard",
        description="GPU: bf16 autocast, d_model 128, lengths to 16K for speed and memory",
        device="cuda",
        d_model=128,
        n_layers=2,
        family_options={"mamba2": {"headdim": 32}},
        task_params={
            "mqar": {"vocab_size": 8192, "num_kv_pairs": 32},
            "selective-copy": {"num_data_tokens": 16},
            "needle": {"vocab_size": 256},
        },
        seq_lens=(256, 1024),
        task_seq_lens={"needle": (1024, 4096)},
        train_steps=3000,
        batch_size=64,
        lr=1e-3,
        warmup_steps=300,
        eval_batches=16,
        eval_batch_size=64,
        perf_seq_lens=(256, 1024, 4096, 16384),
        perf_batch_size=16,
        perf_vocab_size=256,
        perf_repeats=20,
        perf_warmup=3,
        decode_tokens=32,
        cell_timeout_s=1800,
    ),
}
PRESETS.update(PAPER_PRESETS)
PRESETS.update(REAL_DATA_PRESETS)


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` → ``float32`` on CPU and ``bfloat16-autocast`` on CUDA (the forward under
    ``torch.autocast(bfloat16)``, recurrences accumulated in float32 inside the models;
    FlashAttention needs 16-bit inputs)."""
    if dtype not in DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    if dtype == "auto":
        return "bfloat16-autocast" if is_cuda(device) else "float32"
    return dtype


def default_preset_name(device: str) -> str:
    return "standard" if is_cuda(device) else "cpu"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise did_you_mean("preset", name, PRESETS)
    return PRESETS[name]
