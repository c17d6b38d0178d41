"""A linear-space scan for minGRU/minLSTM with a hand-written backward.

Both min-RNNs are one gated linear recurrence per channel::

    a_t = sigmoid(u_t)            keep gate: minGRU u = -k (a = 1 - z);
                                  minLSTM u = softplus(-k_i) - softplus(-k_f) (a = f')
    b_t = (1 - a_t) * g(c_t)      c: the candidate pre-activation, g as in ``log_space``
    h_t = a_t * h_{t-1} + b_t

Forward (``scan``): no logarithms. The time axis is cut into chunks of ``C``
steps; one Python-level step updates the same position of *every* chunk at
once (``C`` steps), ``cumprod`` gives each chunk's running decay, and a pass
over the chunks carries each chunk's last state into the next
(``h += decay * carry``). That is ``C + T/C`` tensor operations instead of
``T``, each over ``B * T/C * H`` elements, and no division (a decay that
underflows to zero is the correct limit, never a NaN).

Backward: the adjoint of a linear recurrence is the same recurrence run in
reverse, ``G_t = dL/dh_t + a_{t+1} G_{t+1}`` (``reverse_scan``), after which
every gradient is elementwise::

    dL/du_t = G_t * a_t (1 - a_t) * (h_{t-1} - g(c_t))
    dL/dc_t = G_t * (1 - a_t) * g'(c_t)
    dL/dh_0 = a_1 G_1

``GatedScan`` fuses the gate activations with the scan: it takes the input
projection itself (``[B, T, 2H]`` = candidate, gate for minGRU;
``[B, T, 3H]`` = candidate, forget, input for minLSTM), saves that projection,
``a`` and ``h`` for the backward (no intermediate of the gate arithmetic), and
writes the projection's gradient into one buffer (no ``cat`` of per-gate
gradients). Everything runs in float32, or float64 for float64 inputs.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from models.scans import scan_dtype

MIN_CHUNKED_LENGTH = 64  # below this a plain step loop is as fast


def chunk_size(seq_len: int) -> int:
    """``C`` near ``sqrt(T)`` minimises the ``C + T/C`` Python-level steps."""
    return max(8, min(64, int(math.sqrt(seq_len))))


def scan(a: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """In place: ``h[B, T, H]`` holds ``b`` on entry and ``h_t = a_t h_{t-1} + b_t``
    (zero initial state; fold an initial state into ``b_1`` first) on return.
    ``a`` and ``h`` must be contiguous and of one dtype."""
    batch, seq_len, hidden = h.shape
    if seq_len < MIN_CHUNKED_LENGTH:
        for t in range(1, seq_len):
            h[:, t].addcmul_(a[:, t], h[:, t - 1])
        return h
    size = chunk_size(seq_len)
    chunks = seq_len // size
    body = chunks * size
    h4 = h[:, :body].view(batch, chunks, size, hidden)
    a4 = a[:, :body].view(batch, chunks, size, hidden)
    for j in range(1, size):                  # every chunk from a zero state, all at once
        h4[:, :, j].addcmul_(a4[:, :, j], h4[:, :, j - 1])
    decay = torch.cumprod(a4, dim=2)          # decay[.., k, j] = a_{kC} ... a_{kC+j}
    for k in range(1, chunks):                # carry chunk k-1's last state into chunk k
        h4[:, k].addcmul_(decay[:, k], h4[:, k - 1, size - 1].unsqueeze(1))
    for t in range(body, seq_len):            # the tail shorter than a chunk
        h[:, t].addcmul_(a[:, t], h[:, t - 1])
    return h


def reverse_scan(a: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """In place: ``grad[B, T, H]`` holds ``dL/dh`` on entry and
    ``G_t = grad_t + a_{t+1} G_{t+1}`` on return (``a_T`` never read)."""
    batch, seq_len, hidden = grad.shape
    if seq_len < MIN_CHUNKED_LENGTH:
        for t in range(seq_len - 2, -1, -1):
            grad[:, t].addcmul_(a[:, t + 1], grad[:, t + 1])
        return grad
    size = chunk_size(seq_len)
    chunks = seq_len // size
    head = seq_len - chunks * size            # the chunks are aligned to the end
    g4 = grad[:, head:].view(batch, chunks, size, hidden)
    a4 = a[:, head:].view(batch, chunks, size, hidden)
    for j in range(size - 2, -1, -1):         # every chunk from a zero carry, all at once
        g4[:, :, j].addcmul_(a4[:, :, j + 1], g4[:, :, j + 1])
    # decay[.., k, j] = a_{kC+j+1} ... a_{kC+C}: how much of chunk k+1's first
    # gradient reaches position j of chunk k. The last chunk receives nothing.
    decay = torch.empty_like(g4[:, :chunks - 1])
    decay[:, :, size - 1] = a4[:, 1:, 0]
    for j in range(size - 2, -1, -1):
        torch.mul(decay[:, :, j + 1], a4[:, :chunks - 1, j + 1], out=decay[:, :, j])
    for k in range(chunks - 2, -1, -1):       # carry chunk k+1's first gradient back into chunk k
        g4[:, k].addcmul_(decay[:, k], g4[:, k + 1, 0].unsqueeze(1))
    for t in range(head - 1, -1, -1):         # the head shorter than a chunk
        grad[:, t].addcmul_(a[:, t + 1], grad[:, t + 1])
    return grad


def _keep_logit(projection: torch.Tensor, hidden: int, kind: str) -> torch.Tensor:
    """``u`` with ``a = sigmoid(u)``, from the gate columns of the projection."""
    if kind == "gru":
        return torch.neg(projection[..., hidden:])
    forget, inp = projection[..., hidden:2 * hidden], projection[..., 2 * hidden:]
    return F.softplus(-inp).sub_(F.softplus(-forget))


def _g_and_slope(candidate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``g(c)`` and ``g'(c)``: ``c + 0.5`` and 1 for ``c >= 0``, ``sigmoid(c)`` and ``s(1 - s)`` below."""
    sig = torch.sigmoid(candidate.clamp(max=0))
    slope = torch.where(candidate >= 0, 1.0, sig * (1 - sig))
    return sig.add_(F.relu(candidate)), slope


