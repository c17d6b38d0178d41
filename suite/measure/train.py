"""Training and evaluation for accuracy cells.

Training: AdamW, linear warm-up then cosine decay to 10% of the peak rate over
``steps`` (the step budget; a preset's ``lr_schedule = "constant"`` keeps the peak
after warm-up instead), gradient-norm clipping, loss = cross-entropy over
the task's scored positions (the head runs at those positions only:
``LanguageModel.forward(positions=...)``). Weight decay falls on matrices only:
not on biases, norms, embeddings, nor on any parameter marked
``_no_weight_decay`` (Mamba's ``A_log`` and ``D``, as ``mamba_ssm`` does; a minRNN
input projection with ``decay_gates=False``, as the official minRNNs code does).
Every model of a run sees the same training batches: they come from
``task.sample_split(stream(seed, "train"), ..., "train")`` (validation and test batches likewise
from the ``"valid"`` and ``"test"`` splits; a synthetic task's ``sample_split`` is its ``sample``,
and a task with real splits draws each from its own region of the data). On CUDA with a
``bfloat16-autocast`` preset the forward runs under ``torch.autocast(bfloat16)``; recurrences
accumulate in float32 inside the models.

Early stopping on the validation stream (:class:`EarlyStopping`): every
``eval_every`` optimizer steps the weights are scored on ``curve_batches``
batches of ``stream(seed, "valid")`` at the training length -- a stream separate
from training's and the test's, read afresh each time, so the same batches every
evaluation -- and ``valid_curve`` keeps each ``[step, train seconds, accuracy]``.
Training stops at the first of:

- ``target``: a validation accuracy at least ``target_accuracy`` (when set);
- ``plateau``: ``patience`` evaluations in a row without an improvement greater
  than ``min_delta`` over the best so far (``patience`` 0: never), at or after step
  ``plateau_after_steps`` (0: any step). A learner that sits at chance before it rises
  (attention on MQAR at a large vocabulary is flat for ~1200 steps, then climbs) would
  otherwise be stopped in its flat phase and counted as a failure;
- ``max_steps``: the step budget ran out (scored once more at the last step);
- ``time_limit``: a guard, not a budget: ``time_limit_s`` seconds of training
  (when set; checked after every step, and scored once more at the stop). Every
  other rule counts steps and accuracies, so a cell's result is the same, bit
  for bit, on an idle machine and on a loaded one (same seed and threads); a
  wall-clock stop would make it depend on what else the machine is doing and
  on the CPU model. A cell the guard cuts says so (``cut_by_time``), and the
  analysis keeps it out of every verdict: rerun it on a quieter machine or
  with a larger ``--set time_limit_s``. No built-in preset sets it.

Language models (a task whose ``objective`` is ``"lm"``, e.g. ``char-lm``): the loss is the
cross-entropy at every position of a window (the head at every position), and early stopping
watches the validation *loss* (lower is better) on the same ``curve_batches`` batches:
``valid_curve`` entries are ``[step, train seconds, loss]``, ``target`` is a loss at most
``target_loss``, an improvement is a drop greater than ``min_delta``, and the best checkpoint is
the lowest loss (``best_valid_loss``; ``best_valid_accuracy`` and ``target_accuracy`` are None). Its
test metrics are :mod:`suite.measure.lm_metrics`'s; a rate sweep keeps the lowest
validation loss (``lr_valid_loss``).

The weights of the best validation evaluation (``best_step``,
``best_valid_accuracy``; the earliest of equals) are restored and are what the
test stream scores, as the official minRNNs code selects. ``still_rising`` says
whether validation had improved by more than ``min_delta`` within the last
``patience`` evaluations when training stopped: a miss that stopped at
``max_steps`` while rising is undertrained, not a failure.
``steps_to_target``/``seconds_to_target`` are the first evaluation at or above
``target_accuracy`` (``None`` if none; resolution ``eval_every``). Evaluating
draws nothing from the training stream; its time is not in ``train_s`` nor in
the curve's seconds. Those seconds are timings, the only part of the record
that depends on the machine's load: the record carries the host's load around
training (``load_avg_before``/``load_avg_after``, ``other_busy_cores``, as perf
records do; :class:`suite.measure.timing.HostActivity`) and ``train_time_noisy``
when other processes competed for the cores. Without early stopping the trained weights would be the same
up to the stop (the schedule depends on ``steps`` only).

Evaluation: ``eval_batches`` batches from ``stream(seed, "test")`` -- identical
across models. ``accuracy`` is correct scored tokens / scored tokens with a
Wilson 95% interval; ``seq_accuracy`` the fraction of sequences whose every
scored token is right; ``last_accuracy`` the accuracy at each sequence's last
scored position.

Length extrapolation (``--eval-lens``): the same best weights are scored on
test batches of each evaluation length (the task generates them at that
length; nothing is retrained or fine-tuned).

Learning-rate sweep (``--lrs``, :func:`train_best_lr`): one model per rate,
each from the same initial weights and the same training batches, each with
its own early stopping; the best ``best_valid_accuracy`` wins (ties: the smaller
rate). The test metrics are those of the winner only, so the sweep does not leak
test data into the choice (MAD-lab's protocol).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time

import torch
from torch.nn import functional as F

from suite.devices import is_cuda
from suite.analysis.stats import wilson_interval
from suite.measure import lm_metrics
from suite.plan.cells import TrainConfig
from tasks.base import stream


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


def autocast_context(device: str, dtype: str):
    if dtype == "bfloat16-autocast" and is_cuda(device):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def decays(name: str, parameter) -> bool:
    """Whether weight decay falls on ``parameter`` (see the module docstring)."""
    return parameter.ndim >= 2 and "embedding" not in name and not getattr(parameter, "_no_weight_decay", False)


def make_optimizer(model, lr: float, weight_decay: float):
    named = list(model.named_parameters())
    decay = [p for name, p in named if decays(name, p)]
    no_decay = [p for name, p in named if not decays(name, p)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=(0.9, 0.98),
    )


def learning_rate(step: int, peak: float, warmup: int, total: int, schedule: str = "cosine") -> float:
    """Linear warm-up over ``warmup`` steps, then ``cosine`` decay to 10% of ``peak`` at ``total``
    steps, or ``constant`` at ``peak`` (the official minRNNs code's schedule)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if schedule == "constant":
        return peak
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def scored_logits(model, batch):
    """The logits at ``batch``'s scored positions only, ``[N, V]`` (see the module docstring)."""
    return model(batch.inputs, positions=batch.mask)


def eval_every(config: TrainConfig) -> int:
    """Steps between validation evaluations: ``eval_every``, or 0 for about 20 over the budget."""
    return int(config.eval_every or 0) or max(1, int(config.steps) // 20)


class EarlyStopping:
    """The validation curve, the best checkpoint and the stop rule (see the module docstring): on
    validation accuracy (higher is better), or on validation loss for a language model
    (``lower_is_better``: ``target_loss``, and an improvement is a drop greater than ``min_delta``)."""

    def __init__(self, config: TrainConfig, lower_is_better: bool = False):
        self.lower_is_better = lower_is_better
        self.sign = -1.0 if lower_is_better else 1.0
        self.patience = int(config.patience or 0)
        self.plateau_after_steps = int(config.plateau_after_steps or 0)
        self.min_delta = float(config.min_delta or 0.0)
        target, limit = (config.target_loss if lower_is_better else config.target_accuracy), config.time_limit_s
        self.target = None if target is None else float(target)
        self.time_limit_s = None if limit is None else float(limit)
        self.curve = []
        self.best = None  # (score, step, weights)
        self.since_improvement = 0
        self.reference = -math.inf  # the score an improvement must beat by more than min_delta
        self.stop_reason = None

    def reached(self, value: float) -> bool:
        """Whether ``value`` is at or beyond the target (at least a target accuracy, at most a target loss)."""
        return self.target is not None and self.sign * value >= self.sign * self.target

    def update(self, step: int, train_s: float, value: float, model) -> str | None:
        """Record one evaluation (an accuracy, or a loss when lower is better); returns why to stop (or None)."""
        self.curve.append([step, round(train_s, 4), value])
        score = self.sign * value
        if self.best is None or score > self.best[0]:
            self.best = (score, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
        if score > self.reference + self.min_delta:
            self.reference, self.since_improvement = score, 0
        else:
            self.since_improvement += 1
        if self.reached(value):
            self.stop_reason = "target"
        elif self.patience and self.since_improvement >= self.patience and step >= self.plateau_after_steps:
            self.stop_reason = "plateau"
        return self.stop_reason

    def out_of_time(self, train_s: float) -> bool:
        return self.time_limit_s is not None and train_s >= self.time_limit_s

    def restore_best(self, model) -> None:
        model.load_state_dict(self.best[2])

    def metrics(self) -> dict:
        reached = [(step, seconds) for step, seconds, value in self.curve if self.reached(value)]
        best = self.sign * self.best[0]
        metrics = {
            "stop_reason": self.stop_reason,
            "best_step": self.best[1],
            "best_valid_accuracy": None if self.lower_is_better else best,
            "still_rising": not self.patience or self.since_improvement < self.patience,  # False after a plateau
            "patience": self.patience,
            "min_delta": self.min_delta,
            "target_accuracy": None if self.lower_is_better else self.target,
            "time_limit_s": self.time_limit_s,
            "cut_by_time": self.stop_reason == "time_limit",
            "valid_curve": self.curve,
            "steps_to_target": reached[0][0] if reached else None,
            "seconds_to_target": reached[0][1] if reached else None,
        }
        if self.lower_is_better:
            metrics.update(best_valid_loss=best, target_loss=self.target)
        return metrics


def train_step(model, optimizer, batch, config: TrainConfig, device: str, step: int, lm: bool = False) -> float:
    """One optimizer step; the loss is over the scored positions, or over every position of a
    language model's windows (the head at every position)."""
    with autocast_context(device, config.dtype):
        logits = model(batch.inputs).flatten(0, 1) if lm else scored_logits(model, batch)
    loss = F.cross_entropy(logits.float(), batch.targets.flatten() if lm else batch.targets[batch.mask])
    if not torch.isfinite(loss):
        raise NonFiniteLoss(f"training loss became {loss.item()} at step {step}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    return loss.item()


def train(model, task, seq_len: int, batch_size: int, seed: int, config: TrainConfig, device: str) -> dict:
    """Train in place at peak rate ``config.lr`` with early stopping, and leave the best
    validation weights in ``model``; returns ``final_loss`` (mean of the last 10% of steps),
    ``steps_trained``, ``train_s`` and the early-stopping fields (see the module docstring)."""
    optimizer = make_optimizer(model, config.lr, config.weight_decay)
    generator = stream(seed, "train")
    max_steps, every = int(config.steps), eval_every(config)
    lm = lm_metrics.is_lm(task)
    stopper = EarlyStopping(config, lower_is_better=lm)
    losses, train_s = [], 0.0
    for step in range(1, max_steps + 1):
        model.train()
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step - 1, config.lr, config.warmup_steps, max_steps, config.schedule)
        batch = lm_metrics.draw(task, generator, batch_size, seq_len, "train").to(device)
        losses.append(train_step(model, optimizer, batch, config, device, step - 1, lm))
        train_s += time.perf_counter() - started
        out_of_time = stopper.out_of_time(train_s)
        if step % every == 0 or step == max_steps or out_of_time:
            if stopper.update(step, train_s, validation_score(model, task, seq_len, seed, config, device), model):
                break
        if out_of_time:
            stopper.stop_reason = "time_limit"
            break
    stopper.stop_reason = stopper.stop_reason or "max_steps"
    stopper.restore_best(model)
    tail = losses[-max(1, len(losses) // 10) :]
    return {
        "final_loss": sum(tail) / len(tail),
        "steps_trained": len(losses),
        "max_steps": max_steps,
        "train_s": train_s,
        "eval_every": every,
        **stopper.metrics(),
    }


def validation_score(model, task, seq_len: int, seed: int, config: TrainConfig, device: str) -> float:
    """What early stopping watches, on ``curve_batches`` batches of the validation stream: the
    accuracy, or a language model's loss."""
    batches = int(config.curve_batches or 1)
    if lm_metrics.is_lm(task):
        autocast = lambda: autocast_context(device, config.dtype)
        return lm_metrics.validation_loss(model, task, seq_len, seed, batches, config.eval_batch_size, device, autocast)
    curve_config = dataclasses.replace(config, eval_batches=batches)
    return evaluate(model, task, seq_len, seed, curve_config, device, split="valid")["accuracy"]


def train_best_lr(build, task, seq_len: int, batch_size: int, seed: int, config: TrainConfig, device: str):
    """Train one model per rate in ``config.lr_sweep`` (or just ``config.lr``); keep the one with
    the best validation accuracy (a language model: the lowest validation loss). ``build()`` returns a
    freshly initialised model (same seed, same initial weights each time). Returns ``(model, training
    metrics of the winner + lr + lr_valid_accuracy)``; a language model's sweep is ``lr_valid_loss``."""
    rates = list(config.lr_sweep or [config.lr])
    lm = lm_metrics.is_lm(task)
    name, sign = ("lr_valid_loss", -1.0) if lm else ("lr_valid_accuracy", 1.0)
    best = None
    valid = {}
    for rate in rates:
        model = build()
        metrics = train(model, task, seq_len, batch_size, seed, dataclasses.replace(config, lr=rate), device)
        if len(rates) == 1:
            return model, {**metrics, "lr": rate, name: None}
        valid[repr(rate)] = metrics["best_valid_loss" if lm else "best_valid_accuracy"]
        score = sign * valid[repr(rate)]
        if best is None or score > best[0]:
            best = (score, rate, model, metrics)
        else:
            del model
    _, rate, model, metrics = best
    return model, {**metrics, "lr": rate, name: valid}


def score(model, task, seq_len: int, seed: int, config: TrainConfig, device: str) -> dict:
    """The test metrics at ``seq_len``: :func:`evaluate`'s, or a language model's
    (:func:`suite.measure.lm_metrics.evaluate_lm`, with the preset's ``recall_ngram``)."""
    if not lm_metrics.is_lm(task):
        return evaluate(model, task, seq_len, seed, config, device)
    autocast = lambda: autocast_context(device, config.dtype)
    n = config.recall_ngram or lm_metrics.RECALL_NGRAM
    batches, size = config.eval_batches, config.eval_batch_size
    return lm_metrics.evaluate_lm(model, task, seq_len, seed, batches, size, device, autocast, n)


@torch.no_grad()
def evaluate(model, task, seq_len: int, seed: int, config: TrainConfig, device: str, split: str = "test") -> dict:
    """Score the weights on the ``split`` stream at ``seq_len``; see the module docstring."""
    model.eval()
    generator = stream(seed, split)
    correct = scored = sequences_right = sequences = last_right = 0
    for _ in range(config.eval_batches):
        batch = lm_metrics.draw(task, generator, config.eval_batch_size, seq_len, split).to(device)
        with autocast_context(device, config.dtype):
            logits = scored_logits(model, batch)
        hits = torch.zeros_like(batch.mask)
        hits[batch.mask] = logits.argmax(-1) == batch.targets[batch.mask]
        correct += int(hits.sum())
        scored += int(batch.mask.sum())
        sequences_right += int(((hits | ~batch.mask).all(dim=1)).sum())
        sequences += batch.inputs.shape[0]
        positions = torch.arange(batch.mask.shape[1], device=batch.mask.device)
        last = torch.where(batch.mask, positions, -1).max(dim=1).values  # every row has a scored position
        last_right += int(hits.gather(1, last[:, None]).sum())
    low, high = wilson_interval(correct, scored)
    return {
        "accuracy": correct / scored,
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "n_scored": scored,
        "seq_accuracy": sequences_right / sequences,
        "last_accuracy": last_right / sequences,
    }
