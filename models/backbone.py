"""The shared language-model backbone and the contract every sequence mixer keeps.

    tokens ─► embedding ─► N × ( x + mixer(norm(x)) ; x + mlp(norm(x)) ) ─► norm ─► head ─► logits

Only the mixer changes between families, so differences in a comparison come
from the sequence mixer and nothing else.

``dropout`` (0 unless a preset sets it): in training mode, dropout on the embedding's output and on the
output of every residual branch (the mixer's and the MLP's) before it is added, as nanoGPT places its
residual dropout; the same for every family, and nothing inside a mixer (nanoGPT also drops attention
weights, which would act on the transformer alone). With 0 an identity stands in its place (no parameters),
so the model computes what it did before the option.

A *mixer* is an ``nn.Module`` working on ``x[B, T, D]`` with:

- ``forward(x, state=None, return_state=False)`` → ``y[B, T, D]`` or
  ``(y, state)``. With ``state`` it continues a sequence; with
  ``return_state`` it also returns the state after the last token.
- ``init_state(batch, device, dtype)`` → the state before any token.
- ``step(x[B, D], state)`` → ``(y[B, D], state)``: one token, recurrently.
- ``state_elements(seq_len)`` → how many numbers the state holds per
  sequence after ``seq_len`` tokens (for ``state_bytes``).
- ``backend``: a string naming the implementation that actually runs.

States are whatever the mixer needs (tensors, tuples, dicts); the backbone
keeps one per layer in a list.

A family makes its mixers with ``make_mixer(d_model, backend, layer_index, **config)``
(``suite.register_model``; ``config`` is the family's defaults with the run's options);
``suite.registry.build_model`` binds everything but ``layer_index`` and hands the
backbone a one-argument callable. ``suite.measure.contract.check_model`` checks a
family against this contract.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)
        return (x.float() * scale).to(x.dtype) * self.weight


class MLP(nn.Module):
    """Two-layer GELU feed-forward, hidden width ``mult * dim``."""

    def __init__(self, dim: int, mult: int = 2):
        super().__init__()
        self.up = nn.Linear(dim, mult * dim)
        self.down = nn.Linear(mult * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(nn.functional.gelu(self.up(x)))


def dropout_layer(p: float) -> nn.Module:
    """``nn.Dropout(p)``, or the identity when ``p`` is 0 (no module for an option not used)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    return nn.Dropout(p) if p > 0 else nn.Identity()


class Block(nn.Module):
    def __init__(self, dim: int, mixer: nn.Module, mlp_mult: int, dropout: float = 0.0):
        super().__init__()
        self.mixer_norm = RMSNorm(dim)
        self.mixer = mixer
        self.mlp = MLP(dim, mlp_mult) if mlp_mult > 0 else None
        self.mlp_norm = RMSNorm(dim) if mlp_mult > 0 else None
        self.drop = dropout_layer(dropout)

    def forward(self, x, state=None, return_state=False):
        mixed = self.mixer(self.mixer_norm(x), state=state, return_state=return_state)
        if return_state:
            mixed, state = mixed
        x = x + self.drop(mixed)
        if self.mlp is not None:
            x = x + self.drop(self.mlp(self.mlp_norm(x)))
        return (x, state) if return_state else x

    def step(self, x, state):
        mixed, state = self.mixer.step(self.mixer_norm(x), state)
        x = x + self.drop(mixed)
        if self.mlp is not None:
            x = x + self.drop(self.mlp(self.mlp_norm(x)))
        return x, state


class LanguageModel(nn.Module):
    """Token embedding, ``n_layers`` residual blocks around one mixer family, head.

    ``make_mixer`` here is the per-layer callable ``make_mixer(layer_index)`` that returns a
    fresh mixer for each layer: ``suite.registry.build_model`` makes it from the family's
    ``make_mixer(d_model, backend, layer_index, **config)``. ``dropout``: see the module docstring.
    """

    def __init__(
        self, vocab_size: int, d_model: int, n_layers: int, make_mixer, mlp_mult: int = 2, dropout: float = 0.0
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, std=1.0 / math.sqrt(d_model))
        self.embedding_drop = dropout_layer(dropout)
        self.blocks = nn.ModuleList(Block(d_model, make_mixer(i), mlp_mult, dropout) for i in range(n_layers))
        self.norm = RMSNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)

    @property
    def backend(self) -> str:
        """What runs: one name, or one per layer joined by ``+`` (bottom first) when they differ."""
        backends = [block.mixer.backend for block in self.blocks]
        return backends[0] if len(set(backends)) == 1 else "+".join(backends)

    def forward(self, tokens: torch.Tensor, state=None, return_state: bool = False, positions=None):
        """``tokens[B, T]`` → ``logits[B, T, V]`` (and the per-layer states).

        ``positions`` (a boolean ``[B, T]`` mask) asks for the logits at those positions only,
        ``[N, V]`` in row-major order (``logits[positions]`` of the full call, without computing
        the head anywhere else): training and scoring need no other position, and at a large
        vocabulary the head is most of a step's arithmetic."""
        x = self.embedding_drop(self.embedding(tokens))
        states = [] if return_state else None
        for index, block in enumerate(self.blocks):
            layer_state = None if state is None else state[index]
            if return_state:
                x, layer_state = block(x, state=layer_state, return_state=True)
                states.append(layer_state)
            else:
                x = block(x, state=layer_state)
        if positions is not None:
            x = x[positions]
        logits = self.head(self.norm(x))
        return (logits, states) if return_state else logits

    def init_state(self, batch: int, device=None, dtype=None):
        device = device or self.head.weight.device
        dtype = dtype or self.head.weight.dtype
        return [block.mixer.init_state(batch, device=device, dtype=dtype) for block in self.blocks]

    def step(self, tokens: torch.Tensor, state):
        """``tokens[B]`` → ``(logits[B, V], state)``: one token through every layer."""
        x = self.embedding_drop(self.embedding(tokens))
        new_state = []
        for block, layer_state in zip(self.blocks, state):
            x, layer_state = block.step(x, layer_state)
            new_state.append(layer_state)
        return self.head(self.norm(x)), new_state

    def state_bytes(self, batch: int, seq_len: int, dtype: torch.dtype = torch.float32) -> int:
        """Bytes of recurrent state (or KV cache) after ``seq_len`` tokens, analytically."""
        element_bytes = torch.empty((), dtype=dtype).element_size()
        return batch * element_bytes * sum(block.mixer.state_elements(seq_len) for block in self.blocks)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
