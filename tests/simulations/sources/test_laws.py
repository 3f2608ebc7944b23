"""Tests for vqmatch.simulations.sources: exact moments, densities, 1-D partial moments, validation."""

from __future__ import annotations

import itertools
import json
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, special, stats

from vqmatch.simulations.sources import SOURCE_NAMES, make_source
from vqmatch.simulations.sources.laws import Ball, Box

# (name, d, params): one representative of every family / parametrisation.
SPECS = [
    ("gaussian", 3, {"mean": [1.0, -2.0, 0.5],
                     "cov": [[2.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 0.5]]}),
    ("gaussian", 2, {"mean": 0.5, "cov": [1.0, 3.0]}),
    ("uniform", 3, {"low": [-1.0, 0.0, 2.0], "high": [1.0, 3.0, 2.5]}),
    ("uniform", 3, {"shape": "ball", "center": [1.0, 0.0, -1.0], "radius": 2.0}),
    ("laplace", 2, {"loc": [0.5, -1.0], "scale": [1.0, 2.0]}),
    ("student_t", 2, {"df": 9.0, "loc": 1.0, "scale": [1.0, 0.5]}),
    ("gaussian_mixture", 2, {"means": [[0.0, 0.0], [3.0, 1.0], [-2.0, 2.0]],
                             "covs": [1.0, 0.5, 2.0], "weights": [0.5, 0.3, 0.2]}),
    ("gaussian_mixture", 2, {"means": [[0.0, 1.0], [2.0, -1.0]],
                             "covs": [[[1.0, 0.5], [0.5, 2.0]], [[0.5, 0.0], [0.0, 0.3]]],
                             "weights": [0.4, 0.6]}),
    ("gaussian_mixture", 3, {"separation": 1.5}),
]
SPEC_IDS = [f"{n}-{d}-{i}" for i, (n, d, _) in enumerate(SPECS)]

# 1-D sources exercising the elementwise interface (name, params, scipy.stats frozen or None).
ONE_D = {
    "gauss": ("gaussian", {"mean": 0.7, "cov": 2.5}, stats.norm(0.7, math.sqrt(2.5))),
    "gauss01": ("gaussian", {}, stats.norm()),
    "laplace": ("laplace", {"loc": 0.3, "scale": 1.7}, stats.laplace(0.3, 1.7)),
    "t": ("student_t", {"df": 3.5, "loc": -0.2, "scale": 0.8}, stats.t(3.5, -0.2, 0.8)),
    "t_heavy": ("student_t", {"df": 2.2}, stats.t(2.2)),
    "cube": ("uniform", {"low": -1.0, "high": 2.0}, stats.uniform(-1.0, 3.0)),
    "ball": ("uniform", {"shape": "ball", "center": 1.0, "radius": 0.5}, stats.uniform(0.5, 1.0)),
    "mixture": ("gaussian_mixture", {"means": [-1.0, 2.0, 6.0], "covs": [1.0, 0.25, 4.0],
                                     "weights": [0.4, 0.5, 0.1]}, None),
}


def one_d(key):
    name, params, _ = ONE_D[key]
    return make_source(name, 1, **params)


# ----------------------------------------------------------------------- mpmath reference
mpmath.mp.dps = 60


def _tail(family, k, z, nu=None):
    r"""High-precision :math:`\int_z^\infty t^k f(t) dt` (z >= 0) from textbook antiderivatives."""
    if z == mpmath.inf:
        return mpmath.mpf(0)
    if family == "gaussian":
        t0 = mpmath.erfc(z / mpmath.sqrt(2)) / 2
        return (t0, mpmath.npdf(z), t0 + z * mpmath.npdf(z))[k]
    if family == "laplace":
        e = mpmath.exp(-z) / 2
        return (e, (z + 1) * e, (z * z + 2 * z + 2) * e)[k]
    nu = mpmath.mpf(nu)
    f = (mpmath.gamma((nu + 1) / 2) / (mpmath.gamma(nu / 2) * mpmath.sqrt(nu * mpmath.pi))
         * (1 + z * z / nu) ** (-(nu + 1) / 2))
    t0 = mpmath.betainc(nu / 2, mpmath.mpf(1) / 2, 0, nu / (nu + z * z), regularized=True) / 2
    # E[T 1{T > z}] = (nu + z^2) f(z) / (nu - 1); the second moment by parts.
    return (t0, (nu + z * z) / (nu - 1) * f, z * (nu + z * z) / (nu - 2) * f + nu / (nu - 2) * t0)[k]


