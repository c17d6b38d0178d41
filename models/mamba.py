"""Mamba-1 (Gu & Dao, 2023, "Mamba: Linear-Time Sequence Modeling with Selective
State Spaces", Sec. 3 and Fig. 3): the S6 selective state space mixer.

    [x, z]   = in_proj(u)                                   each d_inner = expand * d_model
    x        = silu(causal_depthwise_conv(x))               kernel d_conv
    [dt', B, C] = x_proj(x);  dt = softplus(dt_proj(dt'))   dt' has dt_rank = ceil(d_model / 16)
    h_t      = exp(dt_t A) * h_{t-1} + dt_t x_t B_t         A = -exp(A_log): [d_inner, d_state]
    y_t      = C_t . h_t + D * x_t
    out      = out_proj(y * silu(z))

Hyper-parameters and initialisation follow ``mamba_ssm.modules.mamba_simple.Mamba``
(d_state 16, d_conv 4, expand 2, dt in [1e-3, 1e-1] log-uniform written into
``dt_proj.bias`` through the inverse softplus, ``A_log = log(1..d_state)``,
``D = 1``), and so do the parameter names, so state dicts load either way. As there,
``A_log`` and ``D`` are marked ``_no_weight_decay`` (the optimizer skips them; the
package's module, behind the ``mamba_ssm`` backend, marks its own).

State (per layer): the last ``d_conv - 1`` conv inputs and ``h``,
``d_inner * (d_state + d_conv - 1)`` numbers. ``step`` is the sequential ground
truth; ``forward`` uses the chunked scan of ``models/scans/selective_scan.py``.

Options (``DEFAULTS``): the hyper-parameters above, and ``chunk_size``, the
longest chunk of the reference scan (shorter when decays are large; the
``mamba_ssm`` kernels ignore it).

Backends: ``mamba_ssm`` wraps the package's CUDA module (:class:`PackageMixer`),
``reference`` is this file's PyTorch code (:class:`Mamba`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from models.probe import cuda_package_reason, first_reason, import_reason
from models.scans import scan_dtype
from models.scans.selective_scan import selective_scan, selective_scan_step

VERSION = 1  # bump when this family's maths changes: compare warns across versions (suite.registry)
DESCRIPTION = "Mamba-1: selective SSM (S6), input-dependent dt/B/C, diagonal A per channel"
BACKENDS = ("mamba_ssm", "reference")
DEFAULTS = {
    "d_state": 16,
    "d_conv": 4,
    "expand": 2,
    "dt_rank": "auto",
    "dt_min": 0.001,
    "dt_max": 0.1,
    "chunk_size": 64,
}


class ConvSSMState(NamedTuple):
    """``conv``: last ``d_conv - 1`` conv inputs ``[b, channels, d_conv - 1]``; ``ssm``: the SSM state."""

    conv: torch.Tensor
    ssm: torch.Tensor


def probe_package(backend: str, device: str, module: str) -> str | None:
    """``reference`` runs anywhere; ``mamba_ssm`` needs CUDA and ``module`` of the package to import."""
    if backend == "reference":
        return None
    if backend == "mamba_ssm":
        return first_reason(
            lambda: cuda_package_reason(device, "mamba_ssm"),
            lambda: import_reason("mamba_ssm"),
            lambda: import_reason(module),
        )
    return f"unknown backend {backend!r}"


def probe(backend: str, device: str) -> str | None:
    return probe_package(backend, device, "mamba_ssm.modules.mamba_simple")


def causal_conv(x, tail, conv: nn.Conv1d):
    """Depthwise causal conv of ``x[b, T, c]`` continuing after ``tail[b, c, k-1]`` (zeros if None).

    Returns ``(y[b, T, c], new_tail)``; the tail holds inputs, not outputs. Written
    as ``k`` shifted multiply-adds: on CPU the backward of a depthwise ``conv1d``
    took seconds at (8, 512, 512), this takes milliseconds.
    """
    kernel, length = conv.kernel_size[0], x.shape[1]
    tail = x.new_zeros(x.shape[0], x.shape[2], kernel - 1) if tail is None else tail.to(x.dtype)
    inputs = torch.cat([tail.transpose(1, 2), x], dim=1)  # [b, k - 1 + T, c]
    weight = conv.weight.squeeze(1)  # [c, k]
    y = sum(inputs[:, k : k + length] * weight[:, k] for k in range(kernel))
    if conv.bias is not None:
        y = y + conv.bias
    return y, inputs[:, inputs.shape[1] - (kernel - 1) :].transpose(1, 2).clone()  # a view would pin all T inputs


def causal_conv_step(x, tail, conv: nn.Conv1d):
    """One token ``x[b, c]`` of :func:`causal_conv` → ``(y[b, c], new_tail)``."""
    window = torch.cat([tail.to(x.dtype), x.unsqueeze(-1)], dim=-1)  # [b, c, k]
    y = (window * conv.weight.squeeze(1)).sum(-1)
    if conv.bias is not None:
        y = y + conv.bias
    return y, window[..., 1:]


class Mamba(nn.Module):
    """The reference S6 mixer (pure PyTorch)."""

    backend = "reference-torch"

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank="auto",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        conv_bias: bool = True,
        bias: bool = False,
        chunk_size: int = 64,
    ):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.chunk_size = chunk_size

        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(
            self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1, bias=conv_bias
        )
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

        # dt_proj keeps the variance of dt'; its bias puts softplus(bias) log-uniform in [dt_min, dt_max].
        nn.init.uniform_(self.dt_proj.weight, -(self.dt_rank**-0.5), self.dt_rank**-0.5)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        # S4D-real: A[d, n] = -(n + 1).
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.A_log._no_weight_decay = True  # as mamba_ssm's Mamba: the optimizer leaves them undecayed
        self.D._no_weight_decay = True

    def _ssm_inputs(self, x):
        """``x`` after conv and silu → ``(dt, B, C)`` (dt in the scan precision)."""
        dt_low, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = F.linear(dt_low, self.dt_proj.weight)
        dtype = scan_dtype(x.dtype)
        return F.softplus(dt.to(dtype) + self.dt_proj.bias.to(dtype)), B, C

    def forward(self, u, state: ConvSSMState | None = None, return_state: bool = False):
        x, z = self.in_proj(u).chunk(2, dim=-1)
        x, conv_tail = causal_conv(x, None if state is None else state.conv, self.conv1d)
        x = F.silu(x)
        dt, B, C = self._ssm_inputs(x)
        A = -torch.exp(self.A_log.to(dt.dtype))
        y, ssm = selective_scan(x, dt, A, B, C, None if state is None else state.ssm, max_chunk=self.chunk_size)
        y = y + self.D.to(y.dtype) * x.to(y.dtype)
        out = self.out_proj((y * F.silu(z.to(y.dtype))).to(u.dtype))
        return (out, ConvSSMState(conv_tail, ssm)) if return_state else out

    def step(self, u, state: ConvSSMState):
        x, z = self.in_proj(u).chunk(2, dim=-1)
        x, conv_tail = causal_conv_step(x, state.conv, self.conv1d)
        x = F.silu(x)
        dt, B, C = self._ssm_inputs(x)
        A = -torch.exp(self.A_log.to(dt.dtype))
        y, ssm = selective_scan_step(state.ssm, x, dt, A, B, C)
        y = y + self.D.to(y.dtype) * x.to(y.dtype)
        out = self.out_proj((y * F.silu(z.to(y.dtype))).to(u.dtype))
        return out, ConvSSMState(conv_tail, ssm)

    def init_state(self, batch: int, device=None, dtype=None) -> ConvSSMState:
        device = device or self.out_proj.weight.device
        dtype = dtype or self.out_proj.weight.dtype
        return ConvSSMState(
            torch.zeros(batch, self.d_inner, self.d_conv - 1, device=device, dtype=dtype),
            torch.zeros(batch, self.d_inner, self.d_state, device=device, dtype=scan_dtype(dtype)),
        )

    def state_elements(self, seq_len: int) -> int:
        return self.d_inner * (self.d_state + self.d_conv - 1)


class PackageMixer(nn.Module):
    """A ``mamba_ssm`` module (``Mamba`` or ``Mamba2``) behind the mixer contract (CUDA only).

    - ``forward(x)`` is the package's forward (its fused kernels).
    - ``return_state`` hands the package an inference cache so that it writes its
      conv and SSM states. Its conv state holds ``d_conv`` columns, the first of
      which is never read again; the contract's state keeps the last ``d_conv - 1``,
      in the same layout as the reference's, so states move between backends.
    - ``step`` and ``forward(x, state=...)`` use the package's ``step`` (its decoding
      kernel). A forward from a state is therefore a token loop, exact but slow:
      the package's parallel path always starts from a zero state.
    - SSM states are kept in float32 for bfloat16/float16 modules.
    """

    backend = "mamba_ssm-cuda"

    def __init__(self, inner: nn.Module, state_size: int, backend: str = "mamba_ssm-cuda"):
        super().__init__()
        self.inner, self.state_size, self.backend = inner, state_size, backend

    def _cache(self, batch: int, state: ConvSSMState | None):
        """The package's ``(conv_state, ssm_state)``, filled from ``state`` (zeros if None)."""
        conv_state, ssm_state = self.inner.allocate_inference_cache(batch, max_seqlen=1)
        ssm_state = ssm_state.to(scan_dtype(ssm_state.dtype))
        if state is not None:
            conv_state[..., 1:].copy_(state.conv)
            ssm_state.copy_(state.ssm)
        return conv_state, ssm_state

    def forward(self, x, state: ConvSSMState | None = None, return_state: bool = False):
        if state is None and not return_state:
            return self.inner(x)
        conv_state, ssm_state = self._cache(x.shape[0], state)
        if state is None:
            cache = _InferenceCache({self.inner.layer_idx: (conv_state, ssm_state)})
            out = self.inner(x, inference_params=cache)
        else:
            out = torch.cat(
                [self.inner.step(x[:, t : t + 1], conv_state, ssm_state)[0] for t in range(x.shape[1])], dim=1
            )
        return (out, ConvSSMState(conv_state[..., 1:].clone(), ssm_state)) if return_state else out

    def step(self, x, state: ConvSSMState):
        conv_state, ssm_state = self._cache(x.shape[0], state)
        out, conv_state, ssm_state = self.inner.step(x.unsqueeze(1), conv_state, ssm_state)
        return out.squeeze(1), ConvSSMState(conv_state[..., 1:].clone(), ssm_state)

    def init_state(self, batch: int, device=None, dtype=None) -> ConvSSMState:
        conv_state, ssm_state = self._cache(batch, None)
        return ConvSSMState(conv_state[..., 1:].clone(), ssm_state)

    def state_elements(self, seq_len: int) -> int:
        return self.state_size


