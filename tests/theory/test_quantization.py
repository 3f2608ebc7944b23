"""Oracles for theory/quantization.py: closed forms, published constants, independent numerics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize
from scipy.stats import norm

from vqmatch.theory.quantization import (
    ASYMPTOTIC_QUANTIZER_CONSTANT,
    best_gaussian_codebook_scale2,
    gaussian_codebook_gain,
    gaussian_codebook_integral,
    gaussian_codebook_relative_distortion,
    gaussian_point_density_variance,
    gaussian_renyi_norm,
    optimal_density_exponent,
    optimal_distortion_highres,
    optimal_gaussian_distortion_highres,
    panter_dite_constant,
    paper_density_exponent,
    quantizer_constant,
    random_codebook_coefficient,
    random_codebook_distortion_highres,
    random_gaussian_codebook_distortion,
    sphere_lower_bound,
    unit_ball_volume,
)

DIMS = st.integers(min_value=1, max_value=64)


# --------------------------------------------------------------------------- exponents


def test_density_exponents_closed_form():
    assert optimal_density_exponent(1) == pytest.approx(1 / 3)  # Panter-Dite f^(1/3)
    assert optimal_density_exponent(2) == pytest.approx(1 / 2)
    assert optimal_density_exponent(8) == pytest.approx(0.8)
    assert optimal_density_exponent(3, r=1) == pytest.approx(3 / 4)
    assert paper_density_exponent(1) == pytest.approx(3.0)
    assert paper_density_exponent(2) == pytest.approx(2.0)


@given(d=DIMS)
def test_paper_exponent_is_reciprocal_of_classical(d):
    assert paper_density_exponent(d) * optimal_density_exponent(d, 2) == pytest.approx(1.0)
    assert optimal_density_exponent(d) < 1 < paper_density_exponent(d)


@given(d=DIMS, r=st.floats(min_value=0.1, max_value=10.0))
def test_general_r_exponent(d, r):
    assert optimal_density_exponent(d, r) == pytest.approx(d / (d + r))


def test_gaussian_point_density_variances():
    # f^(d/(d+2)) of N(0, v I) is N(0, v (d+2)/d I), the same as the best Gaussian codebook.
    for d in (1, 2, 5, 32):
        a = optimal_density_exponent(d)
        assert gaussian_point_density_variance(d, a, 2.0) == pytest.approx(2.0 * (d + 2) / d)
        assert gaussian_point_density_variance(d, a, 2.0) == pytest.approx(
            best_gaussian_codebook_scale2(d, 2.0))
        assert gaussian_point_density_variance(d, paper_density_exponent(d)) == pytest.approx(
            d / (d + 2))


# --------------------------------------------------------------------------- constants


def test_unit_ball_volume_known_values():
    assert unit_ball_volume(1) == pytest.approx(2.0)
    assert unit_ball_volume(2) == pytest.approx(math.pi)
    assert unit_ball_volume(3) == pytest.approx(4 * math.pi / 3)
    assert unit_ball_volume(4) == pytest.approx(math.pi**2 / 2)


@given(d=st.integers(min_value=3, max_value=200))
def test_unit_ball_volume_recurrence(d):
    assert unit_ball_volume(d) == pytest.approx(2 * math.pi / d * unit_ball_volume(d - 2))


def test_known_quantizer_constants():
    q1 = quantizer_constant(1)
    assert q1.value == pytest.approx(1 / 12) and q1.exact and q1.optimal
    q2 = quantizer_constant(2)
    assert q2.value == pytest.approx(5 / (36 * math.sqrt(3)))
    assert q2.value == pytest.approx(0.0801875, abs=1e-7)
    assert q2.exact and q2.optimal and q2.total == pytest.approx(2 * q2.value)
    assert quantizer_constant(3).value == pytest.approx(0.0785433, abs=1e-7)
    assert quantizer_constant(8).value == pytest.approx(0.0716821, abs=1e-7)
    assert quantizer_constant(24).value == pytest.approx(0.06577, abs=1e-5)
    assert not quantizer_constant(24).exact  # Leech: numerical estimate
    for d in (3, 4, 8, 16):
        q = quantizer_constant(d)
        assert q.exact and not q.optimal and q.kind == "lattice"
    q12 = quantizer_constant(12)
    assert not q12.exact and q12.kind == "sphere lower bound"
    assert q12.value == pytest.approx(sphere_lower_bound(12))
    assert ASYMPTOTIC_QUANTIZER_CONSTANT == pytest.approx(0.0585498, abs=1e-7)


def test_sphere_bound_brackets():
    assert sphere_lower_bound(1) == pytest.approx(1 / 12)
    assert sphere_lower_bound(2) == pytest.approx(1 / (4 * math.pi))
    for d in (2, 3, 4, 5, 6, 7, 8, 16, 24):
        assert ASYMPTOTIC_QUANTIZER_CONSTANT < sphere_lower_bound(d) < quantizer_constant(d).value
    values = [sphere_lower_bound(d) for d in range(1, 300)]
    assert np.all(np.diff(values) < 0)
    assert sphere_lower_bound(100_000) == pytest.approx(ASYMPTOTIC_QUANTIZER_CONSTANT, rel=1e-3)
    lattice = [quantizer_constant(d).value for d in (1, 2, 3, 4, 5, 6, 7, 8, 16, 24)]
    assert np.all(np.diff(lattice) < 0)


def test_hexagon_second_moment_by_quadrature():
    # Regular hexagon with vertices (+-1, 0), (+-1/2, +-sqrt(3)/2).
    s3 = math.sqrt(3.0)
    moment, _ = integrate.dblquad(lambda y, x: x * x + y * y, -1, 1,
                                  lambda x: -min(s3 / 2, s3 * (1 - abs(x))),
                                  lambda x: min(s3 / 2, s3 * (1 - abs(x))))
    area = 3 * s3 / 2
    assert moment / (2 * area**2) == pytest.approx(quantizer_constant(2).value, rel=1e-8)


def _decode_dn(x):
    """Nearest point of D_n = {integer vectors with even sum} (round, fix parity)."""
    r = np.rint(x)
    odd = (r.sum(axis=1) % 2) != 0
    err = x - r
    j = np.argmax(np.abs(err), axis=1)
    rows = np.flatnonzero(odd)
    r[rows, j[rows]] += np.where(err[rows, j[rows]] >= 0, 1.0, -1.0)
    return r


def _nearest_of(x, candidates):
    dist = np.stack([((x - c) ** 2).sum(axis=1) for c in candidates])
    return dist.min(axis=0)


@pytest.mark.parametrize(
    ("d", "volume", "sq_err"),
    [
        # BCC = Z^3 u (Z^3 + 1/2), cell volume 1/2.
        (3, 0.5, lambda x: _nearest_of(x, [np.rint(x), np.rint(x - 0.5) + 0.5])),
        # D5* = Z^5 u (Z^5 + 1/2), cell volume 1/2.
        (5, 0.5, lambda x: _nearest_of(x, [np.rint(x), np.rint(x - 0.5) + 0.5])),
        # D4, cell volume 2.
        (4, 2.0, lambda x: ((x - _decode_dn(x)) ** 2).sum(axis=1)),
        # E8 = D8 u (D8 + 1/2), cell volume 1.
        (8, 1.0, lambda x: _nearest_of(x, [_decode_dn(x), _decode_dn(x - 0.5) + 0.5])),
    ],
)
def test_lattice_constants_by_monte_carlo(d, volume, sq_err):
    rng = np.random.default_rng(12345 + d)
    x = rng.uniform(0.0, 2.0, size=(100_000, d))  # 2Z^d is a sublattice: uniform over cells
    e = sq_err(x) / (d * volume ** (2.0 / d))
    se = e.std(ddof=1) / math.sqrt(e.size)
    assert abs(e.mean() - quantizer_constant(d).value) < 4 * se
    assert e.mean() > sphere_lower_bound(d) + 4 * se


def test_panter_dite_by_quadrature():
    val, _ = integrate.quad(lambda x: norm.pdf(x) ** (1 / 3), -np.inf, np.inf)
    assert val**3 / 12 == pytest.approx(panter_dite_constant(), rel=1e-10)
    assert panter_dite_constant() == pytest.approx(2.7206990463513265)


# --------------------------------------------------------------------------- Renyi norm / Zador


@settings(max_examples=15)
@given(p=st.floats(min_value=0.2, max_value=3.0), var=st.floats(min_value=0.1, max_value=5.0))
def test_gaussian_renyi_norm_1d_quadrature(p, var):
    sd = math.sqrt(var)
    val, _ = integrate.quad(lambda x: norm.pdf(x, scale=sd) ** p, -np.inf, np.inf)
    assert gaussian_renyi_norm(1, p, var) == pytest.approx(val ** (1 / p), rel=1e-7)


def test_gaussian_renyi_norm_2d_and_identities():
    p, var = 0.5, 1.7
    val, _ = integrate.dblquad(
        lambda y, x: (np.exp(-(x * x + y * y) / (2 * var)) / (2 * np.pi * var)) ** p,
        -40, 40, -40, 40)
    assert gaussian_renyi_norm(2, p, var) == pytest.approx(val ** (1 / p), rel=1e-7)
    for d in (1, 3, 10):
        assert gaussian_renyi_norm(d, 1.0, 2.0) == pytest.approx(1.0)  # a density integrates to 1
        zador = gaussian_renyi_norm(d, d / (d + 2), 2.0)
        assert zador == pytest.approx(2 * math.pi * 2.0 * ((d + 2) / d) ** ((d + 2) / 2))


def test_optimal_distortion_highres():
    k = np.array([16.0, 256.0, 4096.0])
    # d = 1 Gaussian: the Panter-Dite law.
    np.testing.assert_allclose(optimal_gaussian_distortion_highres(1, k),
                               panter_dite_constant() / k**2)
    np.testing.assert_allclose(optimal_gaussian_distortion_highres(1, k, feature_var=3.0),
                               3.0 * panter_dite_constant() / k**2)
    d, f_norm = 2, 5.0
    assert optimal_distortion_highres(d, 100, f_norm) == pytest.approx(
        2 * quantizer_constant(2).value / 100 * f_norm)
    assert optimal_distortion_highres(d, 100, f_norm, coefficient=1 / 12) == pytest.approx(
        2 / 12 / 100 * f_norm)
    assert isinstance(optimal_distortion_highres(3, 8, 1.0), float)
    # Doubling K in d dimensions divides the distortion by 2^(2/d).
    assert optimal_distortion_highres(4, 200, 1.0) / optimal_distortion_highres(4, 400, 1.0) \
        == pytest.approx(2 ** 0.5)


@pytest.mark.slow
def test_lloyd_max_1d_approaches_panter_dite_from_below():
    prev = 0.0
    for k in (16, 32, 64):
        c = np.linspace(-2.5, 2.5, k) * math.sqrt(math.log(k) / math.log(16))
        for _ in range(20_000):
            b = np.concatenate([[-np.inf], (c[1:] + c[:-1]) / 2, [np.inf]])
            mass = norm.cdf(b[1:]) - norm.cdf(b[:-1])
            new = (norm.pdf(b[:-1]) - norm.pdf(b[1:])) / mass
            if np.max(np.abs(new - c)) < 1e-10:
                break
            c = new
        b = np.concatenate([[-np.inf], (c[1:] + c[:-1]) / 2, [np.inf]])
        mse = 1.0 - np.sum((norm.cdf(b[1:]) - norm.cdf(b[:-1])) * c**2)
        scaled = mse * k**2
        assert prev < scaled < panter_dite_constant()
        prev = scaled
    assert prev == pytest.approx(panter_dite_constant(), rel=0.04)


# --------------------------------------------------------------------------- random codebooks


def test_random_codebook_coefficient():
    assert random_codebook_coefficient(1) == pytest.approx(0.5)  # Gamma(3) / 2^2
    assert random_codebook_coefficient(2) == pytest.approx(1 / math.pi)  # Gamma(2) / pi
    for d in (1, 2, 3, 8, 64):
        ratio = random_codebook_coefficient(d) / (d * sphere_lower_bound(d))
        assert ratio == pytest.approx(math.gamma(2 + 2 / d))
    assert random_codebook_distortion_highres(2, 10, 3.0) == pytest.approx(0.3 / math.pi)
    assert random_codebook_distortion_highres(2, 10, math.inf) == math.inf


def _gauss_logpdf(z2, d, var):
    return -z2 / (2 * var) - 0.5 * d * np.log(2 * np.pi * var)


def _f_over_g(z2, d, v, s2):
    """f(z) g(z)^(-2/d) for f = N(0, v I), g = N(0, s2 I), in the log domain (no overflow)."""
    return np.exp(_gauss_logpdf(z2, d, v) - (2 / d) * _gauss_logpdf(z2, d, s2))


@pytest.mark.parametrize(("s2", "v"), [(1.5, 1.0), (3.0, 1.0), (2.0, 0.7)])
def test_gaussian_codebook_integral_1d_2d(s2, v):
    # d = 1 needs s2 > 2 v, d = 2 needs s2 > v: use 4 s2 in one dimension.
    val1, _ = integrate.quad(
        lambda x: _f_over_g(x * x, 1, v, 4 * s2), -np.inf, np.inf)
    assert gaussian_codebook_integral(1, 4 * s2, v) == pytest.approx(val1, rel=1e-7)
    val2, _ = integrate.dblquad(
        lambda y, x: _f_over_g(x * x + y * y, 2, v, s2),
        -60, 60, -60, 60)
    assert gaussian_codebook_integral(2, s2, v) == pytest.approx(val2, rel=1e-6)


def test_gaussian_codebook_integral_3d_monte_carlo():
    d, s2, v = 3, 2.0, 1.0
    z = np.random.default_rng(7).normal(scale=math.sqrt(v), size=(400_000, d))
    g = np.exp(-(2 / d) * _gauss_logpdf((z**2).sum(axis=1), d, s2))
    se = g.std(ddof=1) / math.sqrt(g.size)
    assert abs(g.mean() - gaussian_codebook_integral(d, s2, v)) < 4 * se
    assert se < 0.01 * g.mean()


def test_gaussian_codebook_integral_divergence():
    # Finite iff s2 > 2 v / d; the matched codebook s2 = v diverges for d <= 2.
    assert gaussian_codebook_integral(1, 1.0) == math.inf
    assert gaussian_codebook_integral(2, 1.0) == math.inf
    assert gaussian_codebook_integral(1, 2.0) == math.inf  # boundary
    assert math.isfinite(gaussian_codebook_integral(3, 1.0))
    out = gaussian_codebook_integral(2, np.array([0.5, 1.0, 1.01, 2.0]))
    assert np.isinf(out[:2]).all() and np.isfinite(out[2:]).all()
    assert random_gaussian_codebook_distortion(2, 100, 1.0) == math.inf


@pytest.mark.parametrize("d", [1, 2, 3, 4, 8, 16, 32])
@pytest.mark.parametrize("v", [0.5, 1.0, 3.0])
def test_best_scale_matches_numerical_minimiser(d, v):
    lo = 2 * v / d
    res = optimize.minimize_scalar(
        lambda t: math.log(gaussian_codebook_integral(d, lo * math.exp(t), v)),
        bounds=(1e-6, 5.0), method="bounded", options={"xatol": 1e-10})
    assert lo * math.exp(res.x) == pytest.approx(best_gaussian_codebook_scale2(d, v), rel=1e-5)
    assert best_gaussian_codebook_scale2(d, v) == pytest.approx(v * (d + 2) / d)
    # At the optimum the random-codebook functional equals Zador's ||f||_{d/(d+2)}.
    assert gaussian_codebook_integral(d, best_gaussian_codebook_scale2(d, v), v) == pytest.approx(
        gaussian_renyi_norm(d, d / (d + 2), v))


def test_gaussian_codebook_gain_values():
    expected = {1: 1.0, 2: 1.0, 3: 1 - (5 / 3) ** 2.5 * (1 / 3) ** 1.5, 4: 0.15625,
                8: 1 - 1.25**5 * 0.75**4, 16: 1 - 1.125**9 * 0.875**8}
    for d, g in expected.items():
        assert gaussian_codebook_gain(d) == pytest.approx(g, rel=1e-12)
    gains = np.array([gaussian_codebook_gain(d) for d in range(2, 400)])
    assert np.all(gains > 0) and np.all(np.diff(gains) < 0)
    assert gaussian_codebook_gain(10_000) * 10_000**2 / 2 == pytest.approx(1.0, rel=1e-3)
    for d in (3, 4, 8, 16, 32):
        rel = gaussian_codebook_relative_distortion(d, 1.0)
        assert gaussian_codebook_gain(d) == pytest.approx(1 - 1 / rel)
        # The gain is scale-free.
        assert gaussian_codebook_relative_distortion(d, 2.5, 2.5) == pytest.approx(rel)


def test_relative_distortion_and_paper_scale():
    for d in (1, 2, 3, 4, 8, 32):
        s2 = np.linspace(2 / d + 0.01, 10, 200)
        rel = gaussian_codebook_relative_distortion(d, s2)
        assert np.all(rel >= 1 - 1e-12)
        assert gaussian_codebook_relative_distortion(d, (d + 2) / d) == pytest.approx(1.0)
        # The paper's density f^((d+2)/d) is N(0, d/(d+2) I): finite only for d > 1 + sqrt 5.
        paper = gaussian_codebook_relative_distortion(d, d / (d + 2))
        assert math.isinf(paper) == (d <= 3)


def test_random_gaussian_codebook_monte_carlo_d2():
    """K = 2000 i.i.d. N(0, s2 I) codes on N(0, I) features, d = 2: within 10% of high-res."""
    d, k, n = 2, 2000, 8000
    rng = np.random.default_rng(2024)
    for s2 in (best_gaussian_codebook_scale2(d), 4.0):
        means = []
        for _ in range(2):
            codes = rng.normal(scale=math.sqrt(s2), size=(k, d))
            x = rng.normal(size=(n, d))
            c2 = (codes**2).sum(axis=1)
            best = np.empty(n)
            for i in range(0, n, 2000):
                xb = x[i:i + 2000]
                dist = (xb**2).sum(axis=1)[:, None] - 2 * xb @ codes.T + c2[None, :]
                best[i:i + 2000] = np.maximum(dist.min(axis=1), 0.0)
            means.append(best.mean())
        theory = random_gaussian_codebook_distortion(d, k, s2)
        assert np.mean(means) == pytest.approx(theory, rel=0.10)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: optimal_density_exponent(0), "d="),
        (lambda: optimal_density_exponent(2.5), "d="),
        (lambda: optimal_density_exponent(True), "d="),
        (lambda: optimal_density_exponent(2, r=0), "r="),
        (lambda: paper_density_exponent(-1), "d="),
        (lambda: unit_ball_volume(0), "d="),
        (lambda: sphere_lower_bound(np.float64(2.0)), "d="),
        (lambda: quantizer_constant(0), "d="),
        (lambda: gaussian_point_density_variance(2, 0.0), "exponent="),
        (lambda: gaussian_point_density_variance(2, 1.0, -1.0), "feature_var="),
        (lambda: gaussian_renyi_norm(2, 0.0), "p="),
        (lambda: gaussian_renyi_norm(2, 0.5, var=0.0), "var="),
        (lambda: optimal_distortion_highres(2, 0, 1.0), "n_codes="),
        (lambda: optimal_distortion_highres(2, [10, -1], 1.0), "n_codes="),
        (lambda: optimal_distortion_highres(2, 10, float("nan")), "f_norm="),
        (lambda: optimal_distortion_highres(2, 10, 1.0, coefficient=0.0), "coefficient="),
        (lambda: optimal_gaussian_distortion_highres(2, 10, feature_var=0.0), "feature_var="),
        (lambda: random_codebook_coefficient(0), "d="),
        (lambda: random_codebook_distortion_highres(2, 10, -1.0), "integral="),
        (lambda: random_codebook_distortion_highres(2, "x", 1.0), "n_codes="),
        (lambda: gaussian_codebook_integral(2, 0.0), "scale2="),
        (lambda: gaussian_codebook_integral(2, 1.0, feature_var=-2.0), "feature_var="),
        (lambda: random_gaussian_codebook_distortion(2, -5, 2.0), "n_codes="),
        (lambda: best_gaussian_codebook_scale2(2, feature_var=math.inf), "feature_var="),
        (lambda: gaussian_codebook_relative_distortion(0, 1.0), "d="),
        (lambda: gaussian_codebook_gain(0), "d="),
    ],
)
def test_bad_input_names_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
