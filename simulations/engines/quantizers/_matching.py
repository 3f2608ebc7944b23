r"""Distribution-matching quantizers: the paper's Wasserstein VQ, its density-corrected variant, and
the MMD and sliced-W2 alternatives. Each adds a matching term between the feature distribution
and the codebook distribution that sends gradient to the codebook ONLY (features are detached),
on top of the vanilla codebook/commitment terms (weights ``alpha``, ``beta``)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from vqmatch.theory import nearest_code, wasserstein_vq_loss
from vqmatch.theory.quantization import best_gaussian_codebook_scale2

from ._base import Quantizer, check_nonneg_float, check_positive_int

__all__ = [
    "DensityWassersteinQuantizer",
    "MMDQuantizer",
    "SlicedQuantizer",
    "WassersteinQuantizer",
    "finite_k_gaussian_scale2",
    "mmd2",
    "sliced_w2",
]


class _MatchingQuantizer(Quantizer):
    """Trainable codes (``weight`` parameter), vanilla terms plus ``weight`` x a matching term."""

    def __init__(self, codebook_size: int, codebook_dim: int, *, weight: float = 1.0, **options):
        super().__init__(codebook_size, codebook_dim, **options)
        self.matching_weight = check_nonneg_float(weight, "weight")
        self.weight = nn.Parameter(self._take_init())

    def _codes(self) -> torch.Tensor:
        return self.weight


# ---------------------------------------------------------------------------------- Wasserstein


class WassersteinQuantizer(_MatchingQuantizer):
    r"""The paper's Wasserstein VQ: closed-form :math:`W_2` between the Gaussian fitted to recent
    features and the Gaussian fitted to the codebook (:func:`vqmatch.theory.wasserstein_vq_loss`: feature
    statistics detached, so the gradient reaches the codebook only; exact Lemma 3 value with a
    closed-form backward).

    Loss: :math:`\alpha\,\text{codebook} + \beta\,\text{commitment} + \text{weight}\cdot L_W`.

    Options
    -------
    weight : float, default 0.5
        :math:`\gamma` (the paper's VQ-VAE value; its atomic setting uses 10 with ``alpha=0.1``,
        see :func:`default_training`).
    squared : bool, default False
        :math:`W_2^2` instead of the paper's un-squared :math:`W_2`.
    normalize : bool, default True
        Divide features and codes by the largest per-coordinate feature std (the authors' VQ-VAE
        code; their atomic simulation does not normalise).
    queue_size : int | None, default None
        Features used for the statistics: None or 0 = the current batch only; n > 0 = a FIFO queue
        of the n most recent training features including the current batch (the authors use
        65,536 in the VQ-VAE). The queue starts empty (the authors fill it with 0.01-noise, which
        biases the first steps); evaluation mode uses the current batch only and leaves the queue
        untouched.
    beta : float, default 0.1 (the authors' Wasserstein VQ-VAE commitment weight).
    """

    name = "wasserstein"

    def __init__(self, codebook_size: int, codebook_dim: int, *, weight: float = 0.5,
                 squared: bool = False, normalize: bool = True, queue_size: int | None = None,
                 beta: float = 0.1, **options):
        super().__init__(codebook_size, codebook_dim, weight=weight, beta=beta, **options)
        for flag, value in (("squared", squared), ("normalize", normalize)):
            if not isinstance(value, bool):
                raise ValueError(f"{flag} must be True or False, got {flag}={value!r}")
        self.squared, self.normalize = squared, normalize
        self.queue_size = 0 if not queue_size else check_positive_int(queue_size, "queue_size")
        self.register_buffer("queue", torch.zeros(self.queue_size, codebook_dim,
                                                  dtype=self.weight.dtype))
        self.register_buffer("queue_count", torch.zeros((), dtype=torch.long))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def _enqueue(self, features: torch.Tensor) -> None:
        n, q = features.shape[0], self.queue_size
        features = features.to(self.queue.dtype)
        if n >= q:
            self.queue.copy_(features[-q:])
            self.queue_ptr.zero_()
            self.queue_count.fill_(q)
            return
        pos = (int(self.queue_ptr) + torch.arange(n, device=features.device)) % q
        self.queue[pos] = features
        self.queue_ptr.fill_((int(self.queue_ptr) + n) % q)
        self.queue_count.fill_(min(q, int(self.queue_count) + n))

    def statistics_features(self, features: torch.Tensor) -> torch.Tensor:
        """The (detached) features whose Gaussian the codebook is matched to. In training mode with
        a queue this ENQUEUES the batch first (the authors' order), so call it once per step."""
        features = features.detach()
        if not (self.training and self.queue_size):
            return features
        self._enqueue(features)
        return self.queue[: int(self.queue_count)].to(features.dtype)

    def target_features(self, features: torch.Tensor) -> torch.Tensor:
        """Features whose Gaussian is the target (identity here; rescaled in the density variant)."""
        return features

    def _matching(self, features, codes):
        stats = self.target_features(self.statistics_features(features))
        return wasserstein_vq_loss(stats, codes, squared=self.squared, normalize=self.normalize)


def finite_k_gaussian_scale2(d: int, n_codes: int, *, n_features: int = 8192, seed: int = 0) -> float:
    r"""Best variance :math:`c` of ``n_codes`` i.i.d. :math:`N(0, cI_d)` codes for :math:`N(0, I_d)`
    features at this FINITE K, by Monte Carlo: minimises the measured distortion
    :math:`E(c) = \mathbb E\min_k\|z - \sqrt c\, g_k\|^2` over :math:`\log c\in[\log 0.2,\log 5]`
    (bounded scalar search) with common random numbers (one draw of codes and features, scaled), so
    :math:`E(c)` is smooth. Deterministic (fixed ``seed``) and cached. As K grows it tends to the
    high-resolution value :math:`(d+2)/d` (:func:`vqmatch.theory.quantization.best_gaussian_codebook_scale2`);
    at few codes per dimension it differs a lot: e.g. d = 8 gives about 0.57 (K = 64), 0.85 (K = 1024)
    and 1.0 (K = 16384) against the high-resolution 1.25, a codebook as wide as the data or narrower.
    Cost: about 20 exact searches of ``n_features`` x K (seconds at K = 16384 on one CPU core).
    """
    return _finite_k_scale2(check_positive_int(d, "d"), check_positive_int(n_codes, "n_codes"),
                            check_positive_int(n_features, "n_features"), int(seed))


@functools.lru_cache(maxsize=64)
def _finite_k_scale2(d: int, n_codes: int, n_features: int, seed: int) -> float:
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n_codes, d)).astype(np.float32)
    z = rng.standard_normal((n_features, d)).astype(np.float32)

    def distortion(log_c: float) -> float:
        return float(nearest_code(z, math.exp(0.5 * log_c) * g).sq_dist.astype(np.float64).mean())

    res = minimize_scalar(distortion, bounds=(math.log(0.2), math.log(5.0)), method="bounded",
                          options={"xatol": 1e-3})
    return float(math.exp(res.x))


