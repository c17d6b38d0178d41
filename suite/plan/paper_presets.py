"""The paper presets: Feng et al. 2024's settings where the paper states them, and their ``-cpu``
variants, for the report's "paper vs measured" section (``suite.analysis.paper``)."""

from __future__ import annotations

from suite.plan.preset_groups import CPU_FAMILY_LR, Preset

# The paper's runtime/memory benchmark: every minRNN (the suite's fastest scan and the paper's
# log-space scan), the sequential GRU/LSTM loops the paper compared against, nn.GRU/nn.LSTM
# (cuDNN on CUDA), Mamba and the Transformer, all with the same number of layers.
PAPER_SPEED_MODELS = (
    "mingru",
    "minlstm",
    "mingru:log",
    "minlstm:log",
    "gru:loop",
    "lstm:loop",
    "gru",
    "lstm",
    "mamba",
    "transformer",
)
PAPER_COPY_MODELS = ("mingru", "minlstm", "mamba", "transformer")
# The official minRNNs code's cell options (BorealisAI/minRNNs; see models/mingru.py, models/minlstm.py):
# biases, a learnable initial state through g, no weight decay on the input projection, and for
# minLSTM a forget-gate bias of +3 with the f/(f+i) normalisation off; expansion 6 for selective copying.
OFFICIAL_MINGRU = {"expansion": 6.0, "bias": True, "learn_init_state": True, "decay_gates": False}
OFFICIAL_MINLSTM = {**OFFICIAL_MINGRU, "forget_bias": 3.0, "gate_norm": False}
MINRNN_OFFICIAL_6 = {"mingru": OFFICIAL_MINGRU, "minlstm": OFFICIAL_MINLSTM, "transformer": {"n_heads": 4}}

PAPER_COPY_CPU_DESCRIPTION = (
    "paper-selective-copy scaled to 2 CPU cores: T 64, vocab 16, 8 data tokens, d_model 64, expansion 6, 1/2/3 "
    "layers, no feed-forward, batch 32; the official cells and AdamW weight decay 0.05 (none on the input "
    "projection), at the CPU presets' rates (1e-2 minGRU/Mamba, 3e-3 the others, not 3e-4) with warm-up and "
    "cosine decay (not the official constant rate); early stopping at 98% validation or a plateau (under 2 "
    "points in 800 steps), at most 5000 steps per cell (the paper: T 4096, 16 tokens, 400k "
    "steps)"
)

