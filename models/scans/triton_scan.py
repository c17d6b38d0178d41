"""The min-RNN recurrence as fused Triton kernels (CUDA; CPU under ``TRITON_INTERPRET=1``).

Same maths as ``linear_space`` (read its docstring first), for its three kinds
(``KIND`` 0 minGRU, 1 minLSTM, 2 minLSTM with free gates, ``a = sigmoid(k_f)``,
``b = sigmoid(k_i) g(c)``): the kernels read the input projection (bf16, fp16 or
fp32), compute the gates in registers, run the scan with float32 accumulation and
write ``h`` in float32; the backward kernels recompute the gates from the
projection and write the projection's gradient.

Parallel over time as well as batch and channels, in three launches per
direction, so long sequences fill the GPU even at small batch:

1. ``_chunk_summary``  one program per (batch, channel block, chunk of ``CHUNK``
   steps): scans its chunk from a zero state and stores the chunk's last state
   and the product of its keep gates.
2. ``_carry``          one program per (batch, channel block): walks the chunk
   summaries in order and stores the state entering every chunk.
3. ``_chunk_forward``  as 1, but starting from the carried state; writes ``h``.

Each element of the projection is read twice and ``h`` written once. The
backward mirrors this in reverse time (``_chunk_summary_reverse``, ``_carry``
run backwards, ``_chunk_backward``), where the last kernel also forms
``dL/du`` and ``dL/dc`` from the recomputed gates and ``h_{t-1}``.

Inside a chunk each program steps through time with a loop over ``[BLOCK_H]``
vectors: contiguous loads along the channel axis, one channel per GPU thread.
"""

from __future__ import annotations

import torch

import triton
import triton.language as tl


CHUNK = 64
BLOCK_H = 128  # 128 contiguous channels per load; one channel per thread (num_warps = BLOCK_H / 32)
GRU, LSTM, LSTM_UNNORMALISED = 0, 1, 2
KIND_IDS = {"gru": (GRU, 2), "lstm": (LSTM, 3), "lstm-unnormalised": (LSTM_UNNORMALISED, 3)}  # (KIND, WIDTH)


@triton.jit
def _gates(proj_ptr, offset, hidden, cols, mask, KIND: tl.constexpr):
    """(a, b, g(c), g'(c), sig_f, sig_i) at one time step: KIND 1 has sig_f, sig_i =
    sigmoid(-k_f), sigmoid(-k_i); KIND 2 has sig_i = sigmoid(k_i), the input gate (sig_f 0);
    KIND 0 has zeros."""
    c = tl.load(proj_ptr + offset + cols, mask=mask, other=0.0).to(tl.float32)
    sig_c = tl.sigmoid(tl.minimum(c, 0.0))
    gc = sig_c + tl.maximum(c, 0.0)
    slope = tl.where(c >= 0, 1.0, sig_c * (1.0 - sig_c))
    if KIND == 0:
        k = tl.load(proj_ptr + offset + hidden + cols, mask=mask, other=0.0).to(tl.float32)
        a = 1.0 - tl.sigmoid(k)
        sig_f = tl.zeros_like(a)
        sig_i = tl.zeros_like(a)
        b = (1.0 - a) * gc
    elif KIND == 2:
        kf = tl.load(proj_ptr + offset + hidden + cols, mask=mask, other=0.0).to(tl.float32)
        ki = tl.load(proj_ptr + offset + 2 * hidden + cols, mask=mask, other=0.0).to(tl.float32)
        a = tl.sigmoid(kf)
        sig_f = tl.zeros_like(a)
        sig_i = tl.sigmoid(ki)
        b = sig_i * gc
    else:
        kf = tl.load(proj_ptr + offset + hidden + cols, mask=mask, other=0.0).to(tl.float32)
        ki = tl.load(proj_ptr + offset + 2 * hidden + cols, mask=mask, other=0.0).to(tl.float32)
        # softplus(-x) = max(-x, 0) + log(1 + exp(-|x|)), stable for either sign
        softplus_f = tl.maximum(-kf, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(kf)))
        softplus_i = tl.maximum(-ki, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(ki)))
        a = tl.sigmoid(softplus_i - softplus_f)
        sig_f = tl.sigmoid(-kf)
        sig_i = tl.sigmoid(-ki)
        b = (1.0 - a) * gc
    return a, b, gc, slope, sig_f, sig_i


