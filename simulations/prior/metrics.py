"""Token statistics: the marginal of a token set and the baselines an autoregressive prior must beat.

All entropies are in bits (log base 2). For a token set with empirical marginal p over K codes:

* ``entropy_bits`` H(p) = -sum_k p_k log2 p_k (0 log 0 = 0), at most ``log2 K``;
* ``perplexity`` 2^H(p) (the effective number of codes, the paper's Criterion 3) and ``utilization``
  (the fraction of the K codes that occur at least once, Criterion 2);
* the **unigram baselines** of a held-out set: a model that predicts every token independently from
  a marginal q pays the cross-entropy H(p_heldout, q) = -sum_k p_heldout,k log2 q_k bits per token.
  With q = p_heldout (the held-out marginal itself: an oracle unigram) this is the held-out entropy;
  with q the TRAIN marginal it is what a unigram model fitted on the training tokens gets, smoothed by
  add-alpha (Laplace for alpha = 1): q_k = (c_k + alpha) / (N + alpha K), so that a code unseen in
  training costs log2((N + alpha K) / alpha) bits instead of infinitely many. A prior whose held-out
  bits per token are not below these numbers has learnt nothing beyond the marginal;
* ``js_divergence``: the Jensen-Shannon divergence (bits, in [0, 1]) between two token histograms,
  e.g. the samples' marginal against the held-out one.

:func:`check_tokens` validates a token array: integer dtype, shape (N, H, W) or (N, L), every value in
[0, K); a violation raises ValueError naming the parameter.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.spatial.distance import jensenshannon

from ..core.checks import check_int

__all__ = ["check_codebook_size", "check_tokens", "entropy_bits", "histogram", "js_divergence", "log2_k",
           "perplexity", "token_stats", "unigram_baselines", "utilization"]


def check_codebook_size(codebook_size, name: str = "codebook_size") -> int:
    return check_int(codebook_size, name)


def check_tokens(tokens, codebook_size: int, name: str = "tokens", *, grid: bool = False) -> np.ndarray:
    """``tokens`` as an int64 numpy array (N, H, W) or (N, L) with values in [0, codebook_size).

    ``grid=True`` turns (N, L) into (N, 1, L) so that every result is (N, H, W). Raises ValueError
    naming ``name`` for a non-integer dtype, a wrong number of dimensions, no tokens or a value out of
    range."""
    k = check_codebook_size(codebook_size)
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.detach().cpu().numpy()
    arr = np.asarray(tokens)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integer code indices, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (N, H, W) or (N, L), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one token, got shape {arr.shape}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= k:
        raise ValueError(f"{name} must lie in [0, codebook_size={k}), got values in [{lo}, {hi}]"
                         + ("; is codebook_size the VQ-VAE's K?" if hi >= k else ""))
    arr = arr.astype(np.int64, copy=False)
    return arr[:, None, :] if grid and arr.ndim == 2 else arr


def histogram(tokens, codebook_size: int, name: str = "tokens") -> np.ndarray:
    """Counts (K,) int64 of every code in ``tokens`` (any shape accepted by :func:`check_tokens`, or a
    1-D array of indices)."""
    arr = np.asarray(tokens.detach().cpu() if isinstance(tokens, torch.Tensor) else tokens)
    if arr.ndim == 1:
        arr = arr[None, :]
    arr = check_tokens(arr.reshape(arr.shape[0], -1), codebook_size, name)
    return np.bincount(arr.ravel(), minlength=codebook_size).astype(np.int64)


def _probs(counts, name: str) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)) or np.any(c < 0) or c.sum() <= 0:
        raise ValueError(f"{name} must be a 1-D histogram of non-negative counts with a positive sum")
    return c / c.sum()


def entropy_bits(counts) -> float:
    """H(p) in bits of the histogram ``counts`` (normalised here)."""
    p = _probs(counts, "counts")
    nz = p[p > 0]
    return float(-(nz * np.log2(nz)).sum()) + 0.0


def log2_k(codebook_size: int) -> float:
    """log2 K: the bits per token of a uniform prior (the most any marginal can have)."""
    return math.log2(check_codebook_size(codebook_size))


def utilization(tokens, codebook_size: int) -> float:
    """Fraction of the K codes that occur in ``tokens``."""
    return float(np.count_nonzero(histogram(tokens, codebook_size)) / codebook_size)


def perplexity(tokens, codebook_size: int) -> float:
    """2 ** (marginal entropy in bits) of ``tokens``."""
    return float(2.0 ** entropy_bits(histogram(tokens, codebook_size)))


def token_stats(tokens, codebook_size: int) -> dict:
    """``{"tokens", "entropy_bits", "perplexity", "utilization", "log2_k"}`` of one token set."""
    counts = histogram(tokens, codebook_size)
    h = entropy_bits(counts)
    return {"tokens": int(counts.sum()), "entropy_bits": h, "perplexity": 2.0 ** h,
            "utilization": float(np.count_nonzero(counts) / codebook_size), "log2_k": log2_k(codebook_size)}


def unigram_baselines(train_tokens, heldout_tokens, codebook_size: int, *, smoothing: float = 1.0) -> dict:
    """The unigram baselines of the held-out tokens, in bits per token (module docstring).

    ``heldout_entropy_bits``: the held-out marginal's own entropy (an oracle unigram model);
    ``train_unigram_bits``: the cross-entropy of the add-``smoothing`` train marginal on the held-out
    tokens; ``log2_k``: the uniform model's bits; ``smoothing``: the alpha used."""
    if not (isinstance(smoothing, (int, float)) and math.isfinite(smoothing) and smoothing > 0):
        raise ValueError(f"smoothing must be a positive number, got smoothing={smoothing!r}")
    c_train = histogram(train_tokens, codebook_size, "train_tokens").astype(np.float64)
    p_held = _probs(histogram(heldout_tokens, codebook_size, "heldout_tokens"), "heldout_tokens")
    q = (c_train + smoothing) / (c_train.sum() + smoothing * codebook_size)
    return {"heldout_entropy_bits": entropy_bits(p_held),
            "train_unigram_bits": float(-(p_held * np.log2(q)).sum()),
            "log2_k": log2_k(codebook_size), "smoothing": float(smoothing)}


def js_divergence(counts_a, counts_b) -> float:
    """Jensen-Shannon divergence in bits between two histograms of the same length (normalised here):
    0 for equal marginals, 1 for disjoint supports. The square of scipy's Jensen-Shannon distance."""
    p, q = _probs(counts_a, "counts_a"), _probs(counts_b, "counts_b")
    if p.shape != q.shape:
        raise ValueError(f"counts_a and counts_b must have the same length, got {p.size} and {q.size}")
    return float(min(1.0, jensenshannon(p, q, base=2) ** 2))