def package_label(scan: str) -> str:
    """The record's label of a ``mamba_ssm`` mixer: its scan's kernel (``cuda`` for Mamba-1's
    selective scan, ``triton`` for Mamba-2's chunked scan) and its convolution's: fused in
    ``causal_conv1d`` when that imports, else torch's ``nn.Conv1d`` (the package's fallback,
    which for Mamba-1 also leaves its fused ``mamba_inner_fn`` unused in training)."""
    conv = "causal_conv1d" if import_reason("causal_conv1d") is None else "torch-conv"
    return f"mamba_ssm-{scan}+{conv}"


class _InferenceCache:
    """The two fields of ``mamba_ssm.utils.generation.InferenceParams`` the mixers read
    (importing that module pulls in ``transformers``)."""

    def __init__(self, states: dict):
        self.seqlen_offset = 0
        self.key_value_memory_dict = states


def make_mixer(
    d_model: int,
    backend: str,
    layer_index: int = 0,
    d_state: int = 16,
    d_conv: int = 4,
    expand: int = 2,
    dt_rank="auto",
    dt_min: float = 0.001,
    dt_max: float = 0.1,
    chunk_size: int = 64,
) -> nn.Module:
    options = dict(d_state=d_state, d_conv=d_conv, expand=expand, dt_rank=dt_rank, dt_min=dt_min, dt_max=dt_max)
    if backend == "reference":
        return Mamba(d_model, chunk_size=chunk_size, **options)
    if backend == "mamba_ssm":
        from mamba_ssm.modules.mamba_simple import Mamba as PackageMamba

        inner = PackageMamba(d_model, layer_idx=layer_index, **options)
        return PackageMixer(inner, inner.d_inner * (inner.d_state + inner.d_conv - 1), package_label("cuda"))
    raise ValueError(f"unknown backend {backend!r} of mamba: {BACKENDS}")