@triton.jit
def _chunk_summary(
    proj_ptr,
    last_ptr,
    decay_ptr,
    seq_len,
    hidden,
    n_chunks,
    KIND: tl.constexpr,
    WIDTH: tl.constexpr,
    CHUNK: tl.constexpr,
    BLOCK_H: tl.constexpr,
):
    b, hb, k = tl.program_id(0).to(tl.int64), tl.program_id(1), tl.program_id(2)  # int64: B*T*W*H may pass 2**31
    cols = hb * BLOCK_H + tl.arange(0, BLOCK_H)
    mask = cols < hidden
    h = tl.zeros([BLOCK_H], dtype=tl.float32)
    decay = tl.full([BLOCK_H], 1.0, dtype=tl.float32)
    for j in range(0, CHUNK):
        t = k * CHUNK + j
        if t < seq_len:
            a, bb, gc, slope, sf, si = _gates(proj_ptr, (b * seq_len + t) * WIDTH * hidden, hidden, cols, mask, KIND)
            h = a * h + bb
            decay = decay * a
    out = (b * n_chunks + k) * hidden + cols
    tl.store(last_ptr + out, h, mask=mask)
    tl.store(decay_ptr + out, decay, mask=mask)


@triton.jit
def _carry(
    last_ptr,
    decay_ptr,
    h0_ptr,
    carry_ptr,
    n_chunks,
    hidden,
    HAS_H0: tl.constexpr,
    REVERSE: tl.constexpr,
    BLOCK_H: tl.constexpr,
):
    """carry[k] = state entering chunk k (forward) or gradient arriving from after it (reverse)."""
    b, hb = tl.program_id(0).to(tl.int64), tl.program_id(1)
    cols = hb * BLOCK_H + tl.arange(0, BLOCK_H)
    mask = cols < hidden
    if HAS_H0:
        state = tl.load(h0_ptr + b * hidden + cols, mask=mask, other=0.0).to(tl.float32)
    else:
        state = tl.zeros([BLOCK_H], dtype=tl.float32)
    for i in range(0, n_chunks):
        if REVERSE:
            k = n_chunks - 1 - i
        else:
            k = i
        out = (b * n_chunks + k) * hidden + cols
        tl.store(carry_ptr + out, state, mask=mask)
        state = tl.load(decay_ptr + out, mask=mask, other=0.0) * state + tl.load(last_ptr + out, mask=mask, other=0.0)


@triton.jit
def _chunk_forward(
    proj_ptr,
    carry_ptr,
    h_ptr,
    seq_len,
    hidden,
    n_chunks,
    KIND: tl.constexpr,
    WIDTH: tl.constexpr,
    CHUNK: tl.constexpr,
    BLOCK_H: tl.constexpr,
):
    b, hb, k = tl.program_id(0).to(tl.int64), tl.program_id(1), tl.program_id(2)  # int64: B*T*W*H may pass 2**31
    cols = hb * BLOCK_H + tl.arange(0, BLOCK_H)
    mask = cols < hidden
    h = tl.load(carry_ptr + (b * n_chunks + k) * hidden + cols, mask=mask, other=0.0)
    for j in range(0, CHUNK):
        t = k * CHUNK + j
        if t < seq_len:
            a, bb, gc, slope, sf, si = _gates(proj_ptr, (b * seq_len + t) * WIDTH * hidden, hidden, cols, mask, KIND)
            h = a * h + bb
            tl.store(h_ptr + (b * seq_len + t) * hidden + cols, h, mask=mask)


@triton.jit
def _chunk_summary_reverse(
    proj_ptr,
    grad_ptr,
    last_ptr,
    decay_ptr,
    seq_len,
    hidden,
    n_chunks,
    KIND: tl.constexpr,
    WIDTH: tl.constexpr,
    CHUNK: tl.constexpr,
    BLOCK_H: tl.constexpr,
):
    """Chunk k from a zero carry, backwards: G_t = dh_t + a_{t+1} G_{t+1}. Stores the
    chunk's a_{start} * G_{start} (what it hands to the chunk before) and the
    product of its keep gates."""
    b, hb, k = tl.program_id(0).to(tl.int64), tl.program_id(1), tl.program_id(2)  # int64: B*T*W*H may pass 2**31
    cols = hb * BLOCK_H + tl.arange(0, BLOCK_H)
    mask = cols < hidden
    handed = tl.zeros([BLOCK_H], dtype=tl.float32)  # a_{t+1} G_{t+1} for the step below
    decay = tl.full([BLOCK_H], 1.0, dtype=tl.float32)
    for i in range(0, CHUNK):
        t = k * CHUNK + CHUNK - 1 - i
        if t < seq_len:
            a, bb, gc, slope, sf, si = _gates(proj_ptr, (b * seq_len + t) * WIDTH * hidden, hidden, cols, mask, KIND)
            grad = tl.load(grad_ptr + (b * seq_len + t) * hidden + cols, mask=mask, other=0.0).to(tl.float32)
            handed = a * (grad + handed)
            decay = decay * a
    out = (b * n_chunks + k) * hidden + cols
    tl.store(last_ptr + out, handed, mask=mask)
    tl.store(decay_ptr + out, decay, mask=mask)


