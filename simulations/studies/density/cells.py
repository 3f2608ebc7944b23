r"""Study ``density``: the point density of optimal codebooks (the paper's Theorem 2), by measurement.

The paper states that the empirical measure of the K optimal MSE centres of :math:`P_A` converges to
a law with density :math:`\propto f_A^{(d+2)/d}`; classical quantization theory (Zador 1982, Gersho
1979, Graf & Luschgy 2000 Thm 7.5; Panter & Dite 1951 in 1-D) gives :math:`f_A^{d/(d+2)}`. Three
independent measurements:

``lloyd_max`` (d = 1)
    Exact Lloyd-Max quantizers of known densities (no sampling), K up to 1024; the exponent of their
    level density, and :math:`K^2 D_K` against the Panter-Dite constant :math:`\sqrt3\pi/2`.
``kmeans`` (d = 2..8)
    Lloyd's algorithm on large samples (faiss search), replicated; the exponent of the codebook's
    point density by the ball-corrected kNN regression (:mod:`vqmatch.simulations.engines.exponent`) and, for
    Gaussian sources, the second-moment estimator.
``random_codebook`` (d = 1..32)
    Codebooks drawn i.i.d. from :math:`N(0, s^2 I)` against features :math:`N(0, I)`: the measured
    distortion curve :math:`E(s^2)`, its argmin against the high-resolution optimum
    :math:`s^2_* = (d+2)/d` (the variance of :math:`f^{d/(d+2)}`), and the gain of the best scale over
    the matched :math:`s^2 = 1` that the paper's "match P_A" implies. Common random numbers: one
    standard-normal draw per replicate is scaled by :math:`s`, so :math:`E(s^2)` is a smooth curve
    and its argmin is located by a parabola in :math:`\log s^2`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from vqmatch.theory import criterion_triple
from vqmatch.theory.quantization import best_gaussian_codebook_scale2, panter_dite_constant

from ...core.registry import Cell
from ...core.seeding import child_generator
from ...engines.exponent import estimate_exponent, estimate_exponent_gaussian_moment
from ...engines.kmeans import kmeans
from ...engines.lloyd_max import lloyd_max
from ...sources import make_source
from .config import SOURCES, DensityConfig, candidates, lowrate_best_scale2


def _make(label: str, d: int):
    name, params = SOURCES[label]
    return make_source(name, d, **params)


def lloyd_cell(label: str, codebook_size: int, knn_k: int, knn_trim: float) -> list[dict]:
    """Exact Lloyd-Max levels of a 1-D source (deterministic) and their density exponent."""
    source = _make(label, 1)
    res = lloyd_max(source, codebook_size)
    est = estimate_exponent(res.levels[:, None], source.logpdf, k=min(knn_k, codebook_size - 1),
                            trim=knn_trim)
    row = {"part": "lloyd_max", "d": 1, "source": label, "codebook_size": codebook_size,
           "method": "lloyd_max", "replicate": 0, "exponent_hat": est.exponent,
           "exponent_stderr": est.stderr,
           "exponent_ci": [est.exponent - 1.96 * est.stderr, est.exponent + 1.96 * est.stderr],
           "candidates": candidates(1), "distortion": res.distortion,
           "k2_distortion": codebook_size ** 2 * res.distortion, "converged": bool(res.converged)}
    if label == "gaussian":
        row["panter_dite"] = panter_dite_constant()
        row["levels"] = [float(v) for v in res.levels]
    return [row]


def kmeans_cell(label: str, d: int, codebook_size: int, samples_per_code: int, max_iter: int,
                knn_k: int, knn_trim: float, seed, replicate: int) -> list[dict]:
    """k-means on a fresh sample; the exponent of its codebook's point density."""
    source = _make(label, d)
    rng = child_generator(seed, replicate)
    x = source.sample(samples_per_code * codebook_size, seed=rng).astype(np.float32)
    fit = kmeans(x, codebook_size, seed=rng, max_iter=max_iter)
    codes = np.asarray(fit.codebook, dtype=np.float64)
    est = estimate_exponent(codes, source.logpdf, k=knn_k, trim=knn_trim)
    row = {"part": "kmeans", "d": d, "source": label, "codebook_size": codebook_size,
           "method": "kmeans",
           "replicate": replicate, "n_samples": int(x.shape[0]), "exponent_hat": est.exponent,
           "exponent_stderr": est.stderr,
           "exponent_ci": [est.exponent - 1.96 * est.stderr, est.exponent + 1.96 * est.stderr],
           "candidates": candidates(d), "distortion": float(fit.distortion),
           "n_iter": int(fit.n_iter), "converged": bool(fit.converged)}
    if label == "gaussian":
        row["exponent_moment"] = estimate_exponent_gaussian_moment(codes).exponent
    return [row]


def random_cell(d: int, codebook_size: int, n_features: int, scale2: tuple[float, ...],
                targets: tuple[tuple[str, float], ...], seed, replicate: int) -> list[dict]:
    """E(s^2) of one standard-normal codebook scaled by s against N(0, I) features, on the grid
    ``scale2`` and at the pre-specified ``targets`` (name, s^2) that theory predicts optimal."""
    rng = child_generator(seed, replicate)
    feats = rng.standard_normal((n_features, d)).astype(np.float32)
    base = rng.standard_normal((codebook_size, d)).astype(np.float32)
    rows = []
    for s2 in scale2:
        e = criterion_triple(feats, base * np.float32(math.sqrt(s2))).error
        rows.append({"part": "random_codebook", "d": d, "codebook_size": codebook_size,
                     "n_features": n_features, "replicate": replicate, "scale2": float(s2),
                     "distortion": e})
    for name, s2 in targets:
        e = criterion_triple(feats, base * np.float32(math.sqrt(s2))).error
        rows.append({"part": "random_codebook", "d": d, "codebook_size": codebook_size,
                     "n_features": n_features, "replicate": replicate, "scale2": float(s2),
                     "distortion": e, "target": name})
    e1 = criterion_triple(feats, base).error
    rows.append({"part": "random_codebook", "d": d, "codebook_size": codebook_size, "n_features": n_features,
                 "replicate": replicate, "scale2": 1.0, "distortion": e1, "matched": True})
    return rows


def list_cells(cfg: DensityConfig) -> Iterator[Cell]:
    knn = {"knn_k": cfg.knn_k, "knn_trim": cfg.knn_trim}
    for label in cfg.lloyd_sources:
        for k in cfg.lloyd_codebook_sizes:
            yield Cell(f"lloyd-{label}-K{k}", lloyd_cell,
                       {"label": label, "codebook_size": k, **knn}, seeded=False)
    for label in cfg.kmeans_sources:
        for d in cfg.kmeans_dims:
            for k in cfg.kmeans_codebook_sizes:
                yield Cell(f"kmeans-{label}-d{d}-K{k}", kmeans_cell,
                           {"label": label, "d": d, "codebook_size": k,
                            "samples_per_code": cfg.kmeans_samples_per_code,
                            "max_iter": cfg.kmeans_max_iter, **knn},
                           replicates=cfg.kmeans_replicates)
    for d in cfg.random_dims:
        targets = (("high_resolution", best_gaussian_codebook_scale2(d)),
                   ("low_rate", lowrate_best_scale2(d, cfg.random_codebook_size)))
        yield Cell(f"random-d{d}", random_cell,
                   {"d": d, "codebook_size": cfg.random_codebook_size,
                    "n_features": cfg.random_features,
                    "scale2": tuple(cfg.random_scale2), "targets": targets},
                   replicates=cfg.random_replicates)
