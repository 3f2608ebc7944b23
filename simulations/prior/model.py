"""An autoregressive prior over VQ-VAE token grids: a small decoder-only transformer in the GPT shape.

Tokens of an H x W grid are read in raster order (row-major flattening) as a sequence
``t_0 .. t_{n-1}``, ``n = H * W``. The model's input is ``[SOS, t_0, .., t_{n-2}]`` (SOS is an extra
vocabulary entry, index K) and its output at position i is the logit vector of ``p(t_i | t_<i)`` over
the K codes, so the first token is predicted too and the sum of the n log-probabilities is the
log-likelihood of the whole grid.

Layers: token embedding (K + 1 rows) plus a learned position embedding (n rows), dropout;
``n_layer`` pre-LayerNorm blocks ``x + attn(ln(x))``, ``x + mlp(ln(x))`` with causal multi-head
self-attention (``scaled_dot_product_attention(is_causal=True)``) and a GELU MLP of width
``4 * n_embd``; a final LayerNorm and a bias-free linear head over the K codes (optionally tied to the
first K rows of the token embedding). Initialisation: N(0, 0.02) weights, zero biases, and the two
projections that write into the residual stream scaled by ``1 / sqrt(2 * n_layer)`` so that the
stream's variance does not grow with depth.

Sampling uses a key/value cache (:meth:`PriorTransformer.step`): each new token attends to the cached
keys and values of all earlier ones.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.checks import check_int

__all__ = ["PriorTransformer", "build_prior"]


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.attn_dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        """``x`` (B, T, C). ``cache``: None (training: causal over the T positions) or a one-slot list
        holding this layer's (keys, values) so far (or None before the first call); the new positions
        attend to every cached one and to each other causally, and the cache is extended."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, c // self.n_head).permute(2, 0, 3, 1, 4)
        causal = True
        if cache is not None:
            if cache[0] is not None:
                if t != 1:
                    raise ValueError(f"a cached step takes one new position at a time, got {t}")
                k, v = torch.cat([cache[0][0], k], dim=2), torch.cat([cache[0][1], v], dim=2)
                causal = False  # the one new query sees every cached key
            cache[0] = (k, v)
        p = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=causal)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(b, t, c)))


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class PriorTransformer(nn.Module):
    """The prior over sequences of ``block_size`` tokens from a codebook of ``codebook_size`` codes.

    ``forward(tokens)``: tokens (B, n) or (B, H, W) integers in [0, K) -> logits (B, n, K) of
    ``p(t_i | t_<i)`` for every position i (the start token is prepended inside)."""

    def __init__(self, codebook_size: int, block_size: int, *, n_layer: int = 4, n_head: int = 4,
                 n_embd: int = 128, dropout: float = 0.0, tie_weights: bool = False):
        super().__init__()
        for name, v in (("codebook_size", codebook_size), ("block_size", block_size), ("n_layer", n_layer),
                        ("n_head", n_head), ("n_embd", n_embd)):
            check_int(v, name)
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} must be a multiple of n_head={n_head}")
        self.codebook_size, self.block_size, self.sos = codebook_size, block_size, codebook_size
        self.tie_weights = tie_weights
        self.tok_emb = nn.Embedding(codebook_size + 1, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = None if tie_weights else nn.Linear(n_embd, codebook_size, bias=False)
        self.apply(self._init)
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp[2]):
                nn.init.normal_(proj.weight, 0.0, 0.02 / math.sqrt(2 * n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def logits_of_hidden(self, h: torch.Tensor) -> torch.Tensor:
        h = self.ln_f(h)
        if self.head is None:
            return F.linear(h, self.tok_emb.weight[: self.codebook_size])
        return self.head(h)

    def _hidden(self, inputs: torch.Tensor, start: int = 0, caches: list | None = None) -> torch.Tensor:
        pos = torch.arange(start, start + inputs.shape[1], device=inputs.device)
        x = self.drop(self.tok_emb(inputs) + self.pos_emb(pos))
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return x

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens.reshape(tokens.shape[0], -1)
        if tokens.shape[1] > self.block_size:
            raise ValueError(f"tokens have {tokens.shape[1]} positions, the model at most "
                             f"block_size={self.block_size}")
        sos = torch.full((tokens.shape[0], 1), self.sos, dtype=torch.long, device=tokens.device)
        inputs = torch.cat([sos, tokens[:, :-1].long()], dim=1)
        return self.logits_of_hidden(self._hidden(inputs))

    def new_cache(self) -> list:
        """An empty key/value cache for :meth:`step` (one slot per layer)."""
        return [[None] for _ in self.blocks]

    def step(self, inputs: torch.Tensor, position: int, cache: list) -> torch.Tensor:
        """Logits (B, K) of the next token after feeding ``inputs`` (B,) at ``position`` (0: the start
        token), with every earlier position in ``cache`` (extended in place)."""
        if not 0 <= position < self.block_size:
            raise ValueError(f"position must be in [0, {self.block_size}), got position={position}")
        h = self._hidden(inputs.reshape(-1, 1).long(), position, cache)
        return self.logits_of_hidden(h[:, -1])

    def decay_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(matrices, everything else): the weights of the linear layers and embeddings are decayed;
        biases and LayerNorm parameters are not."""
        decay, rest = [], []
        for p in self.parameters():
            if p.requires_grad:
                (decay if p.dim() >= 2 else rest).append(p)
        return decay, rest


def build_prior(config, codebook_size: int, block_size: int) -> PriorTransformer:
    """The prior of a :class:`~vqmatch.simulations.prior.config.PriorConfig` (initialised from the
    current torch generator: seed it first)."""
    return PriorTransformer(codebook_size, block_size, n_layer=config.n_layer, n_head=config.n_head,
                            n_embd=config.n_embd, dropout=config.dropout, tie_weights=config.tie_weights)