@triton.jit
def _chunk_backward(
    proj_ptr,
    grad_ptr,
    h_ptr,
    h0_ptr,
    carry_ptr,
    grad_proj_ptr,
    grad_h0_ptr,
    seq_len,
    hidden,
    n_chunks,
    HAS_H0: tl.constexpr,
    KIND: tl.constexpr,
    WIDTH: tl.constexpr,
    CHUNK: tl.constexpr,
    BLOCK_H: tl.constexpr,
):
    b, hb, k = tl.program_id(0).to(tl.int64), tl.program_id(1), tl.program_id(2)  # int64: B*T*W*H may pass 2**31
    cols = hb * BLOCK_H + tl.arange(0, BLOCK_H)
    mask = cols < hidden
    handed = tl.load(carry_ptr + (b * n_chunks + k) * hidden + cols, mask=mask, other=0.0)
    for i in range(0, CHUNK):
        t = k * CHUNK + CHUNK - 1 - i
        if t < seq_len:
            row = (b * seq_len + t) * WIDTH * hidden
            a, bb, gc, slope, sf, si = _gates(proj_ptr, row, hidden, cols, mask, KIND)
            g = tl.load(grad_ptr + (b * seq_len + t) * hidden + cols, mask=mask, other=0.0).to(tl.float32) + handed
            if t > 0:
                h_prev = tl.load(h_ptr + (b * seq_len + t - 1) * hidden + cols, mask=mask, other=0.0)
            else:
                if HAS_H0:
                    h_prev = tl.load(h0_ptr + b * hidden + cols, mask=mask, other=0.0).to(tl.float32)
                else:
                    h_prev = tl.zeros([BLOCK_H], dtype=tl.float32)
            if KIND == 2:  # free gates: dL/dk_f = G a (1 - a) h_{t-1}, dL/dk_i = G i (1 - i) g(c)
                tl.store(grad_proj_ptr + row + cols, g * si * slope, mask=mask)
                tl.store(grad_proj_ptr + row + hidden + cols, g * a * (1.0 - a) * h_prev, mask=mask)
                tl.store(grad_proj_ptr + row + 2 * hidden + cols, g * si * (1.0 - si) * gc, mask=mask)
            else:
                grad_u = g * a * (1.0 - a) * (h_prev - gc)
                tl.store(grad_proj_ptr + row + cols, g * (1.0 - a) * slope, mask=mask)
                if KIND == 0:
                    tl.store(grad_proj_ptr + row + hidden + cols, -grad_u, mask=mask)
                else:
                    tl.store(grad_proj_ptr + row + hidden + cols, grad_u * sf, mask=mask)
                    tl.store(grad_proj_ptr + row + 2 * hidden + cols, -grad_u * si, mask=mask)
            handed = a * g
            if HAS_H0:
                if t == 0:
                    tl.store(grad_h0_ptr + b * hidden + cols, handed, mask=mask)  # dL/dh0 = a_1 G_1


