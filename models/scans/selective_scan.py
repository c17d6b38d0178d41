"""Mamba-1's selective scan (S6) in plain PyTorch, chunked for speed.

Per channel ``d`` and state index ``n`` (``A[d, n] < 0``, ``dt > 0``)::

    h_t[d, n] = exp(dt_t[d] A[d, n]) h_{t-1}[d, n] + dt_t[d] x_t[d] B_t[n]
    y_t[d]    = sum_n C_t[n] h_t[d, n]

The decay differs for every ``(d, n)``, so unlike SSD there is no matmul
form: any exact method touches ``T * d_inner * d_state`` numbers. We touch
them a handful of times with cumulative sums instead of a loop over ``t``.
Split time into chunks of ``L`` steps; inside a chunk, with the cumulative
log-decay ``S_t = A * sum_{u <= t} dt_u`` (from the chunk start)::

    h_t = exp(S_t) * ( h_start + sum_{s <= t} exp(-S_s) * dt_s x_s B_s )

The sum is a prefix sum over the chunk axis (a matmul with a triangular matrix
of ones); ``h_start`` of every chunk comes from a short loop over chunks
(``T / L`` steps on ``[batch, d, n]``). The backward is written by hand (see
``_ChunkedScan``): the same scan, reversed in time.

Numerical safety: ``exp(-S_s)`` grows with the log-decay accumulated inside a
chunk, so the chunk length is picked per call from the data so that
``L * max_t(dt_t |A|) <= max_log_decay`` (30 in float32, so
``exp(-S) <= 1e13``; 200 in float64). The factorisation is exact algebra; the
only rounding beyond a sequential loop is ``eps * |S|`` in the exponent.
Large steps just mean shorter chunks (more loop steps), never overflow; a
single step decaying faster than ``exp(-max_log_decay)`` is clamped to it,
a change far below rounding.

Everything runs in float32 (float64 if the inputs are float64), also for
bfloat16/float16 inputs and under ``torch.autocast``, which is switched off
inside the scan (its matmuls would otherwise run, and keep the state, in bf16).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from models.scans import scan_dtype, without_autocast

MAX_LOG_DECAY = {torch.float32: 30.0, torch.float64: 200.0}


def chunk_length(dt: torch.Tensor, A: torch.Tensor, max_chunk: int, max_log_decay: float) -> int:
    """Longest chunk (``<= max_chunk``) whose accumulated log-decay stays below ``max_log_decay``."""
    # dt >= 0 and -A >= 0, so per channel max_t,n dt*|A| = max_t dt * max_n |A|.
    largest_step = (dt.detach().amax(dim=(0, 1)) * (-A.detach()).amax(dim=-1)).max().item()
    if not largest_step * max_chunk > max_log_decay:  # also NaN: let it propagate as usual
        return max_chunk
    return max(1, int(max_log_decay // largest_step))


def prefix_sum(values: torch.Tensor, reverse: bool = False) -> torch.Tensor:
    """Cumulative sum over dim 2 of ``[b, c, L, ...]`` (from the end if ``reverse``), as a
    matmul with a triangular matrix of ones: on CPU several times faster than ``cumsum``
    over a middle dimension."""
    b, c, L = values.shape[:3]
    ones = torch.ones(L, L, dtype=values.dtype, device=values.device)
    ones = ones.triu() if reverse else ones.tril()
    return torch.matmul(ones, values.reshape(b, c, L, -1)).view(values.shape)


class _ChunkedScan(torch.autograd.Function):
    """The chunked scan on ``[b, c, L, ...]`` inputs, with a hand-written backward.

    Forward keeps two ``[b, c, L, d, n]`` tensors (``exp(S)`` and ``h``); autograd
    through the same ops would keep six and make twice as many passes. Backward:
    ``g_t = dL/dh_t`` obeys the same recurrence reversed in time,
    ``g_t = dy_t C_t + a_{t+1} g_{t+1}``, so inside a chunk
    ``g_t = exp(-S_t) * (sum_{t' >= t} exp(S_t') dy_t' C_t' + exp(S_end) K)`` with
    ``K = a g`` at the next chunk's first step (a reverse loop over chunks). Then
    ``d(dt x B)_t = g_t``, ``dC_t = dy_t . h_t`` and the log-decay gradient is
    ``g_t * a_t h_{t-1} = g_t * (h_t - dt_t x_t B_t)``.
    """

    @staticmethod
    def forward(ctx, x, dt, A, B, C, initial_state, min_log_decay):
        # x, dt: [b, c, L, d]; B, C: [b, c, L, n]; A: [d, n]; initial_state: [b, d, n]
        u = dt * x
        cum_log_decay = torch.mul(dt.cumsum(dim=2).unsqueeze(-1), A)  # S_t = A * sum dt
        if min_log_decay is not None:
            cum_log_decay.clamp_(min=min_log_decay)
        decay_from_start = cum_log_decay.exp_()  # exp(S_t) <= 1
        scaled = torch.reciprocal(decay_from_start).mul_(u.unsqueeze(-1)).mul_(B.unsqueeze(3))
        states = prefix_sum(scaled)  # sum exp(-S_s) dt x B
        del scaled
        state = initial_state
        for c in range(x.shape[1]):  # h_t = exp(S_t) * (h_start + ...), chunk by chunk, in place
            chunk = states[:, c].add_(state.unsqueeze(1)).mul_(decay_from_start[:, c])
            state = chunk[:, -1]
        y = torch.matmul(states, C.unsqueeze(-1)).squeeze(-1)  # [b, c, L, d]
        ctx.save_for_backward(x, dt, A, B, C, decay_from_start, states)
        return y, state.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    @without_autocast
    def backward(ctx, dy, d_final_state):
        # Each fresh [b, c, L, d, n] tensor costs ~3 passes in page faults on CPU,
        # so two buffers are allocated and reused (out=, in-place ops).
        x, dt, A, B, C, decay_from_start, states = ctx.saved_tensors
        buffer = torch.mul(decay_from_start, dy.unsqueeze(-1)).mul_(C.unsqueeze(3))  # exp(S_t) dy_t C_t
        grads = prefix_sum(buffer, reverse=True)
        carry = d_final_state
        for c in reversed(range(x.shape[1])):
            chunk = grads[:, c].add_((decay_from_start[:, c, -1] * carry).unsqueeze(1))
            carry = chunk[:, 0].clone()  # a_first * g_first
            chunk.div_(decay_from_start[:, c])  # g_t
        u = dt * x
        dC = torch.matmul(dy.unsqueeze(-2), states).squeeze(-2)
        dB = torch.matmul(u.unsqueeze(-2), grads).squeeze(-2)
        du = torch.matmul(grads, B.unsqueeze(-1)).squeeze(-1)
        d_log_decay = torch.addcmul(states, u.unsqueeze(-1), B.unsqueeze(3), value=-1, out=buffer).mul_(grads)
        dA = torch.mul(d_log_decay, dt.unsqueeze(-1), out=grads).sum(dim=(0, 1, 2))
        d_dt = d_log_decay.mul_(A).sum(-1) + du * x
        return du * dt, d_dt, dA, dB, dC, carry, None


@without_autocast
def selective_scan(x, dt, A, B, C, initial_state=None, max_chunk: int = 64, max_log_decay: float | None = None):
    """Chunked S6 scan.

    ``x, dt: [b, T, d]`` (``dt`` after softplus), ``A: [d, n]`` (negative),
    ``B, C: [b, T, n]``, ``initial_state: [b, d, n]`` or ``None`` (zeros).
    Returns ``y[b, T, d]`` (no ``D`` skip, no gate) and the state after the last
    step, both in :func:`scan_dtype`.
    """
    dtype = scan_dtype(x.dtype)
    x, dt, A, B, C = (t.to(dtype) for t in (x, dt, A, B, C))
    batch, length, d_inner = x.shape
    max_log_decay = max_log_decay or MAX_LOG_DECAY[dtype]
    L = chunk_length(dt, A, max_chunk, max_log_decay)
    n_chunks = -(-length // L)
    L = -(-length // n_chunks)  # same number of chunks, least padding
    pad = n_chunks * L - length
    if pad:  # padded steps have dt = 0: decay 1 and no input, so the state passes through
        x, dt, B, C = (F.pad(t, (0, 0, 0, pad)) for t in (x, dt, B, C))
    if initial_state is None:
        initial_state = x.new_zeros(batch, d_inner, A.shape[-1])
    x, dt, B, C = (t.reshape(batch, n_chunks, L, t.shape[-1]) for t in (x, dt, B, C))
    # A single step decaying by more than exp(-max_log_decay) is clamped to it: a change
    # below 1e-13 (float32) / 1e-87 (float64) of the state, invisible after rounding.
    min_log_decay = -max_log_decay if L == 1 else None
    y, state = _ChunkedScan.apply(x, dt, A, B, C, initial_state.to(dtype), min_log_decay)
    return y.reshape(batch, n_chunks * L, d_inner)[:, :length], state


@without_autocast
def selective_scan_step(state, x, dt, A, B, C):
    """One step: ``state[b, d, n]``, ``x, dt: [b, d]``, ``B, C: [b, n]`` → ``(y[b, d], state)``."""
    dtype = scan_dtype(x.dtype)
    x, dt, A, B, C = (t.to(dtype) for t in (x, dt, A, B, C))
    decay = torch.exp(dt.unsqueeze(-1) * A)
    state = decay * state.to(dtype) + (dt * x).unsqueeze(-1) * B.unsqueeze(1)
    y = torch.matmul(state, C.unsqueeze(-1)).squeeze(-1)
    return y, state


def selective_scan_loop(x, dt, A, B, C, initial_state=None):
    """The same recurrence, one step at a time (ground truth for tests)."""
    batch, length, d_inner = x.shape
    state = (
        initial_state
        if initial_state is not None
        else x.new_zeros(batch, d_inner, A.shape[-1], dtype=scan_dtype(x.dtype))
    )
    ys = []
    for t in range(length):
        y, state = selective_scan_step(state, x[:, t], dt[:, t], A, B[:, t], C[:, t])
        ys.append(y)
    return torch.stack(ys, dim=1), state
