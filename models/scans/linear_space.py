"""A linear-space scan for minGRU/minLSTM with a hand-written backward.

Both min-RNNs are one gated linear recurrence per channel::

    a_t = sigmoid(u_t)            keep gate: minGRU u = -k (a = 1 - z);
                                  minLSTM u = softplus(-k_i) - softplus(-k_f) (a = f')
    b_t = (1 - a_t) * g(c_t)      c: the candidate pre-activation, g as in ``log_space``
    h_t = a_t * h_{t-1} + b_t

Forward (``scan``): no logarithms. The time axis is cut into chunks of ``C``
steps; one Python-level step updates the same position of *every* chunk at
once (``C`` steps), a running product gives each chunk's decay, and a pass
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

minLSTM without the normalisation (``kind="lstm-unnormalised"``, the official
code's ``use_coeff_norm=False``) has two free gates, ``a = sigmoid(k_f)`` and
``b = sigmoid(k_i) g(c)``; ``UnnormalisedScan`` runs it with the same two scans
and its own elementwise gradients (its docstring).

``GatedScan`` fuses the gate activations with the scan: it takes the
pre-activations, one contiguous ``[B, T, H]`` tensor each (candidate, gate for
minGRU; candidate, forget, input for minLSTM), saves the gate pre-activations,
``h``, ``a``, ``g(c)`` and ``g'(c)`` for the backward, and returns one gradient
per input tensor. The backward allocates one ``[B, T, H]`` tensor (``G``) and
writes every gradient into a buffer the forward made and nothing needs any
more (``g'(c)``, ``g(c)``, then ``G`` and ``a``), so it runs once per forward
(:func:`saved_buffers_kept` for ``retain_graph``). Everything runs in float32,
or float64 for float64 inputs.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch.nn import functional as F

from models.scans import scan_dtype

MIN_CHUNKED_LENGTH = 64  # below this a plain step loop is as fast
KINDS = ("gru", "lstm", "lstm-unnormalised")  # the projection's layout: (c, k) | (c, k_f, k_i) | (c, k_f, k_i)


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
    for j in range(1, size):  # every chunk from a zero state, all at once
        h4[:, :, j].addcmul_(a4[:, :, j], h4[:, :, j - 1])
    decay = torch.empty_like(a4)  # decay[.., k, j] = a_{kC} ... a_{kC+j}
    decay[:, :, 0] = a4[:, :, 0]
    for j in range(1, size):
        torch.mul(decay[:, :, j - 1], a4[:, :, j], out=decay[:, :, j])
    for k in range(1, chunks):  # carry chunk k-1's last state into chunk k
        h4[:, k].addcmul_(decay[:, k], h4[:, k - 1, size - 1].unsqueeze(1))
    for t in range(body, seq_len):  # the tail shorter than a chunk
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
    head = seq_len - chunks * size  # the chunks are aligned to the end
    g4 = grad[:, head:].view(batch, chunks, size, hidden)
    a4 = a[:, head:].view(batch, chunks, size, hidden)
    for j in range(size - 2, -1, -1):  # every chunk from a zero carry, all at once
        g4[:, :, j].addcmul_(a4[:, :, j + 1], g4[:, :, j + 1])
    # decay[.., k, j] = a_{kC+j+1} ... a_{kC+C}: how much of chunk k+1's first
    # gradient reaches position j of chunk k. The last chunk receives nothing.
    decay = torch.empty_like(g4[:, : chunks - 1])
    decay[:, :, size - 1] = a4[:, 1:, 0]
    for j in range(size - 2, -1, -1):
        torch.mul(decay[:, :, j + 1], a4[:, : chunks - 1, j + 1], out=decay[:, :, j])
    for k in range(chunks - 2, -1, -1):  # carry chunk k+1's first gradient back into chunk k
        g4[:, k].addcmul_(decay[:, k], g4[:, k + 1, 0].unsqueeze(1))
    for t in range(head - 1, -1, -1):  # the head shorter than a chunk
        grad[:, t].addcmul_(a[:, t + 1], grad[:, t + 1])
    return grad


def _keep_gate(gates: tuple, scratch: torch.Tensor) -> torch.Tensor:
    """``a`` (a new tensor) from ``(k,)`` (minGRU: ``a = sigmoid(-k)``) or ``(k_f, k_i)``
    (minLSTM: ``a = f' = sigmoid(k_f) / (sigmoid(k_f) + sigmoid(k_i))``).

    minLSTM's ratio is exact while ``sigmoid(k_f) + sigmoid(k_i)`` stays far from
    float underflow (``>= sqrt(tiny)``: both gates deep in their negative tails,
    below about -43 in float32, would make it 0/0). Where any element falls
    below that, the whole tensor is computed in log space instead:
    ``a = sigmoid(log sigmoid(k_f) - log sigmoid(k_i))``, finite for any gates.
    ``scratch`` (a tensor of the gates' shape whose contents do not matter) holds the
    denominator, so no temporary is allocated."""
    if len(gates) == 1:
        return torch.neg(gates[0]).sigmoid_()
    forget, inp = gates
    keep = torch.sigmoid(forget)
    denominator = torch.sigmoid(inp, out=scratch).add_(keep)
    if denominator.amin() >= torch.finfo(denominator.dtype).tiny ** 0.5:
        return keep.div_(denominator)
    return F.logsigmoid(forget).sub_(F.logsigmoid(inp)).sigmoid_()


def _g_parts(candidate: torch.Tensor, scratch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``g(c) = sigmoid(min(c, 0)) + max(c, 0)`` and its derivative ``g'(c)`` (new tensors;
    ``scratch``, of ``c``'s shape, is overwritten).

    ``g'(c) = 1`` for ``c >= 0`` and ``s (1 - s)`` below (``s = sigmoid(min(c, 0))``),
    written mask-free as ``s (1 - s) + 0.75 * step(c)`` (``s = 0.5`` above zero) with
    ``step(c) = (copysign(1, c) + 1) / 2``: in-place arithmetic on two allocations, no
    ``torch.where`` or boolean masks, whose CPU kernels cost several elementwise passes each."""
    sig_negative = torch.clamp(candidate, max=0).sigmoid_()
    gc = torch.clamp(candidate, min=0).add_(sig_negative)
    half_step = torch.tensor(0.375, dtype=candidate.dtype, device=candidate.device)
    step = torch.copysign(half_step, candidate, out=scratch).add_(0.375)
    return gc, sig_negative.addcmul_(sig_negative, sig_negative, value=-1).add_(step)


_REUSE_SAVED_BUFFERS = True


@contextlib.contextmanager
def saved_buffers_kept():
    """Inside it, :class:`GatedScan`'s backward leaves its saved tensors intact, so the graph
    can be differentiated more than once (``retain_graph=True``, ``torch.autograd.gradcheck``).
    Outside it (the default) the backward writes its gradients into the buffers the forward
    saved, which are dead by then: one fresh ``[B, T, H]`` tensor per backward instead of
    seven, each of which costs page faults on CPU."""
    global _REUSE_SAVED_BUFFERS
    previous, _REUSE_SAVED_BUFFERS = _REUSE_SAVED_BUFFERS, False
    try:
        yield
    finally:
        _REUSE_SAVED_BUFFERS = previous


class GatedScan(torch.autograd.Function):
    """``h0[B, H]`` or None, candidate ``c[B, T, H]``, gate pre-activations (``k`` or ``k_f, k_i``,
    each ``[B, T, H]``) → ``h[B, T, H]`` (see the module docstring)."""

    @staticmethod
    def forward(ctx, h0, candidate, *gates):
        input_dtype, dtype = candidate.dtype, scan_dtype(candidate.dtype)
        candidate, gates = candidate.to(dtype).contiguous(), tuple(k.to(dtype).contiguous() for k in gates)
        h = torch.empty_like(candidate)  # scratch until it holds b
        a = _keep_gate(gates, scratch=h)
        gc, grad_g = _g_parts(candidate, scratch=h)
        torch.addcmul(gc, a, gc, value=-1, out=h)  # b = (1 - a) g(c)
        if h0 is not None:
            h[:, 0].addcmul_(a[:, 0], h0.to(dtype))
        scan(a, h)
        # a, g(c) and g'(c) are kept (three tensors of h's size, all made here) instead of
        # recomputing the gate arithmetic in the backward, which writes into them
        ctx.save_for_backward(h0, h, a, gc, grad_g, *gates)
        ctx.input_dtype = input_dtype
        ctx.reuse = _REUSE_SAVED_BUFFERS
        ctx.spent = False
        return h

    @staticmethod
    def backward(ctx, grad_h):
        if ctx.spent:  # checked before unpacking, which would only say "modified by an inplace operation"
            raise RuntimeError(
                "the linear min-RNN scan's backward wrote into its saved buffers and runs once per "
                "forward: run the forward again, or differentiate inside "
                "models.scans.linear_space.saved_buffers_kept()"
            )
        h0, h, a, gc, grad_g, *gates = ctx.saved_tensors
        if ctx.reuse:
            ctx.spent = True
        else:
            a, gc, grad_g = a.clone(), gc.clone(), grad_g.clone()
        grad = reverse_scan(a, grad_h.to(h.dtype, copy=True, memory_format=torch.contiguous_format))  # G
        grad_h0 = (a[:, 0] * grad[:, 0]).to(h0.dtype) if h0 is not None and ctx.needs_input_grad[0] else None
        grad_candidate = grad_g.mul_(grad)  # dL/dc = G (1 - a) g'(c), in g'(c)
        grad_candidate.addcmul_(grad_candidate, a, value=-1)
        # dL/du = G (h_{t-1} - g(c)) a (1 - a), h_{t-1} being h0 (or 0) at t = 1; in g(c)'s buffer.
        grad_u = gc.neg_()
        grad_u[:, 1:].add_(h[:, :-1])
        if h0 is not None:
            grad_u[:, 0].add_(h0.to(h.dtype))
        torch.ops.aten.sigmoid_backward(grad_u.mul_(grad), a, grad_input=grad_u)
        if len(gates) == 1:  # u = -k
            grad_gates = (grad_u.neg_(),)
        else:  # du/dk_f = sigmoid(-k_f), du/dk_i = -sigmoid(-k_i); into G's and a's buffers, dead now
            forget, inp = gates
            grad_gates = (
                torch.neg(forget, out=grad).sigmoid_().mul_(grad_u),
                torch.neg(inp, out=a).sigmoid_().mul_(grad_u).neg_(),
            )
        return (grad_h0, grad_candidate.to(ctx.input_dtype), *(g.to(ctx.input_dtype) for g in grad_gates))


class UnnormalisedScan(torch.autograd.Function):
    """minLSTM with free gates: ``h0[B, H]`` or None, ``c``, ``k_f``, ``k_i`` (each ``[B, T, H]``) → ``h``::

        a_t = sigmoid(k_f,t)     s_t = sigmoid(k_i,t)     h_t = a_t h_{t-1} + s_t g(c_t)

    Backward, with ``G`` from ``reverse_scan`` as for :class:`GatedScan`::

        dL/dk_f = G_t a_t (1 - a_t) h_{t-1}     dL/dk_i = G_t s_t (1 - s_t) g(c_t)
        dL/dc_t = G_t s_t g'(c_t)               dL/dh_0 = a_1 G_1

    It saves ``h``, ``a``, ``s``, ``g(c)`` and ``g'(c)`` and writes its gradients into new
    tensors, so, unlike :class:`GatedScan`, it can be differentiated more than once."""

    @staticmethod
    def forward(ctx, h0, candidate, forget, inp):
        input_dtype, dtype = candidate.dtype, scan_dtype(candidate.dtype)
        candidate, forget, inp = (t.to(dtype).contiguous() for t in (candidate, forget, inp))
        h = torch.empty_like(candidate)
        gc, grad_g = _g_parts(candidate, scratch=h)
        a, s = torch.sigmoid(forget), torch.sigmoid(inp)
        torch.mul(s, gc, out=h)  # b = s g(c)
        if h0 is not None:
            h[:, 0].addcmul_(a[:, 0], h0.to(dtype))
        scan(a, h)
        ctx.save_for_backward(h0, h, a, s, gc, grad_g)
        ctx.input_dtype = input_dtype
        return h

    @staticmethod
    def backward(ctx, grad_h):
        h0, h, a, s, gc, grad_g = ctx.saved_tensors
        grad = reverse_scan(a, grad_h.to(h.dtype, copy=True, memory_format=torch.contiguous_format))  # G
        grad_h0 = (a[:, 0] * grad[:, 0]).to(h0.dtype) if h0 is not None and ctx.needs_input_grad[0] else None
        previous = torch.zeros_like(h)  # h_{t-1}: h0 (or 0) at t = 1
        previous[:, 1:] = h[:, :-1]
        if h0 is not None:
            previous[:, 0] = h0.to(h.dtype)
        grad_forget = torch.ops.aten.sigmoid_backward(previous.mul_(grad), a)
        grad_inp = torch.ops.aten.sigmoid_backward(grad * gc, s)
        grad_candidate = grad.mul_(s).mul_(grad_g)
        return grad_h0, *(t.to(ctx.input_dtype) for t in (grad_candidate, grad_forget, grad_inp))


def gated_scan(
    h0: torch.Tensor | None, candidate: torch.Tensor, *gates: torch.Tensor, normalised: bool = True
) -> torch.Tensor:
    """minGRU: ``gated_scan(h0, c, k)``; minLSTM: ``gated_scan(h0, c, k_f, k_i)``; all ``[B, T, H]``.
    ``normalised=False`` (minLSTM only): the free gates of :class:`UnnormalisedScan`."""
    if len(gates) not in (1, 2):
        raise ValueError(f"one gate (minGRU) or two (minLSTM), not {len(gates)}")
    if not normalised:
        if len(gates) != 2:
            raise ValueError("normalised=False is minLSTM's form: it takes two gates (k_f, k_i)")
        return UnnormalisedScan.apply(h0, candidate, *gates)
    return GatedScan.apply(h0, candidate, *gates)


def gated_scan_projection(projection: torch.Tensor, h0: torch.Tensor | None, hidden: int, kind: str) -> torch.Tensor:
    """The same from a fused projection ``[B, T, (2|3) H]`` (candidate, gate | candidate, forget, input)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
    return gated_scan(h0, *projection.split(hidden, dim=-1), normalised=kind != "lstm-unnormalised")