PAPER_PRESETS = {
    "paper-speed": Preset(
        name="paper-speed",
        description="Feng et al. 2024 Fig. 1 runtime: batch 64, T 64-4096, fp32, every model with 3 layers "
        "(d_model 128: the paper does not state it); energy per token at T 512 and 4096",
        device="cuda",
        dtype="float32",
        d_model=128,
        n_layers=3,
        models=PAPER_SPEED_MODELS,
        kinds=("perf",),
        perf_seq_lens=(64, 128, 256, 512, 1024, 2048, 4096),
        perf_batch_size=64,
        perf_vocab_size=16,
        perf_warmup=2,
        perf_repeats=10,
        decode_tokens=16,
        perf_extra_models=(),
        energy=True,
        energy_seq_lens=(512, 4096),
        cell_timeout_s=900,
    ),
    "paper-speed-cpu": Preset(
        name="paper-speed-cpu",
        description="paper-speed scaled to 2 CPU cores: batch 8, d_model 64, 2 layers, T 64-2048 (the loops "
        "grow linearly with T); energy at T 512 where RAPL is readable",
        dtype="float32",
        d_model=64,
        n_layers=2,
        models=PAPER_SPEED_MODELS,
        kinds=("perf",),
        perf_seq_lens=(64, 128, 256, 512, 1024, 2048),
        perf_batch_size=8,
        perf_vocab_size=16,
        perf_warmup=1,
        perf_repeats=3,
        decode_tokens=8,
        perf_extra_models=(),
        energy=True,
        energy_seq_lens=(512,),
        cell_timeout_s=600,
    ),
    "paper-memory": Preset(
        name="paper-memory",
        description="Feng et al. 2024 Sec. 4.1 memory: training-step peak memory at batch 64, T 512-4096, "
        "the paper-speed models and sizes, one timed repeat",
        device="cuda",
        dtype="float32",
        d_model=128,
        n_layers=3,
        models=PAPER_SPEED_MODELS,
        kinds=("perf",),
        perf_seq_lens=(512, 1024, 2048, 4096),
        perf_batch_size=64,
        perf_vocab_size=16,
        perf_warmup=1,
        perf_repeats=1,
        perf_min_time_s=0.0,
        decode_tokens=4,
        perf_extra_models=(),
        cell_timeout_s=900,
    ),
    "paper-memory-cpu": Preset(
        name="paper-memory-cpu",
        description="paper-memory scaled to 2 CPU cores: batch 8, d_model 64, 2 layers, T 256-2048, "
        "peak resident memory of one training step",
        dtype="float32",
        d_model=64,
        n_layers=2,
        models=PAPER_SPEED_MODELS,
        kinds=("perf",),
        perf_seq_lens=(256, 1024, 2048),
        perf_batch_size=8,
        perf_vocab_size=16,
        perf_warmup=1,
        perf_repeats=1,
        perf_min_time_s=0.0,
        decode_tokens=4,
        perf_extra_models=(),
        cell_timeout_s=600,
    ),
    "paper-selective-copy": Preset(
        name="paper-selective-copy",
        description="Feng et al. 2024 Table 1 setting: selective copying T 4096, vocab 16, 16 data tokens, "
        "d_model 64, expansion 6, 1/2/3 layers, no feed-forward, batch 64; the official code's cells "
        "(biases, learnt initial state, minLSTM forget bias 3 without gate normalisation) and optimiser "
        "(AdamW, constant lr 3e-4, weight decay 0.05 except the input projection, clip 1); its dropout "
        "0.1 is inert (feed-forward off); early stopping, the best validation checkpoint tested; 20k "
        "steps at most, not the paper's 400k",
        device="cuda",
        d_model=64,
        n_layers=3,
        n_layers_grid=(1, 2, 3),
        mlp_mult=0,
        family_options=MINRNN_OFFICIAL_6,
        models=PAPER_COPY_MODELS,
        kinds=("accuracy",),
        tasks=("selective-copy",),
        task_params={"selective-copy": {"vocab_size": 16, "num_data_tokens": 16}},
        seq_lens=(4096,),
        train_steps=20000,
        batch_size=64,
        lr=3e-4,
        lr_schedule="constant",
        weight_decay=0.05,
        warmup_steps=500,
        eval_batches=4,
        eval_batch_size=64,
        target_accuracy=0.99,
        eval_every=500,
        curve_batches=2,
        patience=10,
        min_delta=0.005,
        cell_timeout_s=7200,
    ),
    "paper-selective-copy-cpu": Preset(
        name="paper-selective-copy-cpu",
        description=PAPER_COPY_CPU_DESCRIPTION,
        d_model=64,
        n_layers=3,
        n_layers_grid=(1, 2, 3),
        mlp_mult=0,
        family_options=MINRNN_OFFICIAL_6,
        models=PAPER_COPY_MODELS,
        kinds=("accuracy",),
        tasks=("selective-copy",),
        task_params={"selective-copy": {"vocab_size": 16, "num_data_tokens": 8}},
        seq_lens=(64,),
        train_steps=5000,
        batch_size=32,
        lr=3e-3,
        family_lr=CPU_FAMILY_LR,
        weight_decay=0.05,
        warmup_steps=100,
        eval_batches=4,
        eval_batch_size=64,
        target_accuracy=0.98,
        eval_every=100,
        curve_batches=4,
        patience=8,
        min_delta=0.02,
        cell_timeout_s=900,
    ),
}
