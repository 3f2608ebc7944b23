"""Validation of the exponent estimators in ``vqmatch.simulations.engines.exponent``.

The instrument must recover a *known* exponent ``a`` from codebooks whose point density is exactly
``f^a``: i.i.d. draws from ``f^a`` (Gaussian: ``N(0, I/a)``; product Laplace: scale ``1/a``) and
deterministic quantile codebooks (1-D quantiles of ``f^a``; 2-D products of them), for exponents on
both sides of the question (``d/(d+2)`` vs ``(d+2)/d``). The samplers are written here with numpy,
independently of the rest of the package.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from vqmatch.simulations.core.seeding import spawn_generators
from vqmatch.simulations.engines.exponent import (
    ExponentEstimate,
    estimate_exponent,
    estimate_exponent_gaussian_moment,
)

EXPONENTS = [1 / 3, 1 / 2, 1.0, 2.0, 3.0]
TOL = 0.05


# ----------------------------------------------------------------------------- densities, samplers


def gaussian_logpdf(x):
    """log N(0, I) up to a constant."""
    return -0.5 * np.sum(x * x, axis=1)


def laplace_logpdf(x):
    """log of the product Laplace(0, 1) density up to a constant."""
    return -np.sum(np.abs(x), axis=1)


def iid_gaussian(n, d, a, rng):
    """n draws from N(0, I)^a / Z = N(0, I / a)."""
    return rng.standard_normal((n, d)) / math.sqrt(a)


def iid_laplace(n, d, a, rng):
    """n draws from Laplace(0, 1)^a / Z = Laplace(0, 1 / a) in every coordinate."""
    return rng.laplace(0.0, 1.0 / a, size=(n, d))


def quantile_points(n, a, family):
    """The n quantiles at levels (i - 1/2)/n of f^a in 1-D: point density exactly f^a."""
    u = (np.arange(1, n + 1) - 0.5) / n
    if family == "gaussian":
        return stats.norm.ppf(u) / math.sqrt(a)
    return stats.laplace.ppf(u) / a


def product_grid(n, a, family):
    """Deformed 2-D grid: the product of two 1-D quantile maps, point density f1^a f2^a = f^a."""
    g = quantile_points(n, a, family)
    gx, gy = np.meshgrid(g, g, indexing="ij")
    return np.column_stack([gx.ravel(), gy.ravel()])


# Standard deviation / a of one kNN estimate from K = 4000 i.i.d. codes (10-24 replicate pilot runs;
# the estimator is scale-equivariant, so the sd is proportional to a). In d = 1 this is close to the
# Cramer-Rao bound a sqrt(2 / K) of the parametric model.
SD_PER_A = {
    ("gaussian", 1): 0.025,
    ("gaussian", 2): 0.02,
    ("gaussian", 4): 0.02,
    ("gaussian", 8): 0.019,
    ("laplace", 1): 0.016,
    ("laplace", 2): 0.02,
}


def n_replicates(family, d, a):
    """Replicates of K = 4000 codes so that TOL is at least 3 sd of the mean estimate."""
    return max(1, math.ceil((3.0 * SD_PER_A[family, d] * a / TOL) ** 2))


def mean_iid_estimate(family, d, a, *, seed, **kwargs):
    sampler, logpdf = (
        (iid_gaussian, gaussian_logpdf) if family == "gaussian" else (iid_laplace, laplace_logpdf)
    )
    gens = spawn_generators(seed, n_replicates(family, d, a))
    values = [
        estimate_exponent(sampler(4000, d, a, g), logpdf, seed=g, **kwargs).exponent for g in gens
    ]
    return float(np.mean(values))


# ------------------------------------------------------------------ kNN estimator, i.i.d. codebooks


def _trim_for(d):
    # In low d the Gaussian's spread of log f lives in the tail: trimming it costs 1.4-3x in
    # precision and buys nothing for i.i.d. codes. From d = 4 on, the default trim is used.
    return 0.0 if d <= 2 else 0.1


@pytest.mark.parametrize("a", EXPONENTS)
@pytest.mark.parametrize("d", [1, 2, 4])
def test_knn_recovers_exponent_iid_gaussian(d, a):
    seed = 1000 * d + EXPONENTS.index(a)  # independent draws for every (d, a)
    est = mean_iid_estimate("gaussian", d, a, seed=seed, trim=_trim_for(d))
    assert abs(est - a) < TOL, (d, a, est)


@pytest.mark.slow
@pytest.mark.parametrize("a", EXPONENTS)
@pytest.mark.parametrize("trim", [0.0, 0.1])
def test_knn_recovers_exponent_iid_gaussian_d8(a, trim):
    est = mean_iid_estimate("gaussian", 8, a, seed=8000 + EXPONENTS.index(a), trim=trim)
    assert abs(est - a) < TOL, (a, trim, est)


@pytest.mark.parametrize(
    ("d", "a"),
    [(1, a) for a in EXPONENTS]
    + [(2, 1 / 3), (2, 1.0)]
    + [pytest.param(2, a, marks=pytest.mark.slow) for a in (1 / 2, 2.0, 3.0)],
)
def test_knn_recovers_exponent_iid_laplace(d, a):
    est = mean_iid_estimate("laplace", d, a, seed=770 + 10 * d + EXPONENTS.index(a), trim=0.0)
    assert abs(est - a) < TOL, (d, a, est)


def test_ball_correction_removes_the_raw_knn_bias():
    # d = 4, a = 1: the raw kNN slope is flattened by the variation of f^a inside the balls.
    cb = iid_gaussian(4000, 4, 1.0, np.random.default_rng(5))
    raw = estimate_exponent(cb, gaussian_logpdf, method="knn-raw", trim=0.0)
    corrected = estimate_exponent(cb, gaussian_logpdf, trim=0.0)
    assert raw.exponent < 0.9
    assert abs(corrected.exponent - 1.0) < 0.03
    assert corrected.diagnostics["raw_exponent"] == pytest.approx(raw.exponent)
    assert math.isnan(raw.diagnostics.get("fixed_point_slope", math.nan))


# ----------------------------------------------------------- kNN estimator, deterministic codebooks


@pytest.mark.parametrize("family", ["gaussian", "laplace"])
@pytest.mark.parametrize("a", EXPONENTS)
def test_knn_recovers_exponent_1d_quantile_codebook(a, family):
    cb = quantile_points(2000, a, family)[:, None]
    logpdf = gaussian_logpdf if family == "gaussian" else laplace_logpdf
    est = estimate_exponent(cb, logpdf)  # defaults: k = 10, n_ranks = 2, trim = 0.1
    assert abs(est.exponent - a) < TOL / 5, (a, family, est.exponent)


def test_rank_pair_cancels_the_1d_lattice_artefact():
    # Rank k even / odd alone bias a regular 1-D codebook in opposite directions.
    cb = quantile_points(1000, 3.0, "gaussian")[:, None]
    even = estimate_exponent(cb, gaussian_logpdf, k=10, n_ranks=1).exponent - 3.0
    odd = estimate_exponent(cb, gaussian_logpdf, k=11, n_ranks=1).exponent - 3.0
    pair = estimate_exponent(cb, gaussian_logpdf, k=10, n_ranks=2).exponent - 3.0
    assert even > 0.02 and odd < -0.02
    assert abs(pair) < 0.01


def _grid_case(a, family):
    cb = product_grid(70, a, family)  # K = 4900; used cells elongated up to ~10:1 along the axes
    logpdf = gaussian_logpdf if family == "gaussian" else laplace_logpdf
    # Anisotropic cells need balls much wider than the cells' long side (see the docstring).
    return estimate_exponent(cb, logpdf, k=100, n_ranks=8, trim=0.1).exponent


@pytest.mark.parametrize("a", [1 / 2, 2.0])
def test_knn_recovers_exponent_2d_product_grid(a):
    est = _grid_case(a, "gaussian")
    assert abs(est - a) < TOL, (a, est)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gaussian", "laplace"])
@pytest.mark.parametrize("a", EXPONENTS)
def test_knn_recovers_exponent_2d_product_grid_all(a, family):
    est = _grid_case(a, family)
    assert abs(est - a) < TOL, (a, family, est)


def lloyd_max_gaussian(n, tol=1e-12, max_iter=50_000):
    """Optimal 1-D MSE quantizer of N(0, 1): Lloyd iterations with exact Gaussian cell centroids."""
    c = stats.norm.ppf((np.arange(n) + 0.5) / n) * math.sqrt(3.0)  # companding start
    for _ in range(max_iter):
        t = np.concatenate([[-np.inf], 0.5 * (c[1:] + c[:-1]), [np.inf]])
        new = (stats.norm.pdf(t[:-1]) - stats.norm.pdf(t[1:])) / np.diff(stats.norm.cdf(t))
        if np.max(np.abs(new - c)) < tol:
            return new
        c = new
    return c


@pytest.mark.parametrize("n", [30, pytest.param(100, marks=pytest.mark.slow)])
def test_knn_reads_one_third_on_optimal_1d_codebooks(n):
    # End to end on exactly optimal codebooks: 1-D high-resolution theory says a = 1/3.
    est = estimate_exponent(lloyd_max_gaussian(n)[:, None], gaussian_logpdf)
    assert abs(est.exponent - 1 / 3) < 0.02, est.exponent
    assert abs(est.exponent - 3.0) > 2.5


# ----------------------------------------------------------------------- kNN estimator, properties


def test_knn_invariances_and_determinism():
    rng = np.random.default_rng(3)
    cb = iid_gaussian(1500, 3, 2.0, rng)
    base = estimate_exponent(cb, gaussian_logpdf, seed=11)
    again = estimate_exponent(cb, gaussian_logpdf, seed=11)
    assert again.exponent == base.exponent
    # log f up to an additive constant
    shifted = estimate_exponent(cb, lambda x: gaussian_logpdf(x) - 17.0, seed=11)
    assert shifted.exponent == pytest.approx(base.exponent, abs=1e-9)
    # a change of scale and origin moved into f, f_new(y) = f((y - m) / s): the same Monte-Carlo
    # points in the unit ball map to the same points, so the estimate is unchanged exactly
    s, m = 2.5, np.array([1.0, -2.0, 0.5])
    moved = estimate_exponent(s * cb + m, lambda y: gaussian_logpdf((y - m) / s), seed=11)
    assert moved.exponent == pytest.approx(base.exponent, abs=1e-8)
    # a rotation changes the Monte-Carlo points, not the estimand
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    rotated = estimate_exponent(cb @ q.T, lambda y: gaussian_logpdf(y @ q), seed=11)
    assert rotated.exponent == pytest.approx(base.exponent, abs=0.01)


def test_knn_result_fields():
    cb = iid_gaussian(1000, 2, 1.0, np.random.default_rng(4))
    est = estimate_exponent(cb, gaussian_logpdf, k=7, trim=0.25)
    assert isinstance(est, ExponentEstimate)
    assert (est.method, est.codebook_size, est.dim, est.k, est.trim) == ("knn", 1000, 2, 7, 0.25)
    assert est.n_used == 750
    assert est.stderr > 0 and math.isfinite(est.intercept)
    assert est.diagnostics["logf_threshold"] == pytest.approx(
        np.quantile(gaussian_logpdf(cb), 0.25), abs=0.02
    )
    with pytest.raises(AttributeError):
        est.exponent = 0.0  # frozen


@pytest.mark.parametrize(
    ("codebook", "kwargs", "match"),
    [
        (np.zeros(10), {}, "codebook must be a 2-D array"),
        (np.zeros((4, 2, 2)), {}, "codebook must be a 2-D array"),
        (np.ones((5, 0)), {}, "at least one column"),
        (np.array([[0.0], [np.nan], [1.0]]), {}, "NaN or Inf"),
        (np.arange(8.0)[:, None], {"k": 10}, "too few codes for k=10"),
        (np.arange(11.0)[:, None], {"k": 10}, "too few codes"),  # n_ranks = 2 needs 12
        (np.arange(50.0)[:, None], {"k": 0}, "k must be a positive integer"),
        (np.arange(50.0)[:, None], {"k": 2.5}, "k must be a positive integer"),
        (np.arange(50.0)[:, None], {"n_ranks": 0}, "n_ranks"),
        (np.arange(50.0)[:, None], {"trim": 1.0}, "trim must be"),
        (np.arange(50.0)[:, None], {"trim": -0.1}, "trim must be"),
        (np.arange(50.0)[:, None], {"n_mc": 7}, "n_mc must be even"),
        (np.arange(50.0)[:, None], {"n_mc": 2}, "n_mc must be an integer >= 4"),
        (np.arange(50.0)[:, None], {"method": "kde"}, "method must be"),
        (np.repeat(np.arange(10.0), 3)[:, None], {"k": 2, "n_ranks": 1}, "duplicate codes"),
    ],
)
def test_knn_bad_input(codebook, kwargs, match):
    with pytest.raises(ValueError, match=match):
        estimate_exponent(codebook, gaussian_logpdf, **kwargs)


@pytest.mark.parametrize(
    ("logpdf", "match"),
    [
        (lambda x: gaussian_logpdf(x)[:, None], r"shape \(n,\)"),
        (lambda x: gaussian_logpdf(x)[:-1], r"shape \(n,\)"),
        (lambda x: 0.0, r"shape \(n,\)"),
        (lambda x: np.where(x[:, 0] > 0.5, np.nan, gaussian_logpdf(x)), "NaN or infinite"),
        (lambda x: np.where(x[:, 0] > 0.5, -np.inf, gaussian_logpdf(x)), "NaN or infinite"),
        (lambda x: np.zeros(len(x)), "constant on the used codes"),
        ("not callable", "logpdf must be callable"),
    ],
)
def test_knn_bad_logpdf(logpdf, match):
    cb = iid_gaussian(200, 2, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        estimate_exponent(cb, logpdf)


def test_knn_allows_minus_inf_off_the_codes():
    # f = N(0, I) truncated to the disc |x| < 2.5 and codes drawn from it (a = 1): the balls of the
    # outer codes stick out of the support, where logpdf = -inf and f^a = 0.
    cb = iid_gaussian(8000, 2, 1.0, np.random.default_rng(8))
    cb = cb[np.linalg.norm(cb, axis=1) < 2.5]

    def truncated(x):
        return np.where(np.linalg.norm(x, axis=1) < 2.5, gaussian_logpdf(x), -np.inf)

    est = estimate_exponent(cb, truncated, trim=0.0)
    assert abs(est.exponent - 1.0) < TOL, est.exponent


# ---------------------------------------------------------------------- Gaussian moment estimator


@pytest.mark.parametrize("a", EXPONENTS)
@pytest.mark.parametrize("d", [1, 2, 4, 8])
def test_gaussian_moment_recovers_exponent(d, a):
    rng = np.random.default_rng(10 * d + int(6 * a))
    mean = rng.standard_normal(d)
    root = rng.standard_normal((d, d)) + 2.0 * np.eye(d)
    cov = root @ root.T
    cb = mean + iid_gaussian(4000, d, a, rng) @ np.linalg.cholesky(cov).T  # N(mean, cov / a)
    est = estimate_exponent_gaussian_moment(cb, cov=cov, mean=mean)
    assert est.method == "gaussian-moment" and est.n_used == 4000
    assert est.stderr == pytest.approx(a * math.sqrt(2 / (4000 * d - 4)), rel=0.1)
    assert abs(est.exponent - a) < 4 * est.stderr, (d, a, est.exponent, est.stderr)


def test_gaussian_moment_is_unbiased_for_small_codebooks():
    # (Kd - 2) / sum q is exactly unbiased; the plain d / mean(q) is not (factor Kd / (Kd - 2)).
    gens = spawn_generators(99, 4000)
    a, n = 2.0, 5 * 2
    vals = np.array(
        [estimate_exponent_gaussian_moment(iid_gaussian(5, 2, a, g)).exponent for g in gens]
    )
    sd = a * math.sqrt(2 / (n - 4))
    assert abs(vals.mean() - a) < 4 * sd / math.sqrt(len(vals))
    assert vals.std() == pytest.approx(sd, rel=0.15)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cov": np.eye(3)}, "cov must be a finite array of shape"),
        ({"cov": np.array([[1.0, 0.5], [0.4, 1.0]])}, "symmetric"),
        ({"cov": np.array([[1.0, 2.0], [2.0, 1.0]])}, "positive definite"),
        ({"mean": np.zeros(3)}, "mean must be"),
        ({"mean": np.array([0.0, np.inf])}, "mean must be"),
    ],
)
def test_gaussian_moment_bad_input(kwargs, match):
    cb = iid_gaussian(50, 2, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        estimate_exponent_gaussian_moment(cb, **kwargs)


def test_gaussian_moment_bad_codebook():
    with pytest.raises(ValueError, match="2-D"):
        estimate_exponent_gaussian_moment(np.ones(5))
    with pytest.raises(ValueError, match="K \\* d > 4"):
        estimate_exponent_gaussian_moment(np.ones((2, 2)))
    with pytest.raises(ValueError, match="all codes are at the mean"):
        estimate_exponent_gaussian_moment(np.zeros((5, 2)))
