"""Test metrics of a language-modelling cell (a task whose ``objective`` is ``"lm"``, e.g. ``char-lm``).

Every metric comes from ``eval_batches`` batches of ``eval_batch_size`` windows drawn by
``task.sample_split(stream(seed, "test"), ..., "test")``: random windows of the test region, the same
windows for every model of a run. The model's head runs at every position of a window (``inputs[t]``
predicts ``targets[t] = inputs[t+1]``) and every position is scored.

- ``test_loss``: the mean cross-entropy in nats per character over every scored position;
  ``bits_per_char`` is ``test_loss / ln 2``. ``test_loss_se`` is its standard error over windows (the
  sample standard deviation of the per-window mean losses over the square root of their number):
  window starts are drawn independently, so the window means are independent draws whatever the
  correlation of the characters inside one window, which a per-character error would ignore.
  ``test_loss_ci_low``/``test_loss_ci_high`` are ``test_loss ± 1.96 · test_loss_se``. Two models of a
  run are scored on the same windows, so an interval of their gap from the two errors
  (``sqrt(se1² + se2²)``) is conservative.
- ``accuracy``: next-character accuracy (argmax), with the Wilson 95% interval over characters the
  synthetic tasks use (``accuracy_ci_low``/``_high``; characters of one window are not independent,
  so it is narrower than an interval over windows); ``last_accuracy`` at each window's last position;
  ``seq_accuracy`` the fraction of windows predicted entirely right.
- ``loss_by_position``: the mean test loss at each position ``0 .. T-1`` of the window (``T`` floats,
  rounded to 4 decimals): how much a model gains from the context it has read so far.
- The recall split (:func:`recall_tokens`), the associative-recall hits of Zoology (Arora et al. 2023)
  on characters: position ``t`` is a *recall token* when the ``n`` characters ending at ``t``
  (``inputs[t-n+1 .. t]``) followed by the target (``targets[t]``) occurred earlier in the same window,
  i.e. at some ``s < t`` with ``inputs[s-n+1 .. s] == inputs[t-n+1 .. t]`` and ``targets[s] == targets[t]``.
  The whole earlier occurrence lies in what the model has read when it predicts ``targets[t]``
  (``targets[s] = inputs[s+1]`` and ``s + 1 <= t``), so a model that can look its context up can copy
  the answer. ``recall_loss`` is the mean loss over recall tokens, ``other_loss`` over every other
  position (positions ``t < n - 1`` included: they cannot be recall tokens), ``recall_fraction`` the
  share of recall tokens; ``None`` where a side is empty. ``recall_ngram`` is ``n``.

The choice of ``n`` (:data:`RECALL_NGRAM`, 3; a preset's ``recall_ngram``). Zoology's hits are
repeated token bigrams (``n = 1``) on subword tokens, where a repeated pair is already a rare event;
a repeated character pair is not. Measured on the ``shakespeare`` corpus (256 test windows of 256
characters, seed 0's test stream), against a model with no context beyond the key: the most frequent
next character after the same ``n`` characters in the train region.

====  ===============  ==============================================
 n    recall_fraction  that model's accuracy: recall / other tokens
====  ===============  ==============================================
 1    0.431            0.371 / 0.181
 2    0.189            0.633 / 0.347
 3    0.109            0.721 / 0.463
 4    0.073            0.744 / 0.514
 5    0.054            0.748 / 0.520
 6    0.043            0.739 / 0.497
 8    0.030            0.765 / 0.371
====  ===============  ==============================================

At ``n = 1`` or 2 the recall tokens are a fifth to nearly half of all positions: a character pair
recurs in almost any window of English, so the split would mostly sort ordinary spelling. From
``n = 3`` on, a longer key hardly changes how predictable the recall tokens are without their window
(0.72 to 0.77, against 0.37 and 0.63 at ``n = 1`` and 2), while each step costs a quarter to a third
of them, and with them the precision of ``recall_loss``: ``n = 3`` is the shortest key past that knee.
The split therefore says where a model's loss falls when the answer
stands in its window; it does not isolate recall from statistics (recall tokens are also the more
predictable ones: compare two models' ``recall_loss``, not one model's ``recall_loss`` with its
``other_loss``).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from suite.analysis.stats import wilson_interval
from tasks.base import stream

RECALL_NGRAM = 3
Z_95 = 1.96


def is_lm(task) -> bool:
    """Whether ``task`` is scored as a language model (``objective == "lm"``; a task without the
    attribute is an accuracy task)."""
    return getattr(task, "objective", "accuracy") == "lm"


def draw(task, generator: torch.Generator, batch: int, seq_len: int, split: str):
    """One batch of ``split``: ``task.sample_split`` (a task with real splits draws from that split's
    region; the others' default is ``sample``); a task without the method (a plugin that does not
    derive from ``tasks.base.Task``) samples."""
    if hasattr(task, "sample_split"):
        return task.sample_split(generator, batch, seq_len, split)
    return task.sample(generator, batch, seq_len)


def recall_tokens(inputs: torch.Tensor, targets: torch.Tensor, n: int) -> torch.Tensor:
    """``[B, T]`` booleans: the recall tokens of each window (see the module docstring), exactly.

    Each position ``t >= n - 1`` is keyed by its ``n`` input characters and its target; a position is a
    recall token when its key occurred at an earlier position of the same window."""
    if n < 1:
        raise ValueError(f"recall_ngram must be at least 1, got {n}")
    batch, length = inputs.shape
    recall = torch.zeros(batch, length, dtype=torch.bool, device=inputs.device)
    count = length - n + 1  # positions n-1 .. T-1
    if count <= 1:
        return recall
    grams = inputs.unfold(1, n, 1)  # [B, count, n]: grams[:, j] = inputs[j .. j+n-1], ending at t = j+n-1
    rows = torch.arange(batch, device=inputs.device)[:, None].expand(batch, count)
    keys = torch.cat([rows[..., None], grams, targets[:, n - 1 :, None]], dim=-1).reshape(batch * count, n + 2)
    _, ids = torch.unique(keys, dim=0, return_inverse=True)
    order = torch.arange(batch * count, device=inputs.device)
    first = torch.full((int(ids.max()) + 1,), batch * count, dtype=order.dtype, device=inputs.device)
    first = first.scatter_reduce(0, ids, order, reduce="amin")
    recall[:, n - 1 :] = (order > first[ids]).reshape(batch, count)  # row-major: an earlier flat index is an
    return recall  # earlier position of the same window (the key holds the row)


def token_losses(model, batch, autocast) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss (nats, float32) and whether the argmax is right, at every position: ``[B, T]`` each.
    The head runs at every position (``LanguageModel.forward`` without ``positions``)."""
    with autocast:
        logits = model(batch.inputs)
    logits = logits.float()
    losses = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), reduction="none")
    return losses.view_as(batch.targets), logits.argmax(-1) == batch.targets