SCALE_RULES = ("high_resolution", "finite_k")


class DensityWassersteinQuantizer(WassersteinQuantizer):
    r"""Wasserstein VQ aimed at the MSE-optimal codebook density instead of the feature density.

    The codebook Gaussian is matched to :math:`N(\mu_A, c\,\Sigma_A)` instead of
    :math:`N(\mu_A, \Sigma_A)` (the paper's open question 2: which distribution should the codes
    follow?). Classical quantization theory says the optimal point density for MSE is
    :math:`\propto f^{d/(d+2)}` (Zador 1982; Gersho 1979), and for Gaussian features
    :math:`f^{d/(d+2)}` is the Gaussian :math:`N(\mu_A, \frac{d+2}{d}\Sigma_A)`, so matching the
    features themselves (c = 1) is slightly too narrow.

    ``scale`` (the rule for c):

    * ``"high_resolution"`` (default): :math:`c = (d+2)/d`
      (:func:`vqmatch.theory.quantization.best_gaussian_codebook_scale2`), exact as K -> infinity for any
      feature covariance;
    * ``"finite_k"``: the best scale of K i.i.d. Gaussian codes at this finite K
      (:func:`finite_k_gaussian_scale2`, a deterministic Monte Carlo computed once; exact for
      isotropic features, a whitened approximation otherwise);
    * a positive float: that c (``1.0`` gives the plain Wasserstein quantizer).

    The target features are rescaled about their mean, :math:`\mu + \sqrt c\,(z - \mu)`, whose
    Gaussian is exactly :math:`N(\mu_A, c\,\Sigma_A)`; everything else is
    :class:`WassersteinQuantizer` (same options).
    """

    name = "density_wasserstein"

    def __init__(self, codebook_size: int, codebook_dim: int, *, scale="high_resolution", **options):
        super().__init__(codebook_size, codebook_dim, **options)
        if isinstance(scale, str):
            if scale not in SCALE_RULES:
                raise ValueError(f"scale must be one of {SCALE_RULES} or a positive number, "
                                 f"got scale={scale!r}")
            self.scale_rule = scale
            self.scale2 = (best_gaussian_codebook_scale2(codebook_dim) if scale == "high_resolution"
                           else finite_k_gaussian_scale2(codebook_dim, codebook_size))
        else:
            self.scale_rule = "fixed"
            self.scale2 = check_nonneg_float(scale, "scale", positive=True)

    def target_features(self, features):
        mean = features.mean(dim=0)
        return mean + math.sqrt(self.scale2) * (features - mean)


