"""Causal multi-head softmax attention with rotary position embeddings (RoPE).

    q, k, v = split(W_qkv x)                     n_heads heads of head_dim = d_model / n_heads
    q_t, k_t <- RoPE(q_t, t), RoPE(k_t, t)
    y_t     = sum_{s <= t} softmax_s(q_t . k_s / sqrt(head_dim)) v_s,  then W_out

RoPE (base 10000, the "rotate half" layout): for i < head_dim / 2, the pair
(x_i, x_{i + head_dim/2}) is rotated by the angle t * theta_i with
theta_i = base^(-2i / head_dim). Rotations compose, so RoPE(q, m) . RoPE(k, n)
depends on m - n only, and position 0 is the identity.

The state is a KV cache ``{"k", "v": [B, H, capacity, head_dim], "pos": int}``
allocated for ``max_seq_len`` tokens up front; writing past it doubles the
capacity (one copy), never a ``torch.cat`` per token. ``forward(...,
return_state=True)`` writes the whole prefix's K/V in one pass. Caches are
written in place: a returned state shares storage with the one passed in, so
continue a state once (clone its tensors to branch).

Backends, in preference order:

- ``flash_attn`` — ``flash_attn.flash_attn_func(causal=True)`` for the prefill,
  on CUDA only and fp16/bf16 only: on GPU the model is meant to run under
  ``torch.autocast("cuda", dtype=torch.bfloat16)``. Steps after a cache use the
  SDPA paths below. The package is imported lazily, never at module import.
- ``sdpa`` — ``F.scaled_dot_product_attention`` under an explicit
  ``sdpa_kernel`` choice. The prefill (empty state) uses ``is_causal=True`` on
  the FLASH_ATTENTION kernel when it accepts the inputs, else EFFICIENT_ATTENTION
  (fp32 on CUDA), else MATH. ``backend`` names the kernel of the last causal
  forward as it ran, with the dtype and device of that call (``sdpa-flash``,
  ``sdpa-efficient``, ``sdpa-math``): under bf16 autocast that is the bf16
  kernel, not the one fp32 weights would pick. SDPA's ``is_causal`` is
  aligned top-left, which is wrong for queries that continue after a cache, so
  one new token attends to the whole cache with no mask, and several new tokens
  use an explicit bottom-right-aligned boolean mask on the MATH kernel.

Sliding window (``window=W``, W >= 1): query t attends to keys t-W+1..t only. The
parallel forward uses a banded causal boolean mask (``flash_attn``: its
``window_size=(W-1, 0)``); the decode state is a ring buffer of W slots (key of
position p in slot p mod W, rotated at its own position), so the state stops
growing past W. ``backend`` then ends in ``+window<W>`` (e.g. ``sdpa-math+window16``).
Window >= T is full causal attention.
"""

from __future__ import annotations

import functools
import warnings

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from models.probe import cuda_package_reason, first_reason, import_reason

VERSION = 1  # bump when this family's maths changes: compare warns across versions (suite.registry)
DESCRIPTION = "Transformer: causal multi-head softmax attention with RoPE and a KV cache"
BACKENDS = ("flash_attn", "sdpa")
# n_heads None: d_model // 32, >= 1; window None: full causal attention, else the last `window` positions
DEFAULTS = {"n_heads": None, "rope_base": 10000.0, "max_seq_len": 2048, "window": None}

SDPA_KERNELS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
}  # preference order of the prefill and training kernel


def probe(backend: str, device: str) -> str | None:
    if backend == "flash_attn":
        reason = cuda_package_reason(device, "flash_attn")
        if reason is None and torch.cuda.get_device_capability(device) < (8, 0):
            reason = "flash_attn needs an Ampere or newer GPU (compute capability >= 8.0)"
        return first_reason(lambda: reason, lambda: import_reason("flash_attn"))
    return None  # sdpa is plain torch