def _std_ref(family, k, lo, hi, nu):
    if lo >= hi:
        return mpmath.mpf(0)
    if lo < 0 < hi:
        return _std_ref(family, k, lo, mpmath.mpf(0), nu) + _std_ref(family, k, 0, hi, nu)
    if hi <= 0:
        return (-1) ** k * _std_ref(family, k, -hi, -lo, nu)
    return _tail(family, k, lo, nu) - _tail(family, k, hi, nu)


def reference_partial(family, k, a, b, mu=0.0, s=1.0, nu=None):
    """``E[X^k 1{a < X < b}]`` for ``X = mu + s Z`` in 60-digit arithmetic."""
    conv = lambda x: mpmath.mpf(x) if math.isfinite(x) else (mpmath.inf if x > 0 else -mpmath.inf)  # noqa: E731
    mu, s = mpmath.mpf(mu), mpmath.mpf(s)
    lo, hi = (conv(a) - mu) / s, (conv(b) - mu) / s
    m = [_std_ref(family, j, lo, hi, nu) for j in range(3)]
    return float((m[0], mu * m[0] + s * m[1], mu * mu * m[0] + 2 * mu * s * m[1] + s * s * m[2])[k])


# ------------------------------------------------------------------------------ moments
@pytest.mark.parametrize(("name", "d", "params"), SPECS, ids=SPEC_IDS)
def test_sample_moments_match_exact_mean_and_cov(name, d, params):
    src = make_source(name, d, **params)
    n = 100_000
    x = src.sample(n, seed=20240611)
    assert x.shape == (n, d) and x.dtype == np.float64
    mean, cov = src.mean, src.cov
    assert mean.shape == (d,) and cov.shape == (d, d)
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(x.mean(axis=0) - mean) <= 6 * se_mean)
    dev = x - mean  # centred at the exact mean: each entry is an i.i.d. average
    prod = dev[:, :, None] * dev[:, None, :]
    se_cov = prod.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(prod.mean(axis=0) - cov) <= 6 * se_cov + 1e-12)


def test_closed_form_moments():
    ball = make_source("uniform", 4, shape="ball", radius=3.0)
    np.testing.assert_allclose(ball.cov, 9.0 / 6.0 * np.eye(4))
    cube = make_source("uniform", 2, low=[0, -2], high=[1, 4])
    np.testing.assert_allclose(cube.mean, [0.5, 1.0])
    np.testing.assert_allclose(cube.cov, np.diag([1 / 12, 3.0]))
    lap = make_source("laplace", 2, scale=[1.0, 3.0])
    np.testing.assert_allclose(lap.cov, np.diag([2.0, 18.0]))
    t = make_source("student_t", 1, df=5, scale=2.0)
    np.testing.assert_allclose(t.cov, [[4 * 5 / 3]])
    z = 1.3
    mix = make_source("gaussian_mixture", 3, separation=z)
    np.testing.assert_allclose(mix.mean, np.zeros(3), atol=1e-15)
    np.testing.assert_allclose(mix.cov, np.eye(3) + z * z * np.ones((3, 3)))
    assert mix.params == {"separation": z}


