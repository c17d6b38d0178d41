"""Mamba-2 (Dao & Gu, 2024, "Transformers are SSMs", arXiv 2405.21060, Sec. 7):
the SSD mixer, a selective SSM whose decay is one scalar per head.

    [z, xBC, dt] = in_proj(u)                  z, x: d_inner = expand * d_model
    [x, B, C]    = silu(causal_depthwise_conv(xBC))   B, C: ngroups * d_state
    dt           = softplus(dt + dt_bias)       one per head; A = -exp(A_log) per head
    H_t          = exp(dt_t A) H_{t-1} + dt_t x_t B_t^T     per head: [headdim, d_state]
    y_t          = H_t C_t + D x_t
    out          = out_proj(rmsnorm(y * silu(z)))          gated RMSNorm, per group

Hyper-parameters, initialisation and parameter names follow
``mamba_ssm.modules.mamba2.Mamba2`` (d_conv 4, expand 2, ngroups 1,
``A ~ U[1, 16]``, dt log-uniform in [1e-3, 1e-1] through the inverse softplus into
``dt_bias``, ``D = 1`` per head, ``norm_before_gate=False``). Two defaults differ,
for small models on CPU: ``d_state`` 64 (package: 128) and ``headdim``
``None`` = ``gcd(64, d_inner // 2)``: the package's 64 when ``d_inner`` allows
two such heads, smaller otherwise (d_model 16 → 2 heads of 16). As in the package,
``dt_bias``, ``A_log`` and ``D`` are marked ``_no_weight_decay`` (the optimizer skips
them; the package's module, behind the ``mamba_ssm`` backend, marks its own).

State (per layer): the last ``d_conv - 1`` conv inputs of ``xBC`` and ``H``:
``nheads * headdim * d_state + (d_conv - 1) * conv_dim`` numbers. ``step`` is the
sequential ground truth; ``forward`` uses the chunked SSD of ``models/scans/ssd.py``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from models.mamba import ConvSSMState, PackageMixer, causal_conv, causal_conv_step, package_label, probe_package
from models.probe import import_reason
from models.scans import scan_dtype
from models.scans.ssd import ssd_scan, ssd_step

VERSION = 1  # bump when this family's maths changes: compare warns across versions (suite.registry)
DESCRIPTION = "Mamba-2: SSD, scalar decay per head, chunked matmul scan, gated RMSNorm"
BACKENDS = ("mamba_ssm", "reference")
DEFAULTS = {
    "d_state": 64,
    "d_conv": 4,
    "expand": 2,
    "headdim": None,
    "ngroups": 1,
    "dt_min": 0.001,
    "dt_max": 0.1,
    "chunk_size": 64,
}


def probe(backend: str, device: str) -> str | None:
    return probe_package(backend, device, "mamba_ssm.modules.mamba2")


def default_headdim(d_inner: int) -> int:
    return math.gcd(64, d_inner // 2) or d_inner


class GatedRMSNorm(nn.Module):
    """``rmsnorm(y * silu(z)) * weight``, the mean taken over groups of ``group_size``
    channels (``mamba_ssm``'s ``RMSNormGated`` with ``norm_before_gate=False``)."""

    def __init__(self, dim: int, group_size: int, eps: float = 1e-5):
        super().__init__()
        self.group_size, self.eps = group_size, eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, y, z):
        y = y * F.silu(z.to(y.dtype))
        groups = y.unflatten(-1, (-1, self.group_size))
        groups = groups * torch.rsqrt(groups.square().mean(-1, keepdim=True) + self.eps)
        return groups.flatten(-2) * self.weight.to(y.dtype)


