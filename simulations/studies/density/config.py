"""Scales of the ``density`` study, and the theory its cells and claims share."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vqmatch.theory.quantization import optimal_density_exponent, paper_density_exponent

# source label -> (vqmatch.simulations.sources name, parameters); d is given per cell
SOURCES = {
    "gaussian": ("gaussian", {}),
    "laplace": ("laplace", {}),
    "student_t": ("student_t", {"df": 5.0}),
    "bimodal": ("gaussian_mixture", {"separation": 1.5}),
}


@dataclass(frozen=True)
class DensityConfig:
    """Sizes of the three parts (see the module docstring)."""

    lloyd_sources: tuple[str, ...] = ("gaussian", "laplace", "student_t", "bimodal")
    lloyd_codebook_sizes: tuple[int, ...] = (16, 64, 256)
    kmeans_sources: tuple[str, ...] = ("gaussian", "laplace")
    kmeans_dims: tuple[int, ...] = (2, 3, 4)
    kmeans_codebook_sizes: tuple[int, ...] = (64, 256)
    kmeans_samples_per_code: int = 100
    kmeans_replicates: int = 5
    kmeans_max_iter: int = 100
    knn_k: int = 10
    knn_trim: float = 0.1
    random_dims: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    random_codebook_size: int = 1024
    random_features: int = 20_000
    random_scale2: tuple[float, ...] = tuple(float(x) for x in np.geomspace(0.05, 5.0, 41))
    random_replicates: int = 6


SCALES = {
    "quick": DensityConfig(),
    "default": DensityConfig(lloyd_codebook_sizes=(16, 64, 256, 1024), kmeans_dims=(2, 3, 4, 6, 8),
                             kmeans_codebook_sizes=(256, 1024), kmeans_replicates=5,
                             kmeans_samples_per_code=200,
                             random_codebook_size=4096, random_features=100_000, random_replicates=6),
    "full": DensityConfig(lloyd_codebook_sizes=(16, 64, 256, 1024), kmeans_dims=(2, 3, 4, 6, 8),
                          kmeans_codebook_sizes=(256, 1024, 4096), kmeans_samples_per_code=250,
                          kmeans_replicates=5, kmeans_max_iter=150, random_codebook_size=16384,
                          random_features=200_000, random_replicates=8),
}


def expected_max_normal(n: int) -> float:
    """E[max of n i.i.d. N(0, 1)] by quadrature of the density of the maximum."""
    from scipy import integrate, stats

    def integrand(x):
        return x * n * stats.norm.pdf(x) * math.exp((n - 1) * stats.norm.logcdf(x))

    return float(integrate.quad(integrand, -10, 12, limit=200)[0])


def lowrate_best_scale2(d: int, codebook_size: int) -> float:
    r"""Best variance of a random Gaussian codebook in the LOW-resolution regime (few codes per
    dimension), the opposite limit to high-resolution theory.

    For :math:`z \sim N(0, I_d)` and codes :math:`s g_k`, :math:`g_k \sim N(0, I_d)`,
    :math:`\|z - s g_k\|^2 \approx d(1 + s^2) - 2 s\, z\cdot g_k` with :math:`\|g_k\|^2 \approx d`;
    given :math:`z`, the :math:`z\cdot g_k` are i.i.d. :math:`N(0, \|z\|^2)` and
    :math:`\|z\| \approx \sqrt d`, so :math:`E(s)/d \approx 1 + s^2 - 2 s\, m_K/\sqrt d` with
    :math:`m_K = E\max_{k\le K} N(0,1)`, minimised at :math:`s^2 = m_K^2 / d`: a codebook
    *narrower* than the features once :math:`d > m_K^2` (about 10.6 for K = 1024)."""
    return expected_max_normal(codebook_size) ** 2 / d


def candidates(d: int) -> dict[str, float]:
    """The three exponents in play: classical, 'match P_A', and the paper's Theorem 2."""
    return {"classical d/(d+2)": optimal_density_exponent(d), "matched 1": 1.0,
            "paper (d+2)/d": paper_density_exponent(d)}
