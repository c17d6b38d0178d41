"""Mamba-2's scan: state space duality (SSD; Dao & Gu, 2024, arXiv 2405.21060, Sec. 6)
in plain PyTorch, the chunked matmul form.

Per head ``h`` (scalar ``A[h] < 0``), head channel ``p`` and state index ``n``,
with ``B, C`` shared by the heads of a group::

    H_t[p, n] = a_t H_{t-1}[p, n] + dt_t x_t[p] B_t[n]      a_t = exp(dt_t A)
    y_t[p]    = sum_n C_t[n] H_t[p, n]

Because the decay is one scalar per head and step, a chunk of ``L`` steps is a
masked "attention" product, and only chunk-boundary states need a recurrence.
With ``seg[t, s] = sum_{s < u <= t} log a_u`` (``-inf`` for ``s > t``)::

    y_t  = sum_{s <= t in chunk} (C_t . B_s) exp(seg[t, s]) dt_s x_s     within the chunk
         + exp(sum_{u <= t} log a_u) C_t . H_start                       from earlier chunks
    H_end = sum_s exp(seg[L-1, s]) dt_s x_s B_s^T + exp(total) H_start

The chunk-to-chunk step ``H_start(c+1) = exp(total_c) H_start(c) + state_c`` is
again an SSD product over chunks (a ``(c+1) x (c+1)`` decay matrix), so there is
no Python loop at all.

Numerics: every exponent is a sum of ``log a <= 0`` over a segment, computed as
a direct masked cumulative sum (not a difference of two cumulative sums, which
loses ``eps * |cumsum|`` in float32), so nothing overflows and decays are as
accurate as a sequential product. The scan runs in float32 (float64 for float64
inputs), also for bfloat16/float16 inputs and under ``torch.autocast``, which is
switched off inside it (its matmuls would otherwise run, and keep the state, in bf16).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from models.scans import scan_dtype, without_autocast


def segment_sums(log_a: torch.Tensor) -> torch.Tensor:
    """``log_a[..., L]`` → ``seg[..., L, L]`` with ``seg[t, s] = sum_{s < u <= t} log_a[u]``
    for ``s <= t`` and ``-inf`` above the diagonal (so ``exp(seg)`` is the causal decay mask)."""
    L = log_a.shape[-1]
    ones = torch.ones(L, L, dtype=torch.bool, device=log_a.device)
    rows = log_a.unsqueeze(-1).expand(*log_a.shape, L)  # rows[u, s] = log_a[u]
    sums = rows.masked_fill(~ones.tril(-1), 0).cumsum(dim=-2)  # keep u > s, sum u <= t
    return sums.masked_fill(~ones.tril(), float("-inf"))


@without_autocast
def ssd_scan(x, dt, A, B, C, chunk_size: int = 64, initial_state=None):
    """Chunked SSD scan.

    ``x: [b, T, h, p]``, ``dt: [b, T, h]`` (after softplus), ``A: [h]`` (negative),
    ``B, C: [b, T, g, n]`` (``h`` divisible by ``g``), ``initial_state: [b, h, p, n]``
    or ``None``. Returns ``y[b, T, h, p]`` (no ``D`` skip) and the final state
    ``[b, h, p, n]``, in :func:`scan_dtype`.
    """
    dtype = scan_dtype(x.dtype)
    x, dt, A, B, C = (t.to(dtype) for t in (x, dt, A, B, C))
    batch, length, heads, head_dim = x.shape
    groups, d_state = B.shape[-2:]
    per_group = heads // groups
    L = max(1, min(chunk_size, length))
    n_chunks = -(-length // L)
    pad = n_chunks * L - length
    if pad:  # dt = 0 on padded steps: decay 1 and no input, the state passes through
        x, dt, B, C = (F.pad(t, (0,) * (2 * t.dim() - 4) + (0, pad)) for t in (x, dt, B, C))

    # Layout [b, g, r, c, L, ...]: groups, heads per group, chunks, steps in the chunk.
    def heads_first(t, trailing):  # [b, c*L, g, r?, trailing] → [b, g, r|1, c, L, trailing]
        t = t.reshape(batch, n_chunks, L, groups, -1, trailing)
        return t.permute(0, 3, 4, 1, 2, 5)

    x_dt = heads_first(x * dt.unsqueeze(-1), head_dim)  # dt_s x_s: [b, g, r, c, L, p]
    B, C = heads_first(B, d_state), heads_first(C, d_state)  # [b, g, 1, c, L, n]
    log_a = heads_first(dt * A, 1).squeeze(-1)  # [b, g, r, c, L]

    seg = segment_sums(log_a)  # [b, g, r, c, L, L]
    decay_from_start = torch.exp(log_a.cumsum(dim=-1)).unsqueeze(-1)  # [b, g, r, c, L, 1]
    decay_to_end = torch.exp(seg[..., -1, :]).unsqueeze(-1)  # [b, g, r, c, L, 1]
    chunk_decay = log_a.sum(dim=-1)  # total log decay per chunk

    # 1. Within chunks: (C B^T ∘ decay mask) @ (dt x).
    y = torch.matmul(torch.matmul(C, B.transpose(-1, -2)) * torch.exp(seg), x_dt)
    # 2. What each chunk adds to the state at its end: (dt x ∘ decay)^T @ B.
    chunk_states = torch.matmul((x_dt * decay_to_end).transpose(-1, -2), B)  # [b, g, r, c, p, n]
    # 3. States at chunk starts, all at once: an SSD product over chunks.
    if initial_state is None:
        initial_state = x.new_zeros(batch, heads, head_dim, d_state)
    initial_state = initial_state.to(dtype).reshape(batch, groups, per_group, 1, head_dim * d_state)
    states = torch.cat([initial_state, chunk_states.flatten(-2)], dim=3)  # [b, g, r, c+1, p*n]
    transfer = torch.exp(segment_sums(F.pad(chunk_decay, (1, 0))))  # [b, g, r, c+1, c+1]
    states = torch.matmul(transfer, states).unflatten(-1, (head_dim, d_state))
    # 4. Start states seen from inside each chunk.
    y = y + torch.matmul(C, states[:, :, :, :-1].transpose(-1, -2)) * decay_from_start

    y = y.permute(0, 3, 4, 1, 2, 5).reshape(batch, n_chunks * L, heads, head_dim)[:, :length]
    return y, states[:, :, :, -1].reshape(batch, heads, head_dim, d_state).clone()  # own storage, not a view


@without_autocast
def ssd_step(state, x, dt, A, B, C):
    """One step: ``state[b, h, p, n]``, ``x[b, h, p]``, ``dt[b, h]``, ``B, C: [b, g, n]``
    → ``(y[b, h, p], state)``."""
    dtype = scan_dtype(x.dtype)
    x, dt, A, B, C = (t.to(dtype) for t in (x, dt, A, B, C))
    per_group = x.shape[1] // B.shape[1]
    B, C = B.repeat_interleave(per_group, dim=1), C.repeat_interleave(per_group, dim=1)  # [b, h, n]
    decay = torch.exp(dt * A)[..., None, None]
    state = decay * state.to(dtype) + (dt.unsqueeze(-1) * x).unsqueeze(-1) * B.unsqueeze(2)
    y = torch.matmul(state, C.unsqueeze(-1)).squeeze(-1)
    return y, state


def ssd_loop(x, dt, A, B, C, initial_state=None):
    """The same recurrence, one step at a time (ground truth for tests)."""
    batch, length, heads, head_dim = x.shape
    state = (
        initial_state
        if initial_state is not None
        else x.new_zeros(batch, heads, head_dim, B.shape[-1], dtype=scan_dtype(x.dtype))
    )
    ys = []
    for t in range(length):
        y, state = ssd_step(state, x[:, t], dt[:, t], A, B[:, t], C[:, t])
        ys.append(y)
    return torch.stack(ys, dim=1), state
