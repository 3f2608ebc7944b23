r"""Symbolic (sympy) derivations behind :mod:`vqmatch.theory.quantization`.

Each ``derive_*`` function performs a derivation with sympy and returns the intermediate and
final expressions in a small frozen dataclass, so tests can check every step against a closed
form (``sympy.simplify(expr - expected) == 0``) and against the numeric functions.

References
----------
.. [PD51] P. F. Panter and W. Dite, Proc. IRE 39 (1951) 44-48.
.. [Ger79] A. Gersho, "Asymptotically optimal block quantization", IEEE Trans. IT-25 (1979).
.. [Zad82] P. L. Zador, IEEE Trans. IT-28 (1982) 139-149.
.. [GL00] S. Graf and H. Luschgy, "Foundations of Quantization for Probability Distributions",
   LNM 1730, Springer (2000), Thm 7.5.
.. [DL82] D. C. Dowson and B. V. Landau, "The Frechet distance between multivariate normal
   distributions", J. Multivariate Anal. 12 (1982) 450-455 (the Gaussian W2 formula).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral, Real

import sympy as sp

__all__ = [
    "DensityDerivation",
    "GaussianScaleDerivation",
    "Lemma3Derivation",
    "PanterDiteDerivation",
    "derive_gaussian_codebook_integral",
    "derive_gaussian_codebook_scale",
    "derive_lemma3_1d",
    "derive_optimal_density",
    "derive_panter_dite",
]


def _dim_symbol(d: object, name: str = "d") -> sp.Expr:
    """Default ``d`` to a positive symbol; accept positive ints or positive sympy expressions."""
    if d is None:
        return sp.Symbol(name, positive=True)
    if isinstance(d, bool):
        raise ValueError(f"{name} must be a positive integer or sympy symbol, got {name}={d!r}")
    if isinstance(d, Integral):
        if d < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={d!r}")
        return sp.Integer(int(d))
    if isinstance(d, sp.Basic):
        if d.is_positive is False or (d.is_number and not d.is_positive):
            raise ValueError(f"{name} must be positive, got {name}={d!r}")
        return d
    raise ValueError(f"{name} must be a positive integer or sympy symbol, got {name}={d!r}")


def _power_symbol(r: object) -> sp.Expr:
    if isinstance(r, bool):
        raise ValueError(f"r must be positive, got r={r!r}")
    if isinstance(r, Real):
        if not r > 0:
            raise ValueError(f"r must be positive, got r={r!r}")
        return sp.nsimplify(r)
    if isinstance(r, sp.Basic) and r.is_positive is not False:
        return r
    raise ValueError(f"r must be positive, got r={r!r}")


# --------------------------------------------------------------------------- optimal density


@dataclass(frozen=True)
class DensityDerivation:
    r"""Result of :func:`derive_optimal_density`.

    Attributes
    ----------
    lagrangian : sympy.Expr
        Pointwise Lagrangian :math:`f\lambda^{-r/d} + \nu\lambda`.
    stationary : sympy.Expr
        Solution :math:`\lambda(f,\nu)` of :math:`\partial_\lambda(\cdot) = 0`.
    second_derivative : sympy.Expr
        :math:`\partial^2_\lambda` of the Lagrangian at the stationary point (positive: minimum).
    exponent : sympy.Expr
        :math:`a = \partial\log\lambda/\partial\log f`, i.e. :math:`\lambda\propto f^a`.
    optimum_integrand : sympy.Expr
        :math:`f\lambda^{-r/d}` at :math:`\lambda = f^a/Z`; equals :math:`Z^{r/d} f^a`, so the
        minimum is :math:`Z^{(d+r)/d} = \|f\|_{d/(d+r)}` with :math:`Z=\int f^a`.
    random_codebook_exponent : sympy.Expr
        The same exponent obtained from the random-codebook functional
        :math:`c\int f g^{-r/d}` (:math:`c>0` constant).
    symbols : dict
        The symbols used (``f``, ``lam``, ``nu``, ``d``, ``r``, ``Z``, ``c``).
    """

    lagrangian: sp.Expr
    stationary: sp.Expr
    second_derivative: sp.Expr
    exponent: sp.Expr
    optimum_integrand: sp.Expr
    random_codebook_exponent: sp.Expr
    symbols: dict


def _stationary_exponent(lagrangian: sp.Expr, lam: sp.Symbol, f: sp.Symbol):
    # check/simplify off: ~20x faster; stationarity is verified in tests/theory/test_symbolic.py
    sols = sp.solve(sp.diff(lagrangian, lam), lam, check=False, simplify=False)
    if len(sols) != 1:  # pragma: no cover - sympy returns the unique positive root
        raise RuntimeError(f"expected one stationary point, got {sols}")
    sol = sp.powsimp(sols[0], force=True)
    sol = sol.replace(lambda e: e.is_Pow, lambda e: sp.Pow(e.base, sp.cancel(e.exp)))
    return sol, sp.cancel(sp.powsimp(f * sp.diff(sol, f) / sol, force=True))


@lru_cache(maxsize=1)
def _density_core() -> tuple:
    """The derivation with free positive symbols ``d``, ``r`` (cached: sympy's solve is slow).

    The stationarity condition is the same for every ``d, r > 0``, so specific values are
    substituted afterwards; sympy's solver is also much faster and cleaner on free symbols.
    """
    d, r = sp.symbols("d r", positive=True)
    f, lam, nu, z, c = sp.symbols("f lambda nu Z c", positive=True)
    lagrangian = f * lam ** (-r / d) + nu * lam
    sol, exponent = _stationary_exponent(lagrangian, lam, f)
    second = sp.diff(lagrangian, lam, 2).subs(lam, sol)
    optimum = sp.powsimp(sp.powdenest(f * (f**exponent / z) ** (-r / d), force=True), force=True)
    g = sp.Symbol("g", positive=True)
    _, rc_exponent = _stationary_exponent(c * f * g ** (-r / d) + nu * g, g, f)
    core = {"lagrangian": lagrangian, "stationary": sol, "second": second,
            "exponent": exponent, "optimum": optimum, "rc_exponent": rc_exponent}
    return d, r, f, lam, nu, z, c, core


def derive_optimal_density(d: object = None, r: object = 2) -> DensityDerivation:
    r"""Gersho's point-density problem by the calculus of variations.

    Minimise :math:`\int f\,\lambda^{-r/d}` subject to :math:`\int\lambda = 1` (the high
    resolution :math:`r`-th power distortion of a quantizer with point density :math:`\lambda`,
    up to the constant :math:`K^{-r/d}` times the cell constant). The pointwise Lagrangian

    .. math:: L(\lambda) = f\lambda^{-r/d} + \nu\lambda,\qquad
              \partial_\lambda L = -\frac rd f\lambda^{-r/d-1} + \nu = 0
              \;\Rightarrow\; \lambda = \Big(\frac{r f}{d\nu}\Big)^{d/(d+r)}

    is strictly convex in :math:`\lambda > 0`, so :math:`\lambda\propto f^{d/(d+r)}`
    (:math:`d/(d+2)` for MSE; Gersho 1979, Zador 1982, Graf & Luschgy 2000 Thm 7.5). The
    random-codebook functional :math:`\Gamma(1+2/d)V_d^{-2/d}K^{-2/d}\int f g^{-2/d}` has the
    same Lagrangian up to a positive constant, hence the same optimal exponent.

    Parameters
    ----------
    d : int or sympy expression, optional
        Dimension; default a positive symbol ``d``.
    r : float or sympy expression
        Distortion power (default 2); pass ``sympy.Symbol('r', positive=True)`` for general r.
    """
    d_val, r_val = _dim_symbol(d), _power_symbol(r)
    d, r, f, lam, nu, z, c, core = _density_core()

    def spec(expr: sp.Expr) -> sp.Expr:
        new = expr.subs({d: d_val, r: r_val})
        return new if new == expr else sp.simplify(new)

    return DensityDerivation(
        lagrangian=core["lagrangian"].subs({d: d_val, r: r_val}),
        stationary=spec(core["stationary"]),
        second_derivative=spec(core["second"]),
        exponent=spec(core["exponent"]),
        optimum_integrand=spec(core["optimum"]),
        random_codebook_exponent=spec(core["rc_exponent"]),
        symbols={"f": f, "lam": lam, "nu": nu, "d": d_val, "r": r_val, "Z": z, "c": c},
    )


# --------------------------------------------------------------------------- Gaussian codebooks


def derive_gaussian_codebook_integral(d: object = None) -> sp.Expr:
    r"""Derive :math:`\int f g^{-2/d}` for :math:`f = N(0, I_d)`, :math:`g = N(0, s^2 I_d)`.

    :math:`g^{-2/d}(z) = 2\pi s^2\prod_i e^{z_i^2/(d s^2)}` factorises over coordinates, so

    .. math:: \int f g^{-2/d} = 2\pi s^2\,J^d,\qquad
              J = \int\varphi(z)\,e^{z^2/(ds^2)}dz = \Big(1 - \frac{2}{ds^2}\Big)^{-1/2}

    with :math:`J` computed by sympy under the convergence condition :math:`s^2 > 2/d` (for
    :math:`s^2\le 2/d` the integral diverges). Returns the expression in the symbol ``s2``.
    """
    d = _dim_symbol(d)
    s2 = sp.Symbol("s2", positive=True)
    z = sp.Symbol("z", real=True)
    # e^{-z^2/2} e^{z^2/(d s2)} = e^{-b z^2/2} with b = 1 - 2/(d s2) > 0 on the convergent branch
    b = sp.Symbol("b", positive=True)
    j = sp.integrate(sp.exp(-b * z**2 / 2) / sp.sqrt(2 * sp.pi), (z, -sp.oo, sp.oo))
    g_factor = sp.simplify(((2 * sp.pi * s2) ** (-d / 2)) ** (-2 / d))
    return g_factor * j.subs(b, 1 - 2 / (d * s2)) ** d


@dataclass(frozen=True)
class GaussianScaleDerivation:
    r"""Result of :func:`derive_gaussian_codebook_scale` (feature variance 1).

    Attributes
    ----------
    s2 : sympy.Symbol
        Codebook variance symbol.
    objective : sympy.Expr
        :math:`E(s^2) = s^2(1 - 2/(ds^2))^{-d/2}` (distortion up to constant factors).
    log_derivative : sympy.Expr
        :math:`\frac{d}{ds^2}\log E`, simplified.
    threshold : sympy.Expr
        :math:`2/d`: :math:`E` is finite only for :math:`s^2 > 2/d`.
    s2_star : sympy.Expr
        Minimiser :math:`(d+2)/d`.
    second_derivative : sympy.Expr
        :math:`\frac{d^2}{d(s^2)^2}\log E` at :math:`s_*^2` (positive: minimum).
    e_star, e_matched : sympy.Expr
        :math:`E(s_*^2)` and :math:`E(1)` (``sympy.oo`` for numeric ``d <= 2``).
    ratio, gain : sympy.Expr
        :math:`E(s_*^2)/E(1)` and :math:`1 - ` ratio; for numeric ``d <= 2`` ratio is 0
        and gain is 1. For symbolic ``d`` they are valid for :math:`d > 2`.
    """

    s2: sp.Symbol
    objective: sp.Expr
    log_derivative: sp.Expr
    threshold: sp.Expr
    s2_star: sp.Expr
    second_derivative: sp.Expr
    e_star: sp.Expr
    e_matched: sp.Expr
    ratio: sp.Expr
    gain: sp.Expr


def derive_gaussian_codebook_scale(d: object = None) -> GaussianScaleDerivation:
    r"""Minimise the random Gaussian codebook functional over the codebook variance.

    For unit-variance Gaussian features, :func:`derive_gaussian_codebook_integral` gives the
    distortion up to constants as :math:`E(s^2) = s^2(1 - 2/(ds^2))^{-d/2}` on
    :math:`s^2 > 2/d`. Setting the log-derivative to zero:

    .. math:: \frac{d}{ds^2}\log E = \frac{ds^2 - d - 2}{s^2(ds^2 - 2)} = 0
              \;\Rightarrow\; s_*^2 = \frac{d+2}{d},

    .. math:: \frac{E(s_*^2)}{E(1)} = \frac{d+2}{d}
              \frac{(1 - 2/(d+2))^{-d/2}}{(1 - 2/d)^{-d/2}}
              = \Big(\frac{d+2}{d}\Big)^{(d+2)/2}\Big(\frac{d-2}{d}\Big)^{d/2}\quad(d>2).

    **Notable fact:** for :math:`d\le 2` the matched codebook :math:`s^2 = 1` lies at or below
    the threshold :math:`2/d`, so its high-resolution random-codebook distortion diverges
    (:math:`K^{2/d}\,\mathbb{E}D_K\to\infty`); then ``e_matched = oo``, ``ratio = 0`` and
    ``gain = 1``.
    """
    d = _dim_symbol(d)
    s2 = sp.Symbol("s2", positive=True)
    objective = s2 * (1 - 2 / (d * s2)) ** (-d / 2)
    log_obj = sp.log(s2) - d / 2 * sp.log(1 - 2 / (d * s2))
    log_derivative = sp.factor(sp.simplify(sp.diff(log_obj, s2)))
    sols = [s for s in sp.solve(log_derivative, s2) if sp.simplify(s - 2 / d).is_positive
            is not False]
    if len(sols) != 1:  # pragma: no cover
        raise RuntimeError(f"expected one feasible stationary point, got {sols}")
    s2_star = sp.simplify(sols[0])
    second = sp.simplify(sp.diff(log_obj, s2, 2).subs(s2, s2_star))
    e_star = sp.simplify(objective.subs(s2, s2_star))
    if d.is_number and not (d > 2):
        e_matched, ratio = sp.oo, sp.Integer(0)
    else:
        e_matched = objective.subs(s2, 1)
        ratio = sp.simplify(e_star / e_matched)
    return GaussianScaleDerivation(
        s2=s2, objective=objective, log_derivative=log_derivative, threshold=2 / d,
        s2_star=s2_star, second_derivative=second, e_star=e_star, e_matched=e_matched,
        ratio=ratio, gain=sp.simplify(1 - ratio),
    )


# --------------------------------------------------------------------------- Panter-Dite


@dataclass(frozen=True)
class PanterDiteDerivation:
    r"""Result of :func:`derive_panter_dite`: ``integral`` :math:`=\int\varphi^{1/3}` and
    ``constant`` :math:`=\frac1{12}(\int\varphi^{1/3})^3`."""

    integral: sp.Expr
    constant: sp.Expr


def derive_panter_dite() -> PanterDiteDerivation:
    r"""Panter-Dite constant of the standard normal, symbolically.

    .. math:: \int_{-\infty}^{\infty}\varphi(x)^{1/3}dx = (2\pi)^{-1/6}\sqrt{6\pi},\qquad
              \frac1{12}\Big(\int\varphi^{1/3}\Big)^3 = \frac{\sqrt3\,\pi}{2}\approx 2.7207

    (Panter & Dite 1951), the limit of :math:`K^2 D_K` for the optimal K-level quantizer.
    """
    x = sp.Symbol("x", real=True)
    phi = sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)
    integral = sp.simplify(sp.integrate(phi ** sp.Rational(1, 3), (x, -sp.oo, sp.oo)))
    return PanterDiteDerivation(integral=integral, constant=sp.simplify(integral**3 / 12))


# --------------------------------------------------------------------------- Lemma 3, d = 1


@dataclass(frozen=True)
class Lemma3Derivation:
    r"""Result of :func:`derive_lemma3_1d`.

    Attributes
    ----------
    general_formula : sympy.Expr
        :math:`\|m_1-m_2\|^2 + \mathrm{tr}(S_1 + S_2 - 2(S_2^{1/2}S_1S_2^{1/2})^{1/2})` with
        :math:`1\times1` matrices.
    quantile_coupling : sympy.Expr
        :math:`\mathbb{E}_{z\sim N(0,1)}(m_1 - m_2 + (\sigma_1-\sigma_2)z)^2`.
    jacobian : sympy.Expr
        :math:`\frac{d}{dz}\Phi(z) - \varphi(z)` (zero: justifies :math:`u = \Phi(z)`).
    closed_form : sympy.Expr
        :math:`(m_1 - m_2)^2 + (\sigma_1 - \sigma_2)^2`.
    symbols : dict
    """

    general_formula: sp.Expr
    quantile_coupling: sp.Expr
    jacobian: sp.Expr
    closed_form: sp.Expr
    symbols: dict


def derive_lemma3_1d() -> Lemma3Derivation:
    r"""One-dimensional case of the paper's Lemma 3 (Gaussian 2-Wasserstein distance).

    General formula (Dowson & Landau 1982) with :math:`S_i = \sigma_i^2`:

    .. math:: W_2^2 = (m_1-m_2)^2 + \sigma_1^2 + \sigma_2^2 - 2\sqrt{\sigma_2\sigma_1^2\sigma_2}
              = (m_1 - m_2)^2 + (\sigma_1 - \sigma_2)^2.

    Quantile coupling: :math:`W_2^2 = \int_0^1(F_1^{-1}(u) - F_2^{-1}(u))^2du` with
    :math:`F_i^{-1}(u) = m_i + \sigma_i\Phi^{-1}(u)`; substituting :math:`u = \Phi(z)`,
    :math:`du = \varphi(z)dz`, gives
    :math:`\mathbb{E}_{z\sim N(0,1)}(m_1 - m_2 + (\sigma_1 - \sigma_2)z)^2`, the same value.
    """
    m1, m2 = sp.symbols("m1 m2", real=True)
    s1, s2 = sp.symbols("sigma1 sigma2", positive=True)
    z = sp.Symbol("z", real=True)
    mean_diff = sp.Matrix([[m1 - m2]])
    cov1, cov2 = sp.Matrix([[s1**2]]), sp.Matrix([[s2**2]])
    root2 = cov2 ** sp.Rational(1, 2)
    cross = (root2 * cov1 * root2) ** sp.Rational(1, 2)
    general = (mean_diff.T * mean_diff)[0, 0] + (cov1 + cov2 - 2 * cross).trace()
    phi = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
    # Integrate monomial by monomial (sympy is much faster on z^k phi(z) than on the whole).
    poly = sp.Poly(sp.expand((m1 - m2 + (s1 - s2) * z) ** 2), z)
    coupling = sum(coef * sp.integrate(z**k * phi, (z, -sp.oo, sp.oo))
                   for (k,), coef in poly.terms())
    big_phi = (1 + sp.erf(z / sp.sqrt(2))) / 2
    return Lemma3Derivation(
        general_formula=sp.simplify(general),
        quantile_coupling=sp.simplify(coupling),
        jacobian=sp.simplify(sp.diff(big_phi, z) - phi),
        closed_form=(m1 - m2) ** 2 + (s1 - s2) ** 2,
        symbols={"m1": m1, "m2": m2, "sigma1": s1, "sigma2": s2, "z": z},
    )
