"""The real-data presets: character-level language modelling on the ``shakespeare`` corpus at the paper's
settings (``paper-shakespeare``, for a GPU) and sized for 2 CPU cores (``shakespeare-cpu``), and sequential
Fashion-MNIST on 2 CPU cores (``fashion-mnist-cpu``). Their data is fetched once beforehand
(``python -m suite data fetch shakespeare``; Fashion-MNIST is read from disk, docs/data.md); the report's
"Real data" section reads their records (:mod:`suite.analysis.real_data`).

The CPU presets' step budgets and evaluation intervals are the constants below: rescale a preset there
(or with ``--set train_steps=N --set eval_every=M``). Their wall times were estimated from the CPU seconds of
one training step per family, measured with one torch thread (see each constant's comment), not from a
full run.
"""

from __future__ import annotations

from suite.plan.preset_groups import Preset

EVERY_FAMILY = ("gru", "lstm", "mingru", "minlstm", "mamba", "mamba2", "transformer")  # native backends first
# The cells run in this order, every model's seed 0 before any seed 1: the slowest first, so that two jobs
# finish close together.
SHAKESPEARE_CPU_MODELS = ("mamba", "mamba2", "gru", "transformer", "mingru", "minlstm", "lstm")
PAPER_LM_MODELS = ("mingru", "minlstm", "mamba", "transformer")

# paper-shakespeare: Feng et al. 2024 Section 4 (language modelling) where it states a value, nanoGPT's
# shakespeare-char configuration where it does not (the paper follows nanoGPT).
PAPER_LM_FAMILY_OPTIONS = {
    "transformer": {"n_heads": 6},
    "mamba": {"d_state": 16, "expand": 2},
    "mingru": {"expansion": 2.0},
    "minlstm": {"expansion": 2.0},
}
PAPER_SHAKESPEARE_DESCRIPTION = (
    "Feng et al. 2024's Shakespeare language modelling: minGRU, minLSTM, Mamba and a Transformer, 3 layers, "
    "d_model 384, AdamW lr 1e-3, dropout 0.2 (the backbone's: on the embedding and on every residual branch), "
    "batch 64, at most 5000 steps, validation every 25 steps, gradient clip 0.25, 6 heads, Mamba state 16 and "
    "expansion 2, minRNN expansion 2; the best validation checkpoint tested, training stopped after 20 "
    "evaluations (500 steps) without a drop of 0.002. Assumed (the paper does not say): context 256, 100 "
    "warm-up steps, cosine decay to 1e-4 and weight decay 0.1 (nanoGPT's shakespeare-char settings). Differs: "
    "the corpus is the suite's shakespeare data set, not nanoGPT's tiny-shakespeare; every family uses the "
    "suite's block (norm, mixer, MLP x2, with residuals), so the minRNNs have no causal convolution (kernel 4) "
    "before the recurrence and the transformer's MLP is x2, not nanoGPT's x4"
)

# shakespeare-cpu: measured CPU seconds per training step with one torch thread (d_model 64, 2 layers, context
# 128, batch 32, char-lm on shakespeare): gru 0.146, lstm 0.070, mingru 0.092, minlstm 0.092, mamba 0.545 (its
# reference scan), mamba2 0.264, transformer 0.096; 2.61 s per step for the 14 cells (7 families x 2 seeds).
# With --jobs 2 each cell has one core: 1800 steps each is at most 2 x 2,350 s of training, evaluations (2.7%)
# and start-up, about 41 minutes on 2 idle cores if every cell ran to the budget. The plateau rule below would
# have stopped a pilot's curves (this preset's settings, 1500 steps, seed 0, no plateau stop) at step 1200 for
# minGRU and 1000 for the Transformer (best validation loss 1.77 and 1.82 there): most cells should stop before
# the budget (the slower families were not piloted).
SHAKESPEARE_CPU_STEPS = 1800
SHAKESPEARE_CPU_EVAL_EVERY = 50
SHAKESPEARE_CPU_PATIENCE = 6  # evaluations: 300 steps
SHAKESPEARE_CPU_MIN_DELTA = 0.03  # nats: a plateau is a gain under 0.03 in 300 steps

# fashion-mnist-cpu: measured CPU seconds per training step with one torch thread at T 784 (d_model 64, 2
# layers, batch 32): gru 0.76, lstm 0.46, mingru 0.47, minlstm 0.53, transformer 0.92, mamba2 1.73, mamba 3.70.
# Mamba is left out: 500 steps of it alone would take about 31 minutes of one core. The six others at 500 steps
# each, with evaluations (4 batches of 64 images every 50 steps: 5%), the test images and start-up, are about
# 2,700 CPU seconds: about 23 minutes on 2 idle cores with --jobs 2 if every cell ran to the budget (mamba2, the
# longest, runs first).
FASHION_CPU_STEPS = 500
FASHION_CPU_EVAL_EVERY = 50
FASHION_CPU_MODELS = ("mamba2", "gru", "lstm", "mingru", "minlstm", "transformer")

