"""The four baseline quantizers of the paper's atomic setting: vanilla, EMA (k-means), online
(CVQ-VAE re-anchoring) and linear (frozen codes times a trainable map)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._base import (
    Quantizer,
    check_choice,
    check_decay,
    check_nonneg_float,
    compute_dtype,
    farthest_feature,
    search,
)

__all__ = ["EMAQuantizer", "LinearQuantizer", "OnlineQuantizer", "VanillaQuantizer"]


class VanillaQuantizer(Quantizer):
    r"""VQ-VAE quantizer (van den Oord et al. 2017): trainable codes, loss
    :math:`\alpha\|\mathrm{sg}(z) - e\|^2 + \beta\|z - \mathrm{sg}(e)\|^2`, straight-through
    estimator. The codes are the ``weight`` parameter; options as :class:`Quantizer`."""

    name = "vanilla"

    def __init__(self, codebook_size: int, codebook_dim: int, **options):
        super().__init__(codebook_size, codebook_dim, **options)
        self.weight = nn.Parameter(self._take_init())

    def _codes(self) -> torch.Tensor:
        return self.weight


class EMAQuantizer(Quantizer):
    r"""k-means-style exponential-moving-average codebook (VQ-VAE appendix; VQ-VAE-2).

    In training mode each forward, after assigning the batch with the current codes, updates

    .. math:: N_k \leftarrow \gamma N_k + (1-\gamma) n_k,\quad
              m_k \leftarrow \gamma m_k + (1-\gamma) \textstyle\sum_{i: r_i = k} z_i,\quad
              e_k = m_k / \tilde N_k,\quad
              \tilde N_k = \frac{N_k + \epsilon}{\sum_j N_j + K\epsilon}\sum_j N_j

    (Laplace smoothing). With ``decay`` :math:`\gamma = 0` and ``eps = 0`` one update puts every
    used code exactly at the mean of its assigned features (one Lloyd step). Initial state as the
    authors' code: :math:`N = 0`, :math:`m = e^{(0)}`. A code never used has :math:`\tilde N_k\approx
    \epsilon` and is rescaled to :math:`m_k/\epsilon`, far away, and stays dead (the standard
    behaviour, also that of the authors' ``ema_update`` in SimulationAnalyses/
    DistributionalMatchingPerspective/*/VariousVQs.py, github.com/VQ-Research/Wasserstein-VQ); a
    code with :math:`\tilde N_k = 0` exactly (``eps = 0``) keeps its position. No trainable
    parameters: the codes are the ``weight`` buffer; the loss is the commitment term only
    (``beta``). The step's counts and sums are formed in the compute dtype (float32 or wider).

    Options: ``decay`` in [0, 1) (default 0.99; the authors' atomic setting 0.9, VQ-VAE 0.8),
    ``eps`` >= 0 (default 1e-5), and those of :class:`Quantizer`.
    """

    name = "ema"
    uses_codebook_loss = False

    def __init__(self, codebook_size: int, codebook_dim: int, *, decay: float = 0.99,
                 eps: float = 1e-5, **options):
        super().__init__(codebook_size, codebook_dim, **options)
        self.decay = check_decay(decay)
        self.eps = check_nonneg_float(eps, "eps")
        codes = self._take_init()
        self.register_buffer("weight", codes)
        self.register_buffer("cluster_size", torch.zeros(codebook_size, dtype=codes.dtype))
        self.register_buffer("embed_avg", codes.clone())

    def _codes(self) -> torch.Tensor:
        return self.weight

    def _update(self, features, indices, codes) -> None:
        g, work = self.decay, features.dtype  # the statistics of the step in the compute dtype
        counts = torch.bincount(indices, minlength=self.codebook_size).to(work)
        sums = torch.zeros(self.embed_avg.shape, dtype=work, device=features.device)
        sums.index_add_(0, indices, features)
        self.cluster_size.mul_(g).add_(counts, alpha=1 - g)
        self.embed_avg.mul_(g).add_(sums, alpha=1 - g)
        size, avg = self.cluster_size.to(work), self.embed_avg.to(work)
        n = size.sum()
        smoothed = (size + self.eps) / (n + self.codebook_size * self.eps) * n
        ok = smoothed > 0
        self.weight.copy_(torch.where(ok[:, None], avg / torch.where(ok, smoothed, 1)[:, None], codes))


class OnlineQuantizer(Quantizer):
    r"""Online clustering with re-anchoring of rarely used codes (CVQ-VAE, Zheng & Vedaldi 2023).

    Trainable codes with the vanilla loss, plus, in training mode after each forward, a running
    average of the usage :math:`p_k \leftarrow \gamma p_k + (1-\gamma) n_k/N` and the move

    .. math:: e_k \leftarrow (1 - w_k)\,e_k + w_k\,a_k

    towards an anchor feature :math:`a_k` of the current batch, with
    :math:`w_k = \exp(-10 K p_k / (1-\gamma) - 10^{-3})` (CVQ-VAE's soft rule: ~1 for a dead
    code, ~0 for a code in use) or, with ``threshold`` t, the hard rule :math:`w_k = 1(p_k < t/K)`.

    ``anchor="nearest"`` (default): :math:`a_k` is the batch feature closest to :math:`e_k`, as
    CVQ-VAE describes it and as the authors' atomic-setting simulation does (``argmin``).
    ``anchor="farthest"``: the batch feature FARTHEST from :math:`e_k`. This is what the authors'
    VQ-VAE and VQGAN ports actually compute (they sort a positive distance ascending and take the
    last index, where CVQ-VAE sorts a negative distance: code/VQVAE/model/online_quantizer.py and
    code/VQ-Transplant/VQGAN/models/online_quantizer.py of github.com/VQ-Research/Wasserstein-VQ).
    It throws dead codes to the far side of the data and handicaps the Online baseline in the
    paper's image experiments; the option exists to explain those numbers.

    Options: ``decay`` in [0, 1) (default 0.99; the authors' atomic setting 0.9), ``anchor``,
    ``threshold`` (None or a positive float, in units of the uniform usage 1/K), and those of
    :class:`Quantizer`. The anchor search runs in chunks of codes (bounded memory, no K x N sort).
    """

    name = "online"

    def __init__(self, codebook_size: int, codebook_dim: int, *, decay: float = 0.99,
                 anchor: str = "nearest", threshold: float | None = None, **options):
        super().__init__(codebook_size, codebook_dim, **options)
        self.decay = check_decay(decay)
        self.anchor = check_choice(anchor, ("nearest", "farthest"), "anchor")
        self.threshold = None if threshold is None else check_nonneg_float(
            threshold, "threshold", positive=True)
        self.weight = nn.Parameter(self._take_init())
        self.register_buffer("usage", torch.zeros(codebook_size, dtype=self.weight.dtype))

    def _codes(self) -> torch.Tensor:
        return self.weight

    def anchor_weights(self) -> torch.Tensor:
        """Mixing weight w_k of every code, from the running usage (see the class docstring)."""
        k = self.codebook_size
        if self.threshold is not None:
            return (self.usage < self.threshold / k).to(self.usage.dtype)
        return torch.exp(-self.usage * (k * 10.0 / (1.0 - self.decay)) - 1e-3)

    def _update(self, features, indices, codes) -> None:
        counts = torch.bincount(indices, minlength=self.codebook_size).to(features.dtype)
        self.usage.mul_(self.decay).add_(counts / features.shape[0], alpha=1 - self.decay)
        if self.anchor == "nearest":  # roles swapped: each code's nearest feature
            idx = search(codes, features, chunk_size=None, engine=self.search_engine,
                         max_chunk_bytes=self.max_chunk_bytes).indices
        else:
            idx = farthest_feature(codes, features, max_chunk_bytes=self.max_chunk_bytes)
        w = self.anchor_weights()[:, None]
        self.weight.data.mul_(1 - w).add_(w * features[idx])


class LinearQuantizer(Quantizer):
    r"""Frozen random codes :math:`C` and a trainable linear map (VQGAN-LC, Zhu et al. 2024; SimVQ):
    the effective codebook is :math:`E = C W^\top + b`, trained with the vanilla loss on :math:`E`
    (only ``W`` and ``b`` are parameters; ``C`` is the ``frozen`` buffer).

    Options: ``bias`` (default True, like the authors' ``nn.Linear(d, d)``), ``map_init``:
    ``"identity"`` (default: the effective initial codebook equals the initial codes, so every
    method starts from the same codebook, as the paper says) or ``"torch_default"`` (PyTorch's
    default Linear init, what the authors' atomic simulation actually does, SimulationAnalyses/
    DistributionalMatchingPerspective/*/VariousVQs.py of github.com/VQ-Research/Wasserstein-VQ: its
    starting codebook differs from the others'), and those of :class:`Quantizer`.
    """

    name = "linear"

    def __init__(self, codebook_size: int, codebook_dim: int, *, bias: bool = True,
                 map_init: str = "identity", **options):
        super().__init__(codebook_size, codebook_dim, **options)
        check_choice(map_init, ("identity", "torch_default"), "map_init")
        if not isinstance(bias, bool):
            raise ValueError(f"bias must be True or False, got bias={bias!r}")
        self.register_buffer("frozen", self._take_init())
        dtype = self.frozen.dtype
        self.proj = nn.Linear(codebook_dim, codebook_dim, bias=bias, dtype=dtype)
        if map_init == "identity":
            with torch.no_grad():
                self.proj.weight.copy_(torch.eye(codebook_dim, dtype=dtype))
                if bias:
                    self.proj.bias.zero_()
        else:  # PyTorch's default init, drawn from this quantizer's seed
            gen = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
            bound = 1.0 / math.sqrt(codebook_dim)
            with torch.no_grad():
                self.proj.weight.uniform_(-bound, bound, generator=gen)
                if bias:
                    self.proj.bias.uniform_(-bound, bound, generator=gen)

    def _codes(self) -> torch.Tensor:
        work = compute_dtype(self.frozen.dtype)  # the map in float32 or wider, whatever the storage
        bias = None if self.proj.bias is None else self.proj.bias.to(work)
        return nn.functional.linear(self.frozen.to(work), self.proj.weight.to(work), bias)