def rotary(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE: ``x[..., T, head_dim]`` rotated pairwise by ``positions[T]`` (see the module docstring)."""
    half = x.shape[-1] // 2
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    theta = base ** (-2.0 * torch.arange(half, device=x.device, dtype=work) / x.shape[-1])
    angles = positions.to(work)[:, None] * theta
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, second * cos + first * sin], dim=-1)


@functools.cache
def prefill_kernel(device: str, dtype: torch.dtype, head_dim: int) -> str:
    """The first of SDPA's ``flash``, ``efficient`` (memory-efficient) kernels that accepts causal
    inputs of this device, dtype and head width, else ``"math"``. On CUDA, fp32 is refused by
    flash and taken by the memory-efficient kernel (the math kernel would materialise every
    T x T score: about 95 GB at batch 64, T 4096); bf16 under autocast gets flash."""
    sample = torch.zeros(1, 1, 2, head_dim, device=device, dtype=dtype)
    for name in ("flash", "efficient"):
        try:
            with warnings.catch_warnings(), sdpa_kernel([SDPA_KERNELS[name]]):
                warnings.simplefilter("ignore")  # "... attention not used because ..." on a refusal
                F.scaled_dot_product_attention(sample, sample, sample, is_causal=True)
        except RuntimeError:
            continue
        return name
    return "math"


class CausalSelfAttention(nn.Module):
    positional_encoding = "rotary"  # recorded with every result (length extrapolation depends on it)

    def __init__(
        self,
        d_model: int,
        n_heads: int | None = None,
        rope_base: float = 10000.0,
        max_seq_len: int = 2048,
        backend: str = "sdpa",
        window: int | None = None,
    ):
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.d_model = d_model
        self.n_heads = int(n_heads or max(1, d_model // 32))
        self.head_dim = d_model // self.n_heads
        if self.head_dim * self.n_heads != d_model or self.head_dim % 2:
            raise ValueError(f"d_model={d_model} must split into {self.n_heads} heads of even width")
        self.rope_base = float(rope_base)
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise ValueError(f"window must be an integer >= 1 (or None for full attention), not {window!r}")
        self.window = window
        self.max_seq_len = max(1, int(max_seq_len))
        self.requested_backend = backend
        self.to_qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.to_out = nn.Linear(d_model, d_model, bias=False)
        self.kernel_used = None  # the SDPA kernel of the last causal forward ("flash" / "efficient" / "math")

    @property
    def backend(self) -> str:
        return self._kernel_name() + (f"+window{self.window}" if self.window else "")

    def _kernel_name(self) -> str:
        if self.requested_backend == "flash_attn":
            return "flash_attn"
        if self.kernel_used is None:  # not run yet: what the weights' device and dtype will pick
            weight = self.to_qkv.weight
            pick = masked_kernel if self.window else prefill_kernel
            return "sdpa-" + pick(str(weight.device), weight.dtype, self.head_dim)
        return "sdpa-" + self.kernel_used

    def init_state(self, batch: int, device=None, dtype=None):
        weight = self.to_qkv.weight
        shape = (batch, self.n_heads, self.window or self.max_seq_len, self.head_dim)
        cache = dict(device=device or weight.device, dtype=dtype or weight.dtype)
        return {"k": torch.zeros(shape, **cache), "v": torch.zeros(shape, **cache), "pos": 0}

    def state_elements(self, seq_len: int) -> int:
        return 2 * min(seq_len, self.window or seq_len) * self.d_model  # K and V (a window's ring buffer)

    def forward(self, x, state=None, return_state=False):
        if self.window is not None:
            return self._forward_windowed(x, state, return_state)
        batch, length, _ = x.shape
        start = 0 if state is None else state["pos"]
        q, k, v = self._heads(x, start)
        if start == 0:
            y = self._attend_causal(q, k, v)
            if return_state:
                state = self._write(state or self.init_state(batch, x.device, k.dtype), k, v)
        else:
            state = self._write(state, k, v)
            end = state["pos"]
            y = self._attend_after_cache(q, state["k"][:, :, :end], state["v"][:, :, :end])
        y = self.to_out(y.transpose(1, 2).reshape(batch, length, self.d_model))
        return (y, state) if return_state else y

    def step(self, x, state):
        y, state = self.forward(x.unsqueeze(1), state, return_state=True)
        return y[:, 0], state

    def _forward_windowed(self, x, state, return_state):
        """Banded causal attention over the cached last ``window`` keys and the new ones, then the
        ring buffer updated with the last ``window`` of them."""
        batch, length, _ = x.shape
        start = 0 if state is None else state["pos"]
        q, k, v = self._heads(x, start)
        if start == 0 and self.requested_backend == "flash_attn":
            y = _flash_attn_causal(q, k, v, self.window)
        else:
            previous = min(start, self.window)
            slots = torch.arange(start - previous, start, device=x.device) % self.window
            keys = k if not previous else torch.cat([state["k"][:, :, slots].to(k.dtype), k], dim=2)
            values = v if not previous else torch.cat([state["v"][:, :, slots].to(v.dtype), v], dim=2)
            y = self._attend_band(q, keys, values, start, start - previous)
        if return_state:
            state = state or self.init_state(batch, x.device, k.dtype)
            kept = min(length, self.window)
            slots = torch.arange(start + length - kept, start + length, device=x.device) % self.window
            state["k"][:, :, slots] = k[:, :, length - kept :]
            state["v"][:, :, slots] = v[:, :, length - kept :]
            state = {"k": state["k"], "v": state["v"], "pos": start + length}
        y = self.to_out(y.transpose(1, 2).reshape(batch, length, self.d_model))
        return (y, state) if return_state else y

    def _attend_band(self, q, keys, values, first_query: int, first_key: int):
        """Queries at ``first_query..`` against keys at ``first_key..``: key p is seen by query t when
        t - window < p <= t (a banded causal boolean mask)."""
        query_pos = torch.arange(first_query, first_query + q.shape[2], device=q.device)[:, None]
        key_pos = torch.arange(first_key, first_key + keys.shape[2], device=q.device)[None, :]
        mask = (key_pos <= query_pos) & (key_pos > query_pos - self.window)
        self.kernel_used = masked_kernel(str(q.device), q.dtype, self.head_dim)
        with sdpa_kernel([SDPA_KERNELS[self.kernel_used]]):
            return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)

    def _heads(self, x, start: int):
        """``x[B, T, D]`` → q, k (rotated to positions start..start+T-1) and v, each ``[B, H, T, head_dim]``."""
        batch, length, _ = x.shape
        q, k, v = self.to_qkv(x).view(batch, length, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        positions = torch.arange(start, start + length, device=x.device)
        return rotary(q, positions, self.rope_base), rotary(k, positions, self.rope_base), v

    def _write(self, state, k, v):
        """Put the new K/V at ``pos``, doubling the capacity first if they do not fit."""
        start, end = state["pos"], state["pos"] + k.shape[2]
        keys, values = state["k"], state["v"]
        if end > keys.shape[2]:
            capacity = max(1, keys.shape[2])
            while capacity < end:
                capacity *= 2
            keys, values = (_grown(cache, capacity, start) for cache in (keys, values))
        keys[:, :, start:end] = k
        values[:, :, start:end] = v
        return {"k": keys, "v": values, "pos": end}

    def _attend_causal(self, q, k, v):
        """Attention within one sequence that starts at position 0 (top-left causal is right here)."""
        if self.requested_backend == "flash_attn":
            return _flash_attn_causal(q, k, v)
        self.kernel_used = prefill_kernel(str(q.device), q.dtype, self.head_dim)
        with sdpa_kernel([SDPA_KERNELS[self.kernel_used]]):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def _attend_after_cache(self, q, keys, values):
        """New queries (the last ``T`` positions) against the cache, which already holds their own K/V."""
        keys, values = keys.to(q.dtype), values.to(q.dtype)
        new, total = q.shape[2], keys.shape[2]
        if new == 1:  # the one new token sees every cached token: no mask at all
            kernel = prefill_kernel(str(q.device), q.dtype, self.head_dim)
            with sdpa_kernel([SDPA_KERNELS[kernel]]):
                return F.scaled_dot_product_attention(q, keys, values)
        # Bottom-right aligned: new query i sits at position total - new + i and sees keys up to there.
        mask = torch.ones(new, total, dtype=torch.bool, device=q.device).tril(diagonal=total - new)
        with sdpa_kernel([SDPBackend.MATH]):
            return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)


def _grown(cache: torch.Tensor, capacity: int, used: int) -> torch.Tensor:
    grown = cache.new_zeros(cache.shape[:2] + (capacity,) + cache.shape[3:])
    grown[:, :, :used] = cache[:, :, :used]
    return grown


@functools.cache
def masked_kernel(device: str, dtype: torch.dtype, head_dim: int) -> str:
    """The first of SDPA's ``efficient``, ``math`` kernels that accepts a boolean mask on this device,
    dtype and head width (the flash kernel takes no mask)."""
    sample = torch.zeros(1, 1, 2, head_dim, device=device, dtype=dtype)
    mask = torch.ones(2, 2, dtype=torch.bool, device=device).tril()
    if str(device).startswith("cuda"):
        try:
            with warnings.catch_warnings(), sdpa_kernel([SDPA_KERNELS["efficient"]]):
                warnings.simplefilter("ignore")
                F.scaled_dot_product_attention(sample, sample, sample, attn_mask=mask)
            return "efficient"
        except RuntimeError:
            pass
    return "math"


def _flash_attn_causal(q, k, v, window: int | None = None):
    """``flash_attn_func`` wants ``[B, T, H, head_dim]`` in fp16/bf16; not runnable on a CPU machine."""
    if q.dtype not in (torch.float16, torch.bfloat16):
        raise TypeError(
            f"flash_attn runs in fp16/bf16 only, got {q.dtype}: run the model under "
            "torch.autocast('cuda', dtype=torch.bfloat16) or pick the sdpa backend"
        )
    from flash_attn import flash_attn_func  # lazy: only this CUDA path needs the package

    band = (-1, -1) if window is None else (window - 1, 0)  # flash_attn's (left, right) window; -1: unbounded
    q, k, v = (tensor.transpose(1, 2) for tensor in (q, k, v))
    return flash_attn_func(q, k, v, causal=True, window_size=band).transpose(1, 2)


def make_mixer(
    d_model: int,
    backend: str,
    layer_index: int = 0,
    n_heads: int | None = None,
    rope_base: float = 10000.0,
    max_seq_len: int = 2048,
    window: int | None = None,
) -> nn.Module:
    return CausalSelfAttention(
        d_model, n_heads=n_heads, rope_base=rope_base, max_seq_len=max_seq_len, backend=backend, window=window
    )