# ----------------------------------------------------------------------------- densities
@pytest.mark.parametrize("key", sorted(ONE_D))
def test_pdf_integrates_to_one_in_1d(key):
    src = one_d(key)
    lo, hi = (src.ppf(0.0), src.isf(0.0))
    points = [p for p in (-1.0, 0.0, 1.0, 2.0) if lo < p < hi]
    if math.isinf(lo):
        total = sum(integrate.quad(src.pdf, a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
                    for a, b in zip([lo, *points], [*points, hi], strict=True))
    else:
        total = integrate.quad(src.pdf, lo, hi, epsabs=0, epsrel=1e-12)[0]
    assert total == pytest.approx(1.0, rel=1e-9)
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(src.pdf(x), np.exp(src.logpdf(x[:, None])), rtol=1e-14)


@pytest.mark.parametrize(("name", "d", "params"), [s for s in SPECS if s[1] == 2],
                         ids=[i for i, s in zip(SPEC_IDS, SPECS, strict=True) if s[1] == 2])
def test_density_integrates_to_one_in_2d_by_importance_sampling(name, d, params):
    src = make_source(name, d, **params)
    n = 200_000
    rng = np.random.default_rng(7)
    scale = 2 * np.sqrt(np.diag(src.cov))
    proposal = stats.cauchy(loc=src.mean, scale=scale)  # heavier tails than every source
    x = proposal.rvs(size=(n, d), random_state=rng)
    w = np.exp(src.logpdf(x) - proposal.logpdf(x).sum(axis=1))
    assert abs(w.mean() - 1.0) <= 6 * w.std() / math.sqrt(n)


def test_logpdf_matches_scipy_stats():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 3)) * 2
    g = make_source("gaussian", 3, **SPECS[0][2])
    ref = stats.multivariate_normal(g.mean, g.cov).logpdf(x)
    np.testing.assert_allclose(g.logpdf(x), ref, rtol=1e-12)
    assert g.logpdf(x[0]) == pytest.approx(ref[0], rel=1e-12)
    lap = make_source("laplace", 3, loc=[0.5, -1, 0], scale=[1, 2, 0.5])
    ref = stats.laplace(lap.mean, [1, 2, 0.5]).logpdf(x).sum(axis=1)
    np.testing.assert_allclose(lap.logpdf(x), ref, rtol=1e-12)
    t = make_source("student_t", 3, df=3.5, loc=1.0, scale=[1, 2, 0.5])
    ref = stats.t(3.5, 1.0, [1, 2, 0.5]).logpdf(x).sum(axis=1)
    np.testing.assert_allclose(t.logpdf(x), ref, rtol=1e-12)
    means, covs, weights = np.array([[0, 0, 0], [3, 1, -1.0]]), [1.0, 2.0], [0.3, 0.7]
    mix = make_source("gaussian_mixture", 3, means=means, covs=covs, weights=weights)
    comps = [np.log(w) + stats.multivariate_normal(m, c * np.eye(3)).logpdf(x)
             for m, c, w in zip(means, covs, weights, strict=True)]
    np.testing.assert_allclose(mix.logpdf(x), special.logsumexp(comps, axis=0), rtol=1e-12)
    cube = make_source("uniform", 2, low=[0, -1], high=[2, 3])
    assert cube.logpdf([1.0, 0.0]) == pytest.approx(-math.log(8.0))
    assert cube.logpdf([3.0, 0.0]) == -np.inf
    ball = make_source("uniform", 3, shape="ball", radius=2.0)
    assert ball.logpdf([0.5, 0.5, 0.5]) == pytest.approx(-math.log(4 / 3 * math.pi * 8))
    assert ball.logpdf([2.0, 0.1, 0.0]) == -np.inf


def test_ball_sampling_is_exact():
    d, n, r = 3, 50_000, 2.0
    src = make_source("uniform", d, shape="ball", center=[1.0, -1.0, 0.5], radius=r)
    x = src.sample(n, seed=11)
    assert np.all(src.contains(x))
    s = np.sort((np.linalg.norm(x - src.mean, axis=1) / r) ** d)  # Uniform(0, 1) if exact
    ecdf_gap = np.max(np.maximum(np.arange(1, n + 1) / n - s, s - np.arange(n) / n))
    assert ecdf_gap <= math.sqrt(math.log(2 / 1e-6) / (2 * n))  # DKW, level 1e-6
    u = (x - src.mean) / np.linalg.norm(x - src.mean, axis=1, keepdims=True)
    assert np.all(np.abs(u.mean(axis=0)) <= 6 / math.sqrt(d * n))


