"""Ancestral sampling of token grids from a trained prior.

Position by position in raster order, the next token is drawn from ``softmax(logits / temperature)``
restricted to the ``top_k`` largest logits (exactly k candidates: ``torch.topk`` breaks a tie at the
k-th value), with a key/value cache so that each step costs one position. ``temperature=0`` is greedy
decoding (the argmax). Draws come from a ``torch.Generator`` seeded with ``seed`` on the model's
device, so the same (model, n, grid, temperature, top_k, seed, batch_size) gives the same grids;
``batch_size`` is part of that list because the generator is consumed batch by batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .model import PriorTransformer

__all__ = ["sample"]


def _check_grid(grid, block_size: int) -> tuple[int, int]:
    if isinstance(grid, int) and not isinstance(grid, bool):
        grid = (1, grid)
    if (not isinstance(grid, (tuple, list)) or len(grid) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in grid)):
        raise ValueError(f"grid must be (H, W) positive integers or a length L, got grid={grid!r}")
    if grid[0] * grid[1] != block_size:
        raise ValueError(f"grid={tuple(grid)} has {grid[0] * grid[1]} tokens, the model "
                         f"block_size={block_size}")
    return int(grid[0]), int(grid[1])


@torch.no_grad()
def sample(model: PriorTransformer, n: int, grid, *, temperature: float = 1.0, top_k: int | None = None,
           seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """``n`` token grids (int64 array (n, H, W)) drawn from ``model`` (module docstring).

    ``grid``: (H, W) with H * W the model's block size (or an int L for (n, 1, L)). ``top_k``: None
    (all K codes) or 1 <= top_k <= K. The model is put in eval mode and returned to its former mode."""
    if not isinstance(model, PriorTransformer):
        raise TypeError(f"model must be a PriorTransformer, got {type(model).__name__}")
    h, w = _check_grid(grid, model.block_size)
    for name, v in (("n", n), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={v!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got seed={seed!r}")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got temperature={temperature!r}")
    k = model.codebook_size
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= k):
        raise ValueError(f"top_k must be None or an integer in [1, {k}], got top_k={top_k!r}")
    device = next(model.parameters()).device
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            cache = model.new_cache()
            prev = torch.full((b,), model.sos, dtype=torch.long, device=device)
            seq = torch.empty((b, h * w), dtype=torch.long, device=device)
            for pos in range(h * w):
                logits = model.step(prev, pos, cache).float()
                prev = _draw(logits, temperature, top_k, gen)
                seq[:, pos] = prev
            out.append(seq.cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).view(n, h, w).numpy()


def _draw(logits: torch.Tensor, temperature: float, top_k: int | None, gen: torch.Generator) -> torch.Tensor:
    if temperature == 0 or top_k == 1:
        return logits.argmax(dim=-1)
    if top_k is not None and top_k < logits.shape[-1]:
        values, idx = torch.topk(logits, top_k, dim=-1)
        choice = torch.multinomial(torch.softmax(values / temperature, dim=-1), 1, generator=gen)
        return idx.gather(-1, choice).squeeze(-1)
    return torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=gen).squeeze(-1)