def _warps(block_h: int) -> int:
    return max(1, block_h // 32)


def _launch_shape(batch: int, seq_len: int, hidden: int, chunk: int, block_h: int):
    n_chunks = triton.cdiv(seq_len, chunk)
    return n_chunks, (batch, triton.cdiv(hidden, block_h), n_chunks), (batch, triton.cdiv(hidden, block_h))


class TritonGatedScan(torch.autograd.Function):
    """Same contract as ``linear_space.GatedScan``."""

    @staticmethod
    def forward(ctx, projection, h0, hidden: int, kind: str, chunk: int, block_h: int):
        projection = projection.contiguous()
        batch, seq_len, width = projection.shape
        kind_id, width_factor = KIND_IDS[kind]
        n_chunks, grid, carry_grid = _launch_shape(batch, seq_len, hidden, chunk, block_h)
        options = dict(device=projection.device, dtype=torch.float32)
        last = torch.empty(batch, n_chunks, hidden, **options)
        decay = torch.empty_like(last)
        carry = torch.empty_like(last)
        h = torch.empty(batch, seq_len, hidden, **options)
        h0_arg = h0.contiguous() if h0 is not None else h
        _chunk_summary[grid](
            projection,
            last,
            decay,
            seq_len,
            hidden,
            n_chunks,
            KIND=kind_id,
            WIDTH=width_factor,
            CHUNK=chunk,
            BLOCK_H=block_h,
            num_warps=_warps(block_h),
        )
        _carry[carry_grid](
            last,
            decay,
            h0_arg,
            carry,
            n_chunks,
            hidden,
            HAS_H0=h0 is not None,
            REVERSE=False,
            BLOCK_H=block_h,
            num_warps=_warps(block_h),
        )
        _chunk_forward[grid](
            projection,
            carry,
            h,
            seq_len,
            hidden,
            n_chunks,
            KIND=kind_id,
            WIDTH=width_factor,
            CHUNK=chunk,
            BLOCK_H=block_h,
            num_warps=_warps(block_h),
        )
        ctx.save_for_backward(projection, h0, h)
        ctx.hidden, ctx.kind, ctx.chunk, ctx.block_h = hidden, kind, chunk, block_h
        return h

    @staticmethod
    def backward(ctx, grad_h):
        projection, h0, h = ctx.saved_tensors
        hidden, chunk, block_h = ctx.hidden, ctx.chunk, ctx.block_h
        batch, seq_len, width = projection.shape
        kind_id, width_factor = KIND_IDS[ctx.kind]
        n_chunks, grid, carry_grid = _launch_shape(batch, seq_len, hidden, chunk, block_h)
        grad_h = grad_h.contiguous()
        options = dict(device=projection.device, dtype=torch.float32)
        last = torch.empty(batch, n_chunks, hidden, **options)
        decay = torch.empty_like(last)
        carry = torch.empty_like(last)
        grad_projection = torch.empty(projection.shape, **options)
        grad_h0 = torch.empty(batch, hidden, **options) if h0 is not None else None
        _chunk_summary_reverse[grid](
            projection,
            grad_h,
            last,
            decay,
            seq_len,
            hidden,
            n_chunks,
            KIND=kind_id,
            WIDTH=width_factor,
            CHUNK=chunk,
            BLOCK_H=block_h,
            num_warps=_warps(block_h),
        )
        _carry[carry_grid](
            last,
            decay,
            last,
            carry,
            n_chunks,
            hidden,
            HAS_H0=False,
            REVERSE=True,
            BLOCK_H=block_h,
            num_warps=_warps(block_h),
        )
        _chunk_backward[grid](
            projection,
            grad_h,
            h,
            h0 if h0 is not None else h,
            carry,
            grad_projection,
            grad_h0 if h0 is not None else carry,
            seq_len,
            hidden,
            n_chunks,
            HAS_H0=h0 is not None,
            KIND=kind_id,
            WIDTH=width_factor,
            CHUNK=chunk,
            BLOCK_H=block_h,
            num_warps=_warps(block_h),
        )
        if grad_h0 is not None:
            grad_h0 = grad_h0.to(h0.dtype) if ctx.needs_input_grad[1] else None
        return grad_projection.to(projection.dtype), grad_h0, None, None, None, None


def triton_gated_scan(
    projection: torch.Tensor,
    h0: torch.Tensor | None,
    hidden: int,
    kind: str,
    chunk: int = CHUNK,
    block_h: int = BLOCK_H,
) -> torch.Tensor:
    """``linear_space.gated_scan`` as Triton kernels; ``h`` in float32 (float64 inputs are refused:
    the kernels accumulate in float32). ``chunk`` (time steps per program) and ``block_h``
    (channels per program) must be powers of two."""
    if kind not in KIND_IDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KIND_IDS))}, not {kind!r}")
    if projection.dtype == torch.float64:
        raise TypeError("the Triton scan accumulates in float32; use the 'linear' backend for float64")
    return TritonGatedScan.apply(projection, h0, hidden, kind, chunk, block_h)
