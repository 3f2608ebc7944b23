"""Oracles for theory/symbolic.py: each derivation simplifies to its closed form and agrees
numerically with theory/quantization.py."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.stats import norm

from vqmatch.theory.quantization import (
    best_gaussian_codebook_scale2,
    gaussian_codebook_gain,
    gaussian_codebook_integral,
    optimal_density_exponent,
    panter_dite_constant,
)
from vqmatch.theory.symbolic import (
    derive_gaussian_codebook_integral,
    derive_gaussian_codebook_scale,
    derive_lemma3_1d,
    derive_optimal_density,
    derive_panter_dite,
)

D = sp.Symbol("d", positive=True)
R = sp.Symbol("r", positive=True)


def is_zero(expr) -> bool:
    return sp.simplify(expr) == 0


# --------------------------------------------------------------------------- optimal density


@pytest.fixture(scope="module")
def density():
    return derive_optimal_density()


def test_optimal_density_exponent_mse(density):
    assert is_zero(density.exponent - D / (D + 2))
    assert is_zero(density.random_codebook_exponent - D / (D + 2))
    f, nu = density.symbols["f"], density.symbols["nu"]
    assert is_zero(density.stationary - (2 * f / (D * nu)) ** (D / (D + 2)))
    # The stationary point really is stationary, and a minimum (L is convex in lambda).
    lam = density.symbols["lam"]
    x = sp.Symbol("X", positive=True)  # lambda = X^(d/(d+2)) with X = 2 f / (d nu) > 0
    grad = sp.simplify(sp.diff(density.lagrangian, lam).subs(lam, x ** (D / (D + 2))))
    assert is_zero(grad.subs(x, 2 * f / (D * nu)))
    for vals in ({D: 3, f: 0.7, nu: 2.0}, {D: 1, f: 5.0, nu: 0.1}):
        num = sp.diff(density.lagrangian, lam).subs(lam, density.stationary).subs(vals)
        assert abs(float(num)) < 1e-12
    assert density.second_derivative.is_positive
    # Plugging lambda = f^a / Z back in: f lambda^(-2/d) = Z^(2/d) f^a, so the minimum is
    # Z^((d+2)/d) = ||f||_{d/(d+2)}.
    z = density.symbols["Z"]
    assert is_zero(density.optimum_integrand - z ** (2 / D) * f ** (D / (D + 2)))
    # Not the paper's exponent (d+2)/d, except in no dimension.
    assert sp.solve(sp.Eq(density.exponent, (D + 2) / D), D) == []


def test_optimal_density_exponent_general_r():
    res = derive_optimal_density(r=R)
    assert is_zero(res.exponent - D / (D + R))
    assert is_zero(res.random_codebook_exponent - D / (D + R))
    f, z = res.symbols["f"], res.symbols["Z"]
    assert is_zero(res.optimum_integrand - z ** (R / D) * f ** (D / (D + R)))
    assert res.second_derivative.is_positive


@pytest.mark.parametrize(("d", "r"), [(1, 2), (2, 2), (3, 2), (8, 2), (4, 1), (3, 3)])
def test_optimal_density_numeric_agrees(d, r):
    res = derive_optimal_density(d, r)
    assert res.exponent == sp.Rational(d, d + r)
    assert float(res.exponent) == pytest.approx(optimal_density_exponent(d, r))


# --------------------------------------------------------------------------- Gaussian codebooks


def test_gaussian_codebook_integral_derivation():
    s2 = sp.Symbol("s2", positive=True)
    expr = derive_gaussian_codebook_integral()
    assert is_zero(expr - 2 * sp.pi * s2 * (1 - 2 / (D * s2)) ** (-D / 2))
    for d, val in [(1, 3.0), (2, 1.5), (3, 1.0), (8, 0.4)]:
        num = float(derive_gaussian_codebook_integral(d).subs(s2, val))
        assert num == pytest.approx(gaussian_codebook_integral(d, val))


@pytest.fixture(scope="module")
def scale():
    return derive_gaussian_codebook_scale()


def test_gaussian_codebook_scale_symbolic(scale):
    s2 = scale.s2
    assert is_zero(scale.s2_star - (D + 2) / D)
    assert is_zero(scale.log_derivative - (D * s2 - D - 2) / (s2 * (D * s2 - 2)))
    assert is_zero(scale.threshold - 2 / D)
    assert scale.second_derivative.is_positive
    assert is_zero(scale.e_star - ((D + 2) / D) ** ((D + 2) / 2))
    expected = ((D + 2) / D) * (1 - 2 / (D + 2)) ** (-D / 2) / (1 - 2 / D) ** (-D / 2)
    # Valid for d > 2 (where E(1) is finite): check on a set of rational d > 2.
    for dv in (sp.Rational(5, 2), 3, 4, sp.Rational(17, 3), 8, 33):
        assert is_zero((scale.ratio - expected).subs(D, dv))
    # And numerically against the float implementation.
    for dv in (3, 4, 8, 16, 32, 100):
        assert float(scale.gain.subs(D, dv)) == pytest.approx(gaussian_codebook_gain(dv),
                                                              rel=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3, 4, 8, 16])
def test_gaussian_codebook_scale_numeric(d):
    res = derive_gaussian_codebook_scale(d)
    assert res.s2_star == sp.Rational(d + 2, d)
    assert float(res.s2_star) == pytest.approx(best_gaussian_codebook_scale2(d))
    assert float(res.gain) == pytest.approx(gaussian_codebook_gain(d), rel=1e-12)
    if d <= 2:
        # The matched codebook s2 = 1 <= 2/d diverges: infinite distortion, gain 1.
        assert res.e_matched == sp.oo and res.ratio == 0 and res.gain == 1
        assert res.threshold >= 1
    else:
        assert res.e_matched.is_finite and res.threshold < 1
    # s2* is the minimiser: the objective is larger on either side.
    f = sp.lambdify(res.s2, res.objective)
    s = float(res.s2_star)
    assert f(s) < f(s * 0.99) and f(s) < f(s * 1.01)


# --------------------------------------------------------------------------- Panter-Dite, Lemma 3


def test_panter_dite():
    res = derive_panter_dite()
    assert is_zero(res.constant - sp.sqrt(3) * sp.pi / 2)
    assert is_zero(res.integral - sp.sqrt(6 * sp.pi) / (2 * sp.pi) ** sp.Rational(1, 6))
    assert float(res.constant) == pytest.approx(panter_dite_constant(), rel=1e-14)


def test_lemma3_1d():
    res = derive_lemma3_1d()
    assert is_zero(res.general_formula - res.closed_form)
    assert is_zero(res.quantile_coupling - res.closed_form)
    assert res.jacobian == 0
    sym = res.symbols
    m1, m2, s1, s2 = sym["m1"], sym["m2"], sym["sigma1"], sym["sigma2"]
    assert is_zero(res.closed_form - ((m1 - m2) ** 2 + (s1 - s2) ** 2))
    # Numerically: the quantile coupling of two sampled normals (sorted samples).
    vals = {m1: 0.3, m2: -1.1, s1: 2.0, s2: 0.5}
    u = (np.arange(200_000) + 0.5) / 200_000
    q = norm.ppf(u)
    mc = np.mean((0.3 + 2.0 * q - (-1.1 + 0.5 * q)) ** 2)
    assert mc == pytest.approx(float(res.closed_form.subs(vals)), rel=1e-3)
    assert float(res.closed_form.subs(vals)) == pytest.approx(1.4**2 + 1.5**2)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: derive_optimal_density(0), "d="),
        (lambda: derive_optimal_density(True), "d="),
        (lambda: derive_optimal_density("3"), "d="),
        (lambda: derive_optimal_density(sp.Integer(-2)), "d="),
        (lambda: derive_optimal_density(3, r=0), "r="),
        (lambda: derive_optimal_density(3, r=-1.5), "r="),
        (lambda: derive_gaussian_codebook_scale(0), "d="),
        (lambda: derive_gaussian_codebook_integral(-1), "d="),
    ],
)
def test_bad_input_names_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_gain_large_d_asymptote(scale):
    # log(E*/E(1)) = -2/d^2 - 4/(3 d^3) + ..., so gain = 2/d^2 + 4/(3 d^3) + O(d^-4).
    e = sp.Symbol("e", positive=True)
    log_ratio = sp.expand_log(sp.log(scale.ratio), force=True).subs(D, 1 / e)
    series = sp.series(log_ratio, e, 0, 4).removeO()
    assert is_zero(series - (-2 * e**2 - sp.Rational(4, 3) * e**3))
    gain = sp.series(1 - sp.exp(series), e, 0, 4).removeO()
    assert is_zero(gain - (2 * e**2 + sp.Rational(4, 3) * e**3))
    for d in (64, 256, 1000):
        assert gaussian_codebook_gain(d) == pytest.approx(2 / d**2 + 4 / (3 * d**3), rel=4 / d**2)
