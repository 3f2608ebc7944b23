r"""Standardised symmetric 1-D families and their partial moments (used by
:mod:`vqmatch.simulations.sources`).

The symmetric location-scale families (Gaussian, Laplace, Student-t) write the standardised partial
moments through the half-line integrals :math:`A_k(z) = \int_0^z t^k f(t)\,dt` and
:math:`B_k(z) = \int_z^\infty t^k f(t)\,dt` (regularised incomplete gamma / beta functions) and
difference whichever of the two has the smaller terms, so that far tails and narrow cells keep
~1e-15 relative accuracy; very short intervals, where even that cancels, use 20-point
Gauss-Legendre quadrature (exact to rounding there).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special


# --------------------------------------------------------------- standardised symmetric families
class _Family:
    r"""Standardised symmetric density :math:`f` with half-line moments :math:`A_k, B_k`."""

    var: float

    def half_total(self, k: int) -> float:  # H_k = A_k(inf)
        raise NotImplementedError

    def half_direct(self, k: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def half(self, k: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A_k(z), B_k(z))`` for ``z >= 0``; the larger one as ``H_k`` minus the smaller."""
        a, b = self.half_direct(k, z)
        h = self.half_total(k)
        small_a = a <= b
        return np.where(small_a, a, h - b), np.where(small_a, h - a, b)

    def cdf(self, z: np.ndarray) -> np.ndarray:
        a, b = self.half(0, np.abs(z))
        return np.where(z < 0, b, 0.5 + a)