# ---------------------------------------------------------------------------------- MMD


def _sqdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(-1)[:, None] + (b * b).sum(-1)[None, :] - 2.0 * a @ b.T).clamp_min(0)


def mmd2(features: torch.Tensor, codes: torch.Tensor, bandwidths: Sequence[float] | torch.Tensor):
    r"""Biased (V-statistic) squared MMD with the kernel :math:`k(x, y) = \sum_h e^{-\|x-y\|^2/h}`:

    .. math:: \frac1{N^2}\sum_{ij}k(z_i,z_j) - \frac2{NK}\sum_{ik}k(z_i,e_k)
              + \frac1{K^2}\sum_{kl}k(e_k,e_l)

    (the paper's Section 3.3 formula). ``features`` are detached (the codebook gets the gradient);
    ``bandwidths`` are the values h (squared-length units)."""
    z = features.detach()
    h = torch.as_tensor(bandwidths, dtype=codes.dtype, device=codes.device).reshape(-1)

    def kernel_mean(a, b):
        dist = _sqdist(a, b)
        return torch.exp(-dist[None] / h[:, None, None]).sum(0).mean()

    return kernel_mean(z, z) - 2.0 * kernel_mean(z, codes) + kernel_mean(codes, codes)


class MMDQuantizer(_MatchingQuantizer):
    r"""Vanilla VQ plus ``weight`` x the squared MMD (:func:`mmd2`) between a random subsample of the
    features and a random subsample of the codes (both redrawn every step); gradient to the
    codebook only. Memory and time are O((n + m)^2) for n = ``max_features``, m = ``max_codes``.

    Options
    -------
    weight : float, default 1.0
    bandwidths : None | float | sequence of float, default None
        Kernel widths h in :math:`e^{-\|x-y\|^2/h}`. None: the median heuristic, h = (lower) median of
        the pairwise squared distances of the pooled subsample (detached), times each of
        ``bandwidth_scales``; when that median is 0 (at least half of the pairs coincide, e.g.
        duplicated codes) the mean pairwise squared distance instead (1 if all points coincide).
    bandwidth_scales : sequence of float, default (1.0,)
        Multipliers of the median heuristic (e.g. (0.5, 1, 2) for a multi-bandwidth kernel; the
        authors' VQGAN code uses a two-width kernel, h and 2h, around a mean distance).
    max_features, max_codes : int, default 2048, 4096
    """

    name = "mmd"
    MEDIAN_POINTS = 1024

    def __init__(self, codebook_size: int, codebook_dim: int, *, weight: float = 1.0,
                 bandwidths=None, bandwidth_scales: Sequence[float] = (1.0,),
                 max_features: int = 2048, max_codes: int = 4096, **options):
        super().__init__(codebook_size, codebook_dim, weight=weight, **options)
        if bandwidths is not None:
            values = [bandwidths] if np.isscalar(bandwidths) else list(bandwidths)
            if not values:
                raise ValueError("bandwidths must not be empty")
            bandwidths = tuple(check_nonneg_float(b, "bandwidths", positive=True) for b in values)
        scales = list(bandwidth_scales) if not np.isscalar(bandwidth_scales) else [bandwidth_scales]
        if not scales:
            raise ValueError("bandwidth_scales must not be empty")
        self.bandwidths = bandwidths
        self.bandwidth_scales = tuple(check_nonneg_float(s, "bandwidth_scales", positive=True)
                                      for s in scales)
        self.max_features = check_positive_int(max_features, "max_features")
        self.max_codes = check_positive_int(max_codes, "max_codes")

    @staticmethod
    def _subsample(x: torch.Tensor, m: int, rng) -> torch.Tensor:
        if x.shape[0] <= m:
            return x
        idx = torch.from_numpy(rng.choice(x.shape[0], size=m, replace=False)).to(x.device)
        return x[idx]

    def current_bandwidths(self, features: torch.Tensor, codes: torch.Tensor, rng=None) -> torch.Tensor:
        """The kernel widths h for these subsamples (fixed, or the scaled median heuristic; the
        median is taken over the pairs of at most ``MEDIAN_POINTS`` pooled points, drawn with
        ``rng``, so its cost does not grow with the subsample sizes)."""
        if self.bandwidths is not None:
            return torch.tensor(self.bandwidths, dtype=codes.dtype, device=codes.device)
        pooled = torch.cat([features.detach(), codes.detach()])
        if pooled.shape[0] > self.MEDIAN_POINTS:
            pooled = self._subsample(pooled, self.MEDIAN_POINTS, rng or self.step_rng())
        # differences, not the |a|^2 + |b|^2 - 2ab expansion: coincident points are exactly 0 apart
        dist = torch.cdist(pooled, pooled, compute_mode="donot_use_mm_for_euclid_dist").square()
        n = pooled.shape[0]
        off = dist[~torch.eye(n, dtype=torch.bool, device=dist.device)]
        median, mean = off.median(), off.mean()
        # at least half of the pairs coincide (duplicated codes or features): a zero-width kernel
        # would be a spike with a 1/h gradient, so fall back to the mean (1 if all points coincide)
        h = torch.where(median > 0, median, torch.where(mean > 0, mean, torch.ones_like(mean)))
        return h * torch.tensor(self.bandwidth_scales, dtype=codes.dtype, device=codes.device)

    def _matching(self, features, codes):
        rng = self.step_rng()
        z = self._subsample(features.detach(), self.max_features, rng)
        c = self._subsample(codes, self.max_codes, rng)
        return mmd2(z, c, self.current_bandwidths(z, c, rng))