REAL_DATA_PRESETS = {
    "paper-shakespeare": Preset(
        name="paper-shakespeare",
        description=PAPER_SHAKESPEARE_DESCRIPTION,
        device="cuda",
        d_model=384,
        n_layers=3,
        dropout=0.2,
        family_options=PAPER_LM_FAMILY_OPTIONS,
        models=PAPER_LM_MODELS,
        kinds=("accuracy",),
        tasks=("char-lm",),
        task_params={"char-lm": {"corpus": "shakespeare"}},
        seq_lens=(256,),
        train_steps=5000,
        batch_size=64,
        lr=1e-3,
        weight_decay=0.1,
        warmup_steps=100,
        lr_schedule="cosine",
        grad_clip=0.25,
        eval_batches=32,
        eval_batch_size=64,
        eval_every=25,
        curve_batches=4,
        patience=20,
        min_delta=0.002,
        cell_timeout_s=7200,
    ),
    "shakespeare-cpu": Preset(
        name="shakespeare-cpu",
        description="character-level language modelling on the shakespeare corpus for every family on 2 CPU "
        "cores: d_model 64, 2 layers, context 128, batch 32, AdamW at a constant lr 3e-3 after 100 warm-up "
        f"steps, seeds 0 and 1; validation loss every {SHAKESPEARE_CPU_EVAL_EVERY} steps, training stops on a "
        f"plateau (a gain under {SHAKESPEARE_CPU_MIN_DELTA} nats in "
        f"{SHAKESPEARE_CPU_PATIENCE * SHAKESPEARE_CPU_EVAL_EVERY} steps: diminishing returns, far from "
        f"convergence) or at {SHAKESPEARE_CPU_STEPS} steps; the best checkpoint tested. 21 min 30 s with "
        "--jobs 2 on an idle 2-core AMD EPYC, every cell stopped on its plateau (at most about 41 minutes if "
        "every cell ran to the budget)",
        d_model=64,
        n_layers=2,
        family_options={"mamba2": {"headdim": 32}},
        models=SHAKESPEARE_CPU_MODELS,
        kinds=("accuracy",),
        seeds=(0, 1),
        tasks=("char-lm",),
        task_params={"char-lm": {"corpus": "shakespeare"}},
        seq_lens=(128,),
        train_steps=SHAKESPEARE_CPU_STEPS,
        batch_size=32,
        lr=3e-3,
        lr_schedule="constant",
        warmup_steps=100,
        eval_batches=8,
        eval_batch_size=64,
        eval_every=SHAKESPEARE_CPU_EVAL_EVERY,
        curve_batches=2,
        patience=SHAKESPEARE_CPU_PATIENCE,
        min_delta=SHAKESPEARE_CPU_MIN_DELTA,
        cell_timeout_s=5400,  # a guard: mamba's 1800 steps are about 1,000 s of one idle core
    ),
    "fashion-mnist-cpu": Preset(
        name="fashion-mnist-cpu",
        description="sequential Fashion-MNIST (784 pixels, one at a time, the class at the end) on 2 CPU cores: "
        "every family but Mamba (its reference scan takes 3.7 CPU seconds a step at T 784, over half an hour "
        "for this budget alone), d_model 64, 2 layers, batch 32, AdamW at a constant lr 3e-3 after 25 warm-up "
        f"steps, seed 0; validation accuracy every {FASHION_CPU_EVAL_EVERY} steps on 256 images, training stops "
        f"at 85% or on a plateau (under 2 points in 200 steps) or at {FASHION_CPU_STEPS} steps (a third of an "
        "epoch: most families are still rising there); the best checkpoint scored on 1,024 test images. 20 min "
        "29 s with --jobs 2 on an idle 2-core AMD EPYC",
        d_model=64,
        n_layers=2,
        family_options={"mamba2": {"headdim": 32}},
        models=FASHION_CPU_MODELS,
        kinds=("accuracy",),
        tasks=("seq-fashion-mnist",),
        seq_lens=(784,),
        train_steps=FASHION_CPU_STEPS,
        batch_size=32,
        lr=3e-3,
        lr_schedule="constant",
        warmup_steps=25,
        eval_batches=16,
        eval_batch_size=64,
        eval_every=FASHION_CPU_EVAL_EVERY,
        curve_batches=4,
        patience=4,
        min_delta=0.02,
        target_accuracy=0.85,
        cell_timeout_s=2400,
    ),
}