class Mamba2(nn.Module):
    """The reference SSD mixer (pure PyTorch)."""

    backend = "reference-torch"

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        d_conv: int = 4,
        expand: int = 2,
        headdim: int | None = None,
        ngroups: int = 1,
        A_init_range=(1.0, 16.0),
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        conv_bias: bool = True,
        bias: bool = False,
        chunk_size: int = 64,
    ):
        super().__init__()
        self.d_model, self.d_state, self.d_conv, self.ngroups = d_model, d_state, d_conv, ngroups
        self.d_inner = int(expand * d_model)
        self.headdim = headdim or default_headdim(self.d_inner)
        if self.d_inner % self.headdim:
            raise ValueError(f"headdim {self.headdim} does not divide d_inner {self.d_inner}")
        self.nheads = self.d_inner // self.headdim
        if self.nheads % ngroups:
            raise ValueError(f"ngroups {ngroups} does not divide nheads {self.nheads}")
        self.conv_dim = self.d_inner + 2 * ngroups * d_state
        self.chunk_size = chunk_size

        self.in_proj = nn.Linear(d_model, self.d_inner + self.conv_dim + self.nheads, bias=bias)  # [z, xBC, dt]
        self.conv1d = nn.Conv1d(
            self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim, padding=d_conv - 1, bias=conv_bias
        )
        dt = torch.exp(torch.rand(self.nheads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        self.A_log = nn.Parameter(torch.log(torch.empty(self.nheads).uniform_(*A_init_range)))
        self.D = nn.Parameter(torch.ones(self.nheads))
        for parameter in (self.dt_bias, self.A_log, self.D):  # as mamba_ssm's Mamba2: never weight-decayed
            parameter._no_weight_decay = True
        self.norm = GatedRMSNorm(self.d_inner, group_size=self.d_inner // ngroups)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def _split(self, u, conv_tail, conv):
        """``u`` → gate ``z``, SSM inputs ``x, dt, B, C`` (heads split out) and the new conv tail."""
        z, xBC, dt = self.in_proj(u).split([self.d_inner, self.conv_dim, self.nheads], dim=-1)
        xBC, conv_tail = conv(xBC, conv_tail, self.conv1d)
        x, B, C = F.silu(xBC).split([self.d_inner, self.ngroups * self.d_state, self.ngroups * self.d_state], dim=-1)
        dtype = scan_dtype(u.dtype)
        dt = F.softplus(dt.to(dtype) + self.dt_bias.to(dtype))
        heads = x.unflatten(-1, (self.nheads, self.headdim))
        return (
            z,
            heads,
            dt,
            B.unflatten(-1, (self.ngroups, self.d_state)),
            C.unflatten(-1, (self.ngroups, self.d_state)),
            conv_tail,
        )

    def _output(self, y, x, z, out_dtype):
        y = y + self.D.to(y.dtype).unsqueeze(-1) * x.to(y.dtype)  # D skip per head
        return self.out_proj(self.norm(y.flatten(-2), z).to(out_dtype))

    def forward(self, u, state: ConvSSMState | None = None, return_state: bool = False):
        z, x, dt, B, C, conv_tail = self._split(u, None if state is None else state.conv, causal_conv)
        A = -torch.exp(self.A_log.to(dt.dtype))
        y, ssm = ssd_scan(x, dt, A, B, C, self.chunk_size, None if state is None else state.ssm)
        out = self._output(y, x, z, u.dtype)
        return (out, ConvSSMState(conv_tail, ssm)) if return_state else out

    def step(self, u, state: ConvSSMState):
        z, x, dt, B, C, conv_tail = self._split(u, state.conv, causal_conv_step)
        A = -torch.exp(self.A_log.to(dt.dtype))
        y, ssm = ssd_step(state.ssm, x, dt, A, B, C)
        return self._output(y, x, z, u.dtype), ConvSSMState(conv_tail, ssm)

    def init_state(self, batch: int, device=None, dtype=None) -> ConvSSMState:
        device = device or self.out_proj.weight.device
        dtype = dtype or self.out_proj.weight.dtype
        return ConvSSMState(
            torch.zeros(batch, self.conv_dim, self.d_conv - 1, device=device, dtype=dtype),
            torch.zeros(batch, self.nheads, self.headdim, self.d_state, device=device, dtype=scan_dtype(dtype)),
        )

    def state_elements(self, seq_len: int) -> int:
        return self.nheads * self.headdim * self.d_state + (self.d_conv - 1) * self.conv_dim


def make_mixer(
    d_model: int,
    backend: str,
    layer_index: int = 0,
    d_state: int = 64,
    d_conv: int = 4,
    expand: int = 2,
    headdim: int | None = None,
    ngroups: int = 1,
    dt_min: float = 0.001,
    dt_max: float = 0.1,
    chunk_size: int = 64,
) -> nn.Module:
    """``chunk_size`` is the reference scan's; ``mamba_ssm`` keeps its kernel default (256)."""
    headdim = headdim or default_headdim(int(expand * d_model))
    options = dict(
        d_state=d_state, d_conv=d_conv, expand=expand, headdim=headdim, ngroups=ngroups, dt_min=dt_min, dt_max=dt_max
    )
    if backend == "reference":
        return Mamba2(d_model, chunk_size=chunk_size, **options)
    if backend == "mamba_ssm":
        from mamba_ssm.modules.mamba2 import Mamba2 as PackageMamba2

        fused = import_reason("causal_conv1d") is None  # the fused path needs causal_conv1d
        inner = PackageMamba2(d_model, layer_idx=layer_index, use_mem_eff_path=fused, **options)
        conv_dim = inner.d_ssm + 2 * inner.ngroups * inner.d_state
        state = inner.nheads * inner.headdim * inner.d_state + (inner.d_conv - 1) * conv_dim
        return PackageMixer(inner, state, package_label("triton"))
    raise ValueError(f"unknown backend {backend!r} of mamba2: {BACKENDS}")