def test_support_and_contains():
    cube = make_source("uniform", 2, low=[0, -1], high=[2, 3])
    assert cube.support == Box((0.0, -1.0), (2.0, 3.0))
    np.testing.assert_array_equal(cube.contains([[0, -1], [2, 3], [2.01, 0], [1, 1]]),
                                  [True, True, False, True])
    ball = make_source("uniform", 2, shape="ball", radius=1.0)
    assert ball.support == Ball((0.0, 0.0), 1.0)
    assert ball.contains([1.0, 0.0]) is True and ball.contains([0.8, 0.8]) is False
    g = make_source("gaussian", 2)
    assert g.support is None
    np.testing.assert_array_equal(g.contains([[1e300, 0], [np.inf, 0]]), [True, False])


# ------------------------------------------------------------------------- randomness
@pytest.mark.parametrize(("name", "d", "params"), SPECS, ids=SPEC_IDS)
def test_seeding(name, d, params):
    src = make_source(name, d, **params)
    np.testing.assert_array_equal(src.sample(20, seed=5), src.sample(20, seed=5))
    assert not np.array_equal(src.sample(20, seed=5), src.sample(20, seed=6))
    rng1, rng2 = np.random.default_rng(9), np.random.default_rng(9)
    first, second = src.sample(10, seed=rng1), src.sample(10, seed=rng1)
    assert not np.array_equal(first, second)  # a shared Generator advances
    np.testing.assert_array_equal(first, src.sample(10, seed=rng2))
    assert src.sample(0, seed=1).shape == (0, d)


