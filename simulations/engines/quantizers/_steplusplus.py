r"""STE++: the straight-through baseline of Huh, Cheung, Agrawal & Isola (ICML 2023), "Straightening
out the straight-through estimator: overcoming optimization challenges in vector quantized
networks" (arXiv:2305.08842), written from the paper's description: affine reparameterisation of the
codebook, alternating optimisation and the synchronised update."""

from __future__ import annotations

import torch
from torch import nn

from ._base import Quantizer, autocast_disabled, check_nonneg_float, compute_dtype, search

__all__ = ["STEPlusPlusQuantizer"]


class STEPlusPlusQuantizer(Quantizer):
    r"""STE++ (Huh et al. 2023): vanilla VQ with the three changes of the paper.

    **(a) Affine reparameterisation** (the paper's "affine re-parameterization"). The effective
    codebook is

    .. math:: e_k = \mu + \sigma \odot c_k,

    with raw codes :math:`c_k` (the ``weight`` parameter, (K, d)) and a per-dimension shift
    :math:`\mu` and scale :math:`\sigma` (``affine_mean``, ``affine_std``, (d,) each), shared by
    all codes and trainable. They start at 0 and 1, so the initial effective codebook is the initial
    codes (the same start as every other quantizer). The codebook term
    :math:`\alpha\|\mathrm{sg}(z) - e_{r}\|^2` reaches :math:`\mu, \sigma` through the USED codes,
    and since they are shared, a step moves every code, unused ones included, towards the feature
    mean and spread: the codebook follows the feature distribution instead of leaving its unused
    codes behind (the paper's "index collapse" remedy). (The paper also allows running statistics
    instead of learned :math:`\mu, \sigma`, and groups of codes with their own affine pair; neither is
    implemented here. The authors' ``vqtorch`` README example also scales the affine parameters'
    learning rate up, ``affine_lr=10``; here use :meth:`affine_parameters` for a parameter group.)

    **(b) Alternating optimisation** (the paper's "alternated optimization": reduce the
    commitment/codebook error with codebook steps between the model's steps). As in every
    quantizer here, the codebook and affine parameters get gradient from the codebook term only
    (plus the synchronised term below) and the encoder from the commitment term
    :math:`\beta\|z - \mathrm{sg}(e_r)\|^2` (plus the task).
    ``alternating=False`` (default): one optimiser over everything works, the forward's ``loss``
    holds both terms. ``alternating=True``: the forward's ``loss`` omits the codebook term and the
    codebook gets its own optimisation step: use a separate optimiser for
    :meth:`codebook_parameters`, stepped after the encoder's, on :meth:`codebook_loss` of the fresh
    (detached) encoder output::

        out = q(encoder(x)); (task(out.quantized) + out.loss).backward()
        encoder_opt.step(); encoder_opt.zero_grad()
        q.codebook_loss(encoder(x).detach()).backward()   # assignment with the current codes
        codebook_opt.step(); codebook_opt.zero_grad()     # also applies the synchronised pull

    **(c) Synchronised update** (the paper's "synchronized commitment loss"). The straight-through
    output is

    .. math:: \hat z = \mathrm{sg}(e_r) + \big(z - \mathrm{sg}(z)\big)
                       + \nu\,\big(e_r - \mathrm{sg}(e_r)\big),

    i.e. the paper's :math:`z + \mathrm{sg}(e_r - z) + \nu e_r - \mathrm{sg}(\nu e_r)` written so that
    the value is exactly :math:`e_r` (in the input's dtype): :math:`\partial\hat z/\partial z = I`
    (the usual straight-through gradient) and :math:`\partial\hat z/\partial e_r = \nu I`, so the
    selected codes (and, through them, :math:`\mu, \sigma`) also receive :math:`\nu` times the task
    gradient that the encoder receives, and move with the encoder's update instead of one step behind
    it. ``sync`` is :math:`\nu` (default 0.2, the value the authors' ``vqtorch`` library documents
    for its ``sync_nu`` example; 0 gives the plain straight-through output). Without a task loss (the
    paper's atomic setting, where ``quantized`` feeds nothing) it has no effect.

    Step sizes. The shared pair collects the gradient of the whole batch and :math:`\sigma` scales
    the raw codes' curvature by :math:`\sigma^2`, so plain SGD needs a smaller step than vanilla VQ:
    at vanilla's lr 1.0 (momentum 0.9) the atomic setting (K = 64, d = 8, features N(3, I)) diverges
    within 20 steps; :func:`default_training` uses lr 0.1 (measured: utilization 0.97-0.98 after 60
    steps where vanilla stays below 0.05); features far from the initial codes (mean 6) need less.

    Options: ``sync`` (:math:`\nu\ge 0`, default 0.2), ``alternating`` (default False), and those of
    :class:`Quantizer` (``alpha``, ``beta`` default 1.0 as for vanilla). Not in the Wasserstein
    paper's atomic setting.
    """

    name = "ste++"

    def __init__(self, codebook_size: int, codebook_dim: int, *, sync: float = 0.2,
                 alternating: bool = False, **options):
        super().__init__(codebook_size, codebook_dim, **options)
        self.sync = check_nonneg_float(sync, "sync")
        if not isinstance(alternating, bool):
            raise ValueError(f"alternating must be True or False, got alternating={alternating!r}")
        self.alternating = alternating
        self.uses_codebook_loss = not alternating
        codes = self._take_init()
        self.weight = nn.Parameter(codes)
        self.affine_mean = nn.Parameter(torch.zeros(codebook_dim, dtype=codes.dtype))
        self.affine_std = nn.Parameter(torch.ones(codebook_dim, dtype=codes.dtype))

    def _codes(self) -> torch.Tensor:
        work = compute_dtype(self.weight.dtype)  # float32 or wider, whatever the storage
        return torch.addcmul(self.affine_mean.to(work), self.affine_std.to(work), self.weight.to(work))

    def codebook_parameters(self) -> list[nn.Parameter]:
        """The raw codes and the affine pair: what the codebook's own optimiser steps
        (``alternating=True``)."""
        return [self.weight, self.affine_mean, self.affine_std]

    def affine_parameters(self) -> list[nn.Parameter]:
        """The shared shift and scale (e.g. for a parameter group with its own learning rate)."""
        return [self.affine_mean, self.affine_std]

    def codebook_loss(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\alpha\|\mathrm{sg}(z) - e_{r(z)}\|^2` with the current codes (a fresh search;
        averaged over feature vectors like the forward's terms): the loss of the codebook's own
        step in the alternating scheme. ``z`` as for the forward (any floating dtype; gradient
        never reaches it). Changes no state."""
        flat_in, _ = self._flatten(z)
        with autocast_disabled(flat_in.device):
            codes = self._working_codes(flat_in.device)
            flat = flat_in.detach().to(codes.dtype)
            idx = search(flat, codes, chunk_size=self.chunk_size, engine=self.search_engine,
                         max_chunk_bytes=self.max_chunk_bytes).indices
            return self.alpha * self._sqdist(flat, codes[idx])

    def _straight_through(self, flat_in: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
        out = super()._straight_through(flat_in, z_q)
        if self.sync and z_q.requires_grad:
            out = out + (self.sync * (z_q - z_q.detach())).to(out.dtype)  # value 0, gradient nu
        return out