# ---------------------------------------------------------------------------------- sliced


def _block_means(x_sorted: torch.Tensor, k: int) -> torch.Tensor:
    """Mean of the empirical quantile function of each column over [j/k, (j+1)/k), j < k.

    ``x_sorted``: (n, L) columns sorted ascending, each point of mass 1/n. Exact for any n, k
    (fractional points are split between neighbouring blocks)."""
    n = x_sorted.shape[0]
    dtype = torch.float64
    xs = x_sorted.to(dtype)
    csum = torch.cat([torch.zeros_like(xs[:1]), xs.cumsum(0)])  # (n + 1, L)
    pos = torch.arange(k + 1, dtype=dtype, device=xs.device) * (n / k)
    lo = pos.floor().long().clamp(max=n)
    frac = (pos - lo.to(dtype))[:, None]
    upper = xs[lo.clamp(max=n - 1)]
    integral = (csum[lo] + frac * upper) / n  # int_0^{j/k} Q(s) ds
    return ((integral[1:] - integral[:-1]) * k).to(x_sorted.dtype)


def sliced_w2(features: torch.Tensor, codes: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    r"""Sliced squared :math:`W_2` between the empirical measures of ``features`` and ``codes``:

    .. math:: SW_2^2 = \frac1L\sum_{l=1}^L W_2^2\big(\theta_l^\top z,\ \theta_l^\top e\big),

    each 1-D term exact for any counts N, K: with the codes' order statistics :math:`e_{(j)}`
    and :math:`t_j = K\int_{j/K}^{(j+1)/K} Q_z(s)\,ds` (the feature quantile function averaged over
    the code's quantile block),
    :math:`W_2^2 = \frac1K\sum_j (e_{(j)} - t_j)^2 + \overline{z^2} - \frac1K\sum_j t_j^2`
    (equal counts: plain sorted matching). ``features`` are detached; ``directions`` (L, d) are
    normalised to unit length here.
    """
    theta = directions / directions.norm(dim=1, keepdim=True)
    pz = torch.sort(features.detach() @ theta.T, dim=0).values  # (N, L)
    pe = torch.sort(codes @ theta.T, dim=0).values  # (K, L)
    t = _block_means(pz, codes.shape[0])
    fit = ((pe - t) ** 2).mean(0)
    within = (pz.to(torch.float64) ** 2).mean(0) - (t.to(torch.float64) ** 2).mean(0)
    return (fit + within.clamp_min(0).to(fit.dtype)).mean()


class SlicedQuantizer(_MatchingQuantizer):
    r"""Vanilla VQ plus ``weight`` x the sliced :math:`W_2^2` (:func:`sliced_w2`) between the batch
    features and all codes, with ``n_projections`` random unit directions redrawn every step;
    gradient to the codebook only. Cost O((N + K) L log) per step, no pairwise matrices.

    Options: ``weight`` (default 1.0), ``n_projections`` (default 64), and those of
    :class:`Quantizer`.
    """

    name = "sliced"

    def __init__(self, codebook_size: int, codebook_dim: int, *, weight: float = 1.0,
                 n_projections: int = 64, **options):
        super().__init__(codebook_size, codebook_dim, weight=weight, **options)
        self.n_projections = check_positive_int(n_projections, "n_projections")

    def draw_directions(self, like: torch.Tensor | None = None) -> torch.Tensor:
        """Fresh random directions (L, d) from this quantizer's generator, in the dtype and on the
        device of ``like`` (default: the codebook's)."""
        like = self.weight if like is None else like
        draw = self.step_rng().standard_normal((self.n_projections, self.codebook_dim))
        return torch.from_numpy(draw).to(dtype=like.dtype, device=like.device)

    def _matching(self, features, codes):
        return sliced_w2(features, codes, self.draw_directions(codes))