# ------------------------------------------------------------------------- validation
@pytest.mark.parametrize(("name", "d", "params", "pattern"), [
    ("gauss", 2, {}, "name"),
    ("gaussian", 0, {}, "d"),
    ("gaussian", 2.0, {}, "d"),
    ("gaussian", True, {}, "d"),
    ("gaussian", 2, {"mean": [1.0, 2.0, 3.0]}, "mean"),
    ("gaussian", 2, {"mean": [np.nan, 0.0]}, "mean"),
    ("gaussian", 2, {"cov": [[1.0, 0.5], [0.4, 1.0]]}, "symmetric"),
    ("gaussian", 2, {"cov": [[1.0, 2.0], [2.0, 1.0]]}, "semi-definite"),
    ("gaussian", 2, {"cov": -1.0}, "cov"),
    ("gaussian", 2, {"cov": np.eye(3)}, "cov"),
    ("uniform", 2, {"low": 1.0, "high": 1.0}, "high"),
    ("uniform", 2, {"shape": "sphere"}, "shape"),
    ("uniform", 2, {"shape": "ball", "radius": 0.0}, "radius"),
    ("laplace", 2, {"scale": [1.0, -1.0]}, "scale"),
    ("laplace", 2, {"loc": [0.0, np.inf]}, "loc"),
    ("student_t", 2, {"df": 2.0}, "df"),
    ("student_t", 2, {"df": 1.5}, "df"),
    ("student_t", 2, {"df": np.inf}, "df"),
    ("student_t", 2, {"df": "5"}, "df"),
    ("gaussian_mixture", 2, {}, "means"),
    ("gaussian_mixture", 2, {"means": [[0.0, 0.0, 0.0]]}, "means"),
    ("gaussian_mixture", 2, {"means": [[0.0, 0.0], [1.0, 1.0]], "weights": [0.5, 0.6]},
     "weights"),
    ("gaussian_mixture", 2, {"means": [[0.0, 0.0], [1.0, 1.0]], "weights": [1.5, -0.5]},
     "weights"),
    ("gaussian_mixture", 2, {"means": [[0.0, 0.0], [1.0, 1.0]], "covs": [1.0, 2.0, 3.0]}, "covs"),
    ("gaussian_mixture", 2, {"separation": 1.0, "weights": [0.5, 0.5]}, "separation"),
    ("gaussian_mixture", 2, {"separation": np.nan}, "separation"),
])
def test_bad_input_raises_value_error_naming_the_parameter(name, d, params, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_source(name, d, **params)


def test_unknown_parameter_and_other_misuse():
    with pytest.raises(TypeError, match="sigma"):
        make_source("gaussian", 2, sigma=1.0)
    with pytest.raises(ValueError, match="gaussian_mixture"):  # the message lists valid names
        make_source("nope", 1)
    g = make_source("gaussian", 2)
    with pytest.raises(ValueError, match="n must"):
        g.sample(-1)
    with pytest.raises(ValueError, match="x must"):
        g.logpdf(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="d == 1"):
        g.cdf(0.0)
    with pytest.raises(ValueError, match="q must"):
        make_source("gaussian", 1).ppf([0.5, 1.5])
    with pytest.raises(AttributeError):
        g.d = 3
    with pytest.raises(ValueError):
        g.mean[0] = 1.0  # read-only exact moments
    singular = make_source("gaussian", 2, cov=[[1.0, 1.0], [1.0, 1.0]])
    x = singular.sample(100, seed=1)
    np.testing.assert_allclose(x[:, 0], x[:, 1])  # samples live on the degenerate line
    with pytest.raises(ValueError, match="positive definite"):
        singular.logpdf(x)


@pytest.mark.parametrize(("name", "d", "params"), SPECS, ids=SPEC_IDS)
def test_params_are_json_and_rebuild_the_source(name, d, params):
    src = make_source(name, d, **params)
    rebuilt = make_source(src.name, src.d, **json.loads(json.dumps(src.params)))
    np.testing.assert_array_equal(rebuilt.mean, src.mean)
    np.testing.assert_array_equal(rebuilt.cov, src.cov)
    np.testing.assert_array_equal(rebuilt.sample(5, seed=2), src.sample(5, seed=2))
    assert src.name in SOURCE_NAMES


# -------------------------------------------------------------------- 1-D interface
@pytest.mark.parametrize("key", sorted(ONE_D))
def test_cdf_ppf_against_scipy_and_round_trip(key):
    src, ref = one_d(key), ONE_D[key][2]
    x = np.linspace(-4, 4, 33)
    q = np.array([1e-12, 1e-4, 0.1, 0.25, 0.5, 0.8, 0.999])
    if ref is not None:
        np.testing.assert_allclose(src.cdf(x), ref.cdf(x), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(src.sf(x), ref.sf(x), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(src.pdf(x), ref.pdf(x), rtol=1e-12)
        np.testing.assert_allclose(src.ppf(q), ref.ppf(q), rtol=1e-10)
    else:
        cdf_quad = [integrate.quad(src.pdf, -np.inf, v, epsabs=0, epsrel=1e-12)[0] for v in x]
        np.testing.assert_allclose(src.cdf(x), cdf_quad, rtol=1e-9)
    for x_q, back in ((src.ppf(q), src.cdf), (src.isf(q), src.sf)):
        rounding = 8 * np.finfo(float).eps * np.abs(x_q) * src.pdf(x_q)  # from rounding x_q
        assert np.all(np.abs(back(x_q) - q) <= 1e-12 * q + rounding)
    assert isinstance(src.cdf(0.3), float) and src.ppf(np.full((2, 3), 0.5)).shape == (2, 3)
    low, high = (ref.ppf(0.0), ref.isf(0.0)) if ref is not None else (-np.inf, np.inf)
    assert src.ppf(0.0) == low and src.isf(0.0) == high and src.ppf(1.0) == high


# Intervals: infinite endpoints, narrow cells (far from and near the centre), far tails.
INTERVALS = [(-np.inf, np.inf), (-np.inf, 0.1), (-1.0, 2.0), (0.3, 0.30001), (1.0, 1.001),
             (-3.0, -2.999), (5.0, np.inf), (20.0, np.inf), (20.0, 25.0), (-np.inf, -30.0),
             (1e-9, 2e-9), (-1e-9, 2e-9), (0.69, 0.71), (-1.51, -1.49), (100.0, 101.0),
             (1e6, np.inf), (4.9, 5.1), (2.0, 1.0)]
FAMILIES = {  # key -> (family for the reference, mu, s, nu)
    "gauss01": ("gaussian", 0.0, 1.0, None),
    "gauss": ("gaussian", 0.7, math.sqrt(2.5), None),
    "laplace": ("laplace", 0.3, 1.7, None),
    "t": ("t", -0.2, 0.8, 3.5),
    "t_heavy": ("t", 0.0, 1.0, 2.2),
}


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_partial_moments_match_high_precision_closed_forms(key):
    """Including far tails and short cells: ~1e-13 relative (the standardised argument's own
    rounding limits the Gaussian tail at |z| = 30 to about 1e-13)."""
    src = one_d(key)
    family, mu, s, nu = FAMILIES[key]
    for a, b in INTERVALS:
        for k, fun in enumerate((src.mass, src.first_moment, src.second_moment)):
            ref = reference_partial(family, k, a, b, mu, s, nu)
            assert fun(a, b) == pytest.approx(ref, rel=3e-13, abs=1e-300), (a, b, k)


@pytest.mark.parametrize("key", sorted(ONE_D))
def test_partial_moments_match_scipy_quad(key):
    src = one_d(key)

    def quad(fun, edges):
        return sum(integrate.quad(fun, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
                   for lo, hi in itertools.pairwise(edges))

    for a, b in [(-np.inf, 0.0), (-np.inf, np.inf), (-0.5, 1.5), (0.9, 1.2), (2.0, np.inf),
                 (-6.0, -2.0), (1.5, 8.0)]:
        edges = [a, *[p for p in (-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 6.0) if a < p < b], b]
        for k, fun in enumerate((src.mass, src.first_moment, src.second_moment)):
            ref = quad(lambda x, k=k: x**k * src.pdf(x), edges)
            size = quad(lambda x, k=k: abs(x) ** k * src.pdf(x), edges)  # E|X|^k 1{a<X<b}
            assert abs(fun(a, b) - ref) <= 1e-10 * size, (a, b, k)


def test_student_t_first_moment_closed_form_from_the_brief():
    nu, loc, s = 3.5, -0.2, 0.8
    src = make_source("student_t", 1, df=nu, loc=loc, scale=s)
    f = stats.t(nu).pdf
    for a, b in [(-1.0, 2.0), (0.5, 40.0), (-np.inf, 1.0), (3.0, np.inf), (-7.0, -6.5)]:
        za, zb = (a - loc) / s, (b - loc) / s
        g = lambda z: 0.0 if math.isinf(z) else (nu + z * z) / (nu - 1) * f(z)  # noqa: E731
        expected = loc * src.mass(a, b) + s * (g(za) - g(zb))
        assert src.first_moment(a, b) == pytest.approx(expected, rel=1e-12)


@given(st.sampled_from(["gauss", "laplace", "t", "mixture", "cube"]),
       st.lists(st.floats(-12, 12, allow_nan=False), min_size=3, max_size=3))
def test_partial_moments_are_additive(key, cuts):
    a, b, c = sorted(cuts)
    src = one_d(key)
    abs_first = (src.first_moment(max(a, 0.0), max(c, 0.0))
                 - src.first_moment(min(a, 0.0), min(c, 0.0)))  # E[|X| 1{a < X < c}]
    for fun, size in ((src.mass, src.mass(a, c)), (src.first_moment, abs_first),
                      (src.second_moment, src.second_moment(a, c))):
        assert abs(fun(a, b) + fun(b, c) - fun(a, c)) <= 1e-13 * size + 1e-300
    assert src.mass(c, a) == 0.0 and src.first_moment(b, b) == 0.0
