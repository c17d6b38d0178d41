"""Training and evaluation for accuracy cells.

Training: AdamW (weight decay on matrices only, not on biases, norms or
embeddings' scale), linear warm-up then cosine decay to 10% of the peak rate,
gradient-norm clipping, loss = cross-entropy over the task's scored positions.
Every model of a run sees the same training batches: they come from
``tasks.base.stream(seed, "train")``. On CUDA with a ``bfloat16-autocast`` preset
the forward runs under ``torch.autocast(bfloat16)``; recurrences accumulate in
float32 inside the models.

Evaluation: the final weights (no checkpoint selection) on ``eval_batches``
batches from ``stream(seed, "test")`` — identical across models. ``accuracy`` is
correct scored tokens / scored tokens with a Wilson 95% interval;
``seq_accuracy`` the fraction of sequences whose every scored token is right;
``last_accuracy`` the accuracy at each sequence's last scored position.

Steps to accuracy (presets with ``target_accuracy`` and ``eval_every``): every
``eval_every`` optimizer steps (and after the last) the weights are scored on
``curve_batches`` batches of ``stream(seed, "valid")`` at the training length —
a stream separate from training's and the test's, read afresh each time, so
the same batches every evaluation — and ``valid_curve`` keeps each (step,
accuracy). ``steps_to_target`` is the first evaluated step whose accuracy is at
least the target (``None`` if none), so its resolution is ``eval_every``.
Evaluating draws nothing from the training stream and changes no weight: the
trained model is the same as without it. Its time is not in ``train_s``.

Length extrapolation (``--eval-lens``): the same final weights are scored on
test batches of each evaluation length (the task generates them at that
length; nothing is retrained or fine-tuned).

Learning-rate sweep (``--lrs``, :func:`train_best_lr`): one model per rate,
each from the same initial weights and the same training batches; each is
scored on ``stream(seed, "valid")`` at the training length, never on the test
stream, and the best validation accuracy wins (ties: the smaller rate). The
test metrics are those of the winner only, so the sweep does not leak test
data into the choice (MAD-lab's protocol).
"""
from __future__ import annotations

import contextlib
import math
import time

import torch
from torch.nn import functional as F

from suite.devices import is_cuda
from suite.analysis.stats import wilson_interval
from tasks.base import stream


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


def autocast_context(device: str, dtype: str):
    if dtype == "bfloat16-autocast" and is_cuda(device):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_optimizer(model, lr: float, weight_decay: float):
    decay = [p for name, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in name]
    no_decay = [p for name, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in name)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))


def learning_rate(step: int, peak: float, warmup: int, total: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def masked_loss(logits, batch):
    return F.cross_entropy(logits[batch.mask].float(), batch.targets[batch.mask])


def train(model, task, seq_len: int, batch_size: int, seed: int, config: dict, device: str) -> dict:
    """Train in place at peak rate ``config["lr"]``; returns ``final_loss`` (mean of the last 10% of
    steps), ``train_steps``, ``train_s`` and, when ``config`` asks for it, the steps-to-accuracy
    fields (see the module docstring)."""
    optimizer = make_optimizer(model, config["lr"], config["weight_decay"])
    generator = stream(seed, "train")
    losses = []
    eval_every = int(config.get("eval_every") or 0) if config.get("target_accuracy") is not None else 0
    curve_config = {**config, "eval_batches": int(config.get("curve_batches") or 1)}
    curve = []
    eval_seconds = 0.0
    model.train()
    start = time.perf_counter()
    for step in range(config["steps"]):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config["lr"], config["warmup_steps"], config["steps"])
        batch = task.sample(generator, batch_size, seq_len).to(device)
        with autocast_context(device, config["dtype"]):
            logits = model(batch.inputs)
        loss = masked_loss(logits, batch)
        if not torch.isfinite(loss):
            raise NonFiniteLoss(f"training loss became {loss.item()} at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
        optimizer.step()
        losses.append(loss.item())
        if eval_every and ((step + 1) % eval_every == 0 or step + 1 == config["steps"]):
            eval_start = time.perf_counter()
            curve.append([step + 1, evaluate(model, task, seq_len, seed, curve_config, device, split="valid")["accuracy"]])
            model.train()
            eval_seconds += time.perf_counter() - eval_start
    tail = losses[-max(1, len(losses) // 10):]
    metrics = {"final_loss": sum(tail) / len(tail), "train_steps": len(losses),
               "train_s": time.perf_counter() - start - eval_seconds}
    if eval_every:
        target = float(config["target_accuracy"])
        metrics.update(target_accuracy=target, eval_every=eval_every, valid_curve=curve,
                       steps_to_target=steps_to_target(curve, target))
    return metrics


def steps_to_target(curve, target: float) -> int | None:
    """The first step of ``curve`` (``[[step, accuracy], ...]`` in step order) whose accuracy
    is at least ``target``; ``None`` when no evaluation reached it."""
    for step, accuracy in curve:
        if accuracy >= target:
            return int(step)
    return None


def train_best_lr(build, task, seq_len: int, batch_size: int, seed: int, config: dict, device: str):
    """Train one model per rate in ``config["lr_sweep"]`` (or just ``config["lr"]``); keep the one with
    the best validation accuracy. ``build()`` returns a freshly initialised model (same seed, same
    initial weights each time). Returns ``(model, training metrics of the winner + lr + lr_valid_accuracy)``."""
    rates = list(config.get("lr_sweep") or [config["lr"]])
    best = None
    valid = {}
    for rate in rates:
        model = build()
        metrics = train(model, task, seq_len, batch_size, seed, {**config, "lr": rate}, device)
        if len(rates) == 1:
            return model, {**metrics, "lr": rate, "lr_valid_accuracy": None}
        score = evaluate(model, task, seq_len, seed, config, device, split="valid")["accuracy"]
        valid[repr(rate)] = score
        if best is None or score > best[0]:
            best = (score, rate, model, metrics)
        else:
            del model
    _, rate, model, metrics = best
    return model, {**metrics, "lr": rate, "lr_valid_accuracy": valid}


@torch.no_grad()
def evaluate(model, task, seq_len: int, seed: int, config: dict, device: str, split: str = "test") -> dict:
    """Score the weights on the ``split`` stream at ``seq_len``; see the module docstring."""
    model.eval()
    generator = stream(seed, split)
    correct = scored = sequences_right = sequences = last_right = 0
    for _ in range(config["eval_batches"]):
        batch = task.sample(generator, config["eval_batch_size"], seq_len).to(device)
        with autocast_context(device, config["dtype"]):
            logits = model(batch.inputs)
        hits = (logits.argmax(-1) == batch.targets) & batch.mask
        correct += int(hits.sum())
        scored += int(batch.mask.sum())
        sequences_right += int(((hits | ~batch.mask).all(dim=1)).sum())
        sequences += batch.inputs.shape[0]
        positions = torch.arange(batch.mask.shape[1], device=batch.mask.device)
        last = torch.where(batch.mask, positions, -1).max(dim=1).values  # every row has a scored position
        last_right += int(hits.gather(1, last[:, None]).sum())
    low, high = wilson_interval(correct, scored)
    return {"accuracy": correct / scored, "accuracy_ci_low": low, "accuracy_ci_high": high, "n_scored": scored,
            "seq_accuracy": sequences_right / sequences, "last_accuracy": last_right / sequences}