def _windows(model, task, seq_len: int, seed: int, split: str, batches: int, batch_size: int, device, autocast):
    """Per batch of ``split``'s stream: (batch, losses, hits), the model in eval mode, without gradients."""
    model.eval()
    generator = stream(seed, split)
    with torch.no_grad():
        for _ in range(batches):
            batch = draw(task, generator, batch_size, seq_len, split).to(device)
            losses, hits = token_losses(model, batch, autocast())
            yield batch, losses, hits


def validation_loss(model, task, seq_len, seed, batches, batch_size, device, autocast) -> float:
    """The mean loss over ``batches`` batches of the validation stream (what early stopping watches)."""
    total = count = 0.0
    for _, losses, _ in _windows(model, task, seq_len, seed, "valid", batches, batch_size, device, autocast):
        total += float(losses.double().sum())
        count += losses.numel()
    return total / count


def _mean(values: torch.Tensor) -> float | None:
    return float(values.double().mean()) if values.numel() else None


def evaluate_lm(model, task, seq_len, seed, batches, batch_size, device, autocast, recall_ngram=RECALL_NGRAM) -> dict:
    """Every test metric of the module docstring at window length ``seq_len``."""
    losses, hits, recall = [], [], []
    for batch, loss, hit in _windows(model, task, seq_len, seed, "test", batches, batch_size, device, autocast):
        losses.append(loss.double().cpu())
        hits.append(hit.cpu())
        recall.append(recall_tokens(batch.inputs, batch.targets, recall_ngram).cpu())
    losses, hits, recall = torch.cat(losses), torch.cat(hits), torch.cat(recall)
    windows = losses.mean(dim=1)
    test_loss = float(losses.mean())
    se = float(windows.std(unbiased=True)) / math.sqrt(len(windows)) if len(windows) > 1 else None
    correct, scored = int(hits.sum()), hits.numel()
    low, high = wilson_interval(correct, scored)
    return {
        "test_loss": test_loss,
        "test_loss_se": se,
        "test_loss_ci_low": None if se is None else test_loss - Z_95 * se,
        "test_loss_ci_high": None if se is None else test_loss + Z_95 * se,
        "bits_per_char": test_loss / math.log(2),
        "accuracy": correct / scored,
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "n_scored": scored,
        "seq_accuracy": float(hits.all(dim=1).double().mean()),
        "last_accuracy": float(hits[:, -1].double().mean()),
        "loss_by_position": [round(float(value), 4) for value in losses.mean(dim=0)],
        "recall_ngram": int(recall_ngram),
        "recall_fraction": float(recall.double().mean()),
        "recall_loss": _mean(losses[recall]),
        "other_loss": _mean(losses[~recall]),
    }