class GatedScan(torch.autograd.Function):
    """``projection[B, T, (2|3) H]``, optional ``h0[B, H]`` → ``h[B, T, H]`` (see the module docstring)."""

    @staticmethod
    def forward(ctx, projection, h0, hidden: int, kind: str):
        input_dtype, dtype = projection.dtype, scan_dtype(projection.dtype)
        projection = projection.to(dtype)
        a = _keep_logit(projection, hidden, kind).sigmoid_()
        candidate = projection[..., :hidden]
        h = torch.sigmoid(candidate.clamp(max=0)).add_(F.relu(candidate))   # g(c)
        h.mul_(1 - a)                                                      # b = (1 - a) g(c)
        if h0 is not None:
            h[:, 0].addcmul_(a[:, 0], h0.to(dtype))
        scan(a, h)
        ctx.save_for_backward(projection, h0, h, a)  # a: one tensor more, saves recomputing the gates
        ctx.hidden, ctx.kind, ctx.input_dtype = hidden, kind, input_dtype
        return h

    @staticmethod
    def backward(ctx, grad_h):
        projection, h0, h, a = ctx.saved_tensors
        hidden, kind = ctx.hidden, ctx.kind
        grad = reverse_scan(a, grad_h.to(h.dtype).contiguous().clone())    # G
        gc, slope = _g_and_slope(projection[..., :hidden])
        one_minus_a = 1 - a
        grad_projection = torch.empty(projection.shape, dtype=h.dtype, device=h.device)
        torch.mul(grad, one_minus_a, out=grad_projection[..., :hidden]).mul_(slope)       # dL/dc
        # dL/du = G a (1 - a) (h_{t-1} - g(c)), h_{t-1} being h0 (or 0) at t = 1.
        grad_u = gc.neg_()
        grad_u[:, 1:].add_(h[:, :-1])
        if h0 is not None:
            grad_u[:, 0].add_(h0.to(h.dtype))
        grad_u.mul_(grad).mul_(a).mul_(one_minus_a)
        if kind == "gru":
            torch.neg(grad_u, out=grad_projection[..., hidden:])
        else:
            forget, inp = projection[..., hidden:2 * hidden], projection[..., 2 * hidden:]
            torch.neg(forget, out=grad_projection[..., hidden:2 * hidden]).sigmoid_().mul_(grad_u)
            torch.neg(inp, out=grad_projection[..., 2 * hidden:]).sigmoid_().mul_(grad_u).neg_()
        grad_h0 = (a[:, 0] * grad[:, 0]).to(h0.dtype) if h0 is not None and ctx.needs_input_grad[1] else None
        return grad_projection.to(ctx.input_dtype), grad_h0, None, None


def gated_scan(projection: torch.Tensor, h0: torch.Tensor | None, hidden: int, kind: str) -> torch.Tensor:
    """``kind`` ``"gru"`` (projection = candidate, gate) or ``"lstm"`` (candidate, forget, input)."""
    if kind not in ("gru", "lstm"):
        raise ValueError(f"kind must be 'gru' or 'lstm', not {kind!r}")
    return GatedScan.apply(projection, h0, hidden, kind)