class _Normal(_Family):
    var = 1.0

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        return -0.5 * z * z - 0.5 * math.log(2 * math.pi)

    def half_total(self, k: int) -> float:
        return (0.5, 1 / math.sqrt(2 * math.pi), 0.5)[k]

    def half_direct(self, k: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore"):
            if k == 0:
                return 0.5 * special.erf(z / math.sqrt(2)), 0.5 * special.erfc(z / math.sqrt(2))
            if k == 1:
                c = 1 / math.sqrt(2 * math.pi)
                return -c * np.expm1(-0.5 * z * z), c * np.exp(-0.5 * z * z)
            x = 0.5 * z * z
            return 0.5 * special.gammainc(1.5, x), 0.5 * special.gammaincc(1.5, x)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return special.ndtri(q)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.standard_normal(shape)


class _Laplace(_Family):
    var = 2.0

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        return -np.abs(z) - math.log(2)

    def half_total(self, k: int) -> float:
        return 0.5 * math.factorial(k)

    def half_direct(self, k: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = 0.5 * math.factorial(k)
        return c * special.gammainc(k + 1, z), c * special.gammaincc(k + 1, z)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.where(q < 0.5, np.log(2 * q), -np.log(2 * (1 - q)))

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.laplace(size=shape)


class _StudentT(_Family):
    def __init__(self, df: float) -> None:
        self.df = df
        self.var = df / (df - 2)

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        nu = self.df
        return (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)
                - 0.5 * math.log(nu * math.pi) - 0.5 * (nu + 1) * np.log1p(z * z / nu))

    def half_total(self, k: int) -> float:
        nu = self.df
        return math.exp(0.5 * k * math.log(nu) + special.betaln((k + 1) / 2, (nu - k) / 2)
                        - special.betaln(0.5, nu / 2) - math.log(2))

    def half_direct(self, k: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # t^2 = nu u / (1 - u) maps A_k, B_k onto regularised incomplete beta functions.
        nu, h = self.df, self.half_total(k)
        with np.errstate(over="ignore", invalid="ignore"):
            zz = z * z
            u = np.where(np.isinf(z), 1.0, zz / (nu + zz))
            uc = nu / (nu + zz)
        return (h * special.betainc((k + 1) / 2, (nu - k) / 2, u),
                h * special.betainc((nu - k) / 2, (k + 1) / 2, uc))

    def ppf(self, q: np.ndarray) -> np.ndarray:
        # Invert the incomplete-beta forms of the cdf (stdtrit fails for q below ~1e-290).
        nu, r = self.df, np.minimum(q, 1 - q)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = special.betaincinv(nu / 2, 0.5, 2 * r)  # nu / (nu + z^2), tails
            y = special.betaincinv(0.5, nu / 2, 1 - 2 * r)  # z^2 / (nu + z^2), centre
            z = np.sqrt(np.where(r < 0.25, nu * (1 - x) / x, nu * y / (1 - y)))
        return np.where(q < 0.5, -z, z)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.standard_t(self.df, size=shape)


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(20)
_CANCEL = 8.0  # re-evaluate a closed-form difference that cancels by more than this factor


def _gauss_legendre(lo: np.ndarray, hi: np.ndarray, integrand: Any) -> np.ndarray:
    r"""20-point Gauss-Legendre :math:`\int_{lo}^{hi} g(t)\,dt`, elementwise over 1-D arrays."""
    half = 0.5 * (hi - lo)[:, None]
    t = 0.5 * (hi + lo)[:, None] + half * _GL_NODES
    return np.sum(_GL_WEIGHTS * integrand(t) * half, axis=1)


def _std_partial(fam: _Family, k: int, lo: np.ndarray,
                 hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Elementwise :math:`\int_{lo}^{hi} z^k f(z)\,dz` (0 if ``lo >= hi``) and a short-cell mask.

    Every case is mirrored onto :math:`0 \le u \le v` and evaluated as :math:`A_k(v) - A_k(u)` or
    :math:`B_k(u) - B_k(v)`, whichever has the smaller terms (survival form in the tails). A
    difference that still cancels by more than ``_CANCEL`` flags a cell that is short against the
    density's scale of variation; there 20-point Gauss-Legendre is exact to rounding.
    """
    p, q = np.abs(lo), np.abs(hi)
    straddle, flip = (lo < 0) & (hi > 0), hi <= 0
    u = np.where(flip, q, np.where(straddle, np.minimum(p, q), p))
    v = np.where(flip, p, np.where(straddle, np.maximum(p, q), q))
    sgn = np.where(flip | (straddle & (p > q)), (-1.0) ** k, 1.0)
    au, bu = fam.half(k, u)
    av, bv = fam.half(k, v)
    with np.errstate(invalid="ignore"):
        use_b = bu < av
        diff = np.where(use_b, bu - bv, av - au)
        short = (np.where(use_b, bu, av) > _CANCEL * diff) & np.isfinite(v) & (u < v)
    if k % 2 == 0:  # for even k the two halves of a straddling cell add up
        short &= ~straddle
    if np.any(short):
        diff = np.array(diff, dtype=float)
        diff[short] = _gauss_legendre(u[short], v[short],
                                      lambda z: z**k * np.exp(fam.logpdf(z)))
    out = np.where(straddle & (k % 2 == 0), au + av, sgn * diff)
    nan = np.isnan(lo) | np.isnan(hi)
    return np.where(lo < hi, out, np.where(nan, np.nan, 0.0)), short & (lo < hi)


def _loc_scale_partial(fam: _Family, k: int, mu: float, s: float, a: np.ndarray,
                       b: np.ndarray) -> np.ndarray:
    r""":math:`E[X^k 1\{a < X < b\}]` for :math:`X = \mu + sZ` from the moments of :math:`Z`.

    Short cells (flagged by :func:`_std_partial`, or where the binomial expansion cancels near
    :math:`x = 0 \ne \mu`) that do not contain :math:`\mu` are re-integrated by Gauss-Legendre
    in :math:`x` itself, which avoids the rounding of the standardised endpoints.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    lo, hi = (a - mu) / s, (b - mu) / s
    parts = [_std_partial(fam, j, lo, hi) for j in range(k + 1)]
    coef = ([1.0], [mu, s], [mu * mu, 2 * mu * s, s * s])[k]
    terms = [c * mj for c, (mj, _) in zip(coef, parts, strict=True)]
    out = sum(terms)
    if mu == 0 and s == 1:
        return out
    with np.errstate(invalid="ignore"):
        cancel = (sum(np.abs(t) for t in terms) > _CANCEL * np.abs(out)) & (hi - lo <= 0.5)
        redo = ((cancel | np.logical_or.reduce([sh for _, sh in parts]))
                & ((lo >= 0) | (hi <= 0)) & np.isfinite(lo) & np.isfinite(hi) & (a < b))
    if np.any(redo):
        out = np.array(out, dtype=float)
        out[redo] = _gauss_legendre(a[redo], b[redo],
                                    lambda x: x**k * np.exp(fam.logpdf((x - mu) / s)) / s)
    return out
