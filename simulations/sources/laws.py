r"""Probability sources with exact population moments and closed-form 1-D partial moments.

A *source* is the distribution :math:`P_Z` of the data vectors :math:`Z \in \mathbb{R}^d` that a
quantizer is fitted to. :func:`make_source` builds one by name; every source exposes

* ``name``, ``d`` and ``params`` (JSON-serialisable; ``make_source(s.name, s.d, **s.params)``
  rebuilds the source),
* ``sample(n, seed)`` -> ``(n, d)`` float64 and ``logpdf(x)`` for ``x`` of shape ``(n, d)`` or
  ``(d,)``,
* the exact population ``mean`` ``(d,)`` and ``cov`` ``(d, d)``,
* ``support`` (``None`` for :math:`\mathbb{R}^d`, else a :class:`Box` or :class:`Ball`) and
  ``contains(x)``.

Sources with ``d == 1`` also provide the elementwise 1-D interface ``pdf``, ``cdf``, ``sf``,
``ppf``, ``isf`` and the partial moments used by :mod:`vqmatch.simulations.engines.lloyd_max`,

.. math::

    \operatorname{mass}(a, b) = P(a < X < b), \qquad
    \operatorname{first\_moment}(a, b) = E[X 1\{a < X < b\}], \qquad
    \operatorname{second\_moment}(a, b) = E[X^2 1\{a < X < b\}],

in closed form. The symmetric location-scale families (Gaussian, Laplace, Student-t) write the
standardised partial moments through half-line integrals
:math:`A_k(z) = \int_0^z t^k f(t)\,dt` and :math:`B_k(z) = \int_z^\infty t^k f(t)\,dt`
(regularised incomplete gamma / beta functions), and difference whichever of the two has the
smaller terms, so that far tails and narrow cells keep ~1e-15 relative accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg, special

from ..core.checks import check_int
from ..core.seeding import SeedLike, as_generator
from ._partial_moments import (
    _Family,
    _Laplace,
    _loc_scale_partial,
    _Normal,
    _StudentT,
)

SOURCE_NAMES = ("gaussian", "uniform", "laplace", "student_t", "gaussian_mixture")

__all__ = ["SOURCE_NAMES", "Ball", "Box", "Source", "make_source"]


@dataclass(frozen=True)
class Box:
    """Closed axis-aligned box :math:`\\prod_j [\\mathrm{low}_j, \\mathrm{high}_j]`."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Boolean membership of the points ``x`` of shape ``(n, d)`` -> ``(n,)``."""
        x = np.asarray(x, dtype=float)
        return np.all((x >= np.asarray(self.low)) & (x <= np.asarray(self.high)), axis=-1)


@dataclass(frozen=True)
class Ball:
    """Closed Euclidean ball :math:`\\{x : \\|x - \\mathrm{center}\\| \\le \\mathrm{radius}\\}`."""

    center: tuple[float, ...]
    radius: float

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Boolean membership of the points ``x`` of shape ``(n, d)`` -> ``(n,)``."""
        x = np.asarray(x, dtype=float)
        return np.linalg.norm(x - np.asarray(self.center), axis=-1) <= self.radius


# --------------------------------------------------------------------------- validation helpers
def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, dtype=float)
    arr.setflags(write=False)
    return arr


def _vector(value: Any, d: int, name: str, *, positive: bool = False) -> np.ndarray:
    """Scalar or ``(d,)`` finite parameter -> read-only ``(d,)`` float array."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        msg = f"{name} must be a scalar or a ({d},) vector, got {name}={value!r}"
        raise ValueError(msg) from None
    if arr.ndim == 0:
        arr = np.full(d, float(arr))
    if arr.shape != (d,):
        raise ValueError(f"{name} must be a scalar or a ({d},) vector, got shape {arr.shape}")
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else False)
    if np.any(bad):
        kind = "positive and finite" if positive else "finite"
        raise ValueError(f"{name} must be {kind}, got {name} entries {arr[bad][:5].tolist()}")
    return _frozen(arr)


def _covariance(value: Any, d: int, name: str) -> np.ndarray:
    """Scalar variance, ``(d,)`` diagonal or ``(d, d)`` symmetric PSD matrix -> ``(d, d)``."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0 or arr.shape == (d,):
        diag = np.broadcast_to(arr, (d,))
        if not np.all(np.isfinite(diag)) or np.any(diag < 0):
            raise ValueError(f"{name} variances must be finite and >= 0, got {name}={value!r}")
        return _frozen(np.diag(diag))
    if arr.shape != (d, d):
        raise ValueError(f"{name} must be a scalar, ({d},) or ({d}, {d}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {name}={value!r}")
    big = max(float(np.max(np.abs(arr))), np.finfo(float).tiny)
    if np.max(np.abs(arr - arr.T)) > 1e-12 * big:
        asym = float(np.max(np.abs(arr - arr.T)))
        raise ValueError(f"{name} must be symmetric, got max |{name} - {name}.T| = {asym:.3g}")
    arr = 0.5 * (arr + arr.T)
    lam_min = float(np.linalg.eigvalsh(arr)[0])
    if lam_min < -1e-12 * big:
        raise ValueError(
            f"{name} must be positive semi-definite, got smallest eigenvalue {lam_min:.3g}"
        )
    return _frozen(arr)


def _sqrt_factor(cov: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(L, is_pd)`` with ``L @ L.T == cov``; Cholesky when positive definite."""
    try:
        return np.linalg.cholesky(cov), True
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        return v * np.sqrt(np.clip(w, 0.0, None)), False


def _mvn_logpdf(x: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> np.ndarray:
    y = linalg.solve_triangular(chol, (x - mean).T, lower=True)
    logdet = np.sum(np.log(np.diag(chol)))
    return -0.5 * np.sum(y * y, axis=0) - logdet - 0.5 * x.shape[1] * math.log(2 * math.pi)


# ------------------------------------------------------------------------------------ base class
class Source:
    """Base class of all sources; build instances with :func:`make_source`."""

    name: str = ""

    def __init__(self, d: int, params: dict[str, Any]) -> None:
        self.d = d
        self.params = {k: _jsonable(v) for k, v in params.items()}

    def _freeze(self) -> None:
        object.__setattr__(self, "_is_frozen", True)

    def __setattr__(self, key: str, value: Any) -> None:
        if getattr(self, "_is_frozen", False):
            raise AttributeError(f"{type(self).__name__} is immutable; cannot set {key!r}")
        object.__setattr__(self, key, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, d={self.d}, params={self.params})"

    # -- d-dimensional interface
    @property
    def mean(self) -> np.ndarray:
        """Exact population mean, shape ``(d,)``."""
        return self._mean

    @property
    def cov(self) -> np.ndarray:
        """Exact population covariance, shape ``(d, d)``."""
        return self._cov

    @property
    def support(self) -> Box | Ball | None:
        """``None`` for all of :math:`\\mathbb{R}^d`, else a :class:`Box` or :class:`Ball`."""
        return None

    def _points(self, x: Any) -> tuple[np.ndarray, bool]:
        arr = np.asarray(x, dtype=float)
        if arr.ndim == 2 and arr.shape[1] == self.d:
            return arr, False
        if (arr.ndim == 1 and arr.shape[0] == self.d) or (arr.ndim == 0 and self.d == 1):
            return arr.reshape(1, self.d), True
        raise ValueError(f"x must have shape (n, {self.d}) or ({self.d},), got shape {arr.shape}")

    def sample(self, n: int, seed: SeedLike = None) -> np.ndarray:
        """Draw ``n`` i.i.d. points.

        Parameters
        ----------
        n : int
            Number of samples, ``n >= 0``.
        seed : int, numpy.random.Generator or None, default None
            Randomness; see :func:`vqmatch.simulations.core.seeding.as_generator`.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, d)``, float64.
        """
        n = check_int(n, "n", minimum=0)
        return np.asarray(self._sample(n, as_generator(seed)), dtype=np.float64)

    def logpdf(self, x: Any) -> np.ndarray | float:
        """Log-density at the points ``x`` of shape ``(n, d)`` -> ``(n,)``, or ``(d,)`` -> float.

        Points outside the support give ``-inf``.
        """
        pts, single = self._points(x)
        out = self._logpdf(pts)
        return float(out[0]) if single else out

    def contains(self, x: Any) -> np.ndarray | bool:
        """Support membership of ``x`` (shape ``(n, d)`` -> ``(n,)`` bool, ``(d,)`` -> bool)."""
        pts, single = self._points(x)
        sup = self.support
        out = np.all(np.isfinite(pts), axis=1) if sup is None else sup.contains(pts)
        return bool(out[0]) if single else out

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _logpdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- 1-D interface (elementwise over arrays of any shape; d == 1 only)
    def _one_d(self, what: str) -> None:
        if self.d != 1:
            raise ValueError(f"{what} is only defined for d == 1 sources, got d={self.d}")

    def _elementwise(self, what: str, fun: Any, *args: Any) -> np.ndarray | float:
        self._one_d(what)
        arrs = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
        out = np.asarray(fun(*arrs), dtype=float)
        return float(out) if out.ndim == 0 else out

    def _probabilities(self, q: Any) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        bad = ~((q >= 0) & (q <= 1))
        if np.any(bad):
            raise ValueError(f"q must lie in [0, 1], got q={q[bad].ravel()[:5].tolist()}")
        return q

    def pdf(self, x: Any) -> np.ndarray | float:
        """Density of a 1-D source, elementwise (``exp(logpdf)`` on scalars)."""
        return self._elementwise("pdf", lambda v: np.exp(self._logpdf1(v)), x)

    def cdf(self, x: Any) -> np.ndarray | float:
        """:math:`P(X \\le x)` of a 1-D source, elementwise."""
        return self._elementwise("cdf", self._cdf1, x)

    def sf(self, x: Any) -> np.ndarray | float:
        """Survival function :math:`P(X > x)`, elementwise (accurate in the upper tail)."""
        return self._elementwise("sf", self._sf1, x)

    def ppf(self, q: Any) -> np.ndarray | float:
        """Quantile function, inverse of :meth:`cdf`; ``q`` in [0, 1]."""
        return self._elementwise("ppf", lambda v: self._ppf1(self._probabilities(v)), q)

    def isf(self, q: Any) -> np.ndarray | float:
        """Inverse survival function, ``isf(q) = ppf(1 - q)`` without the rounding of ``1 - q``."""
        return self._elementwise("isf", lambda v: self._isf1(self._probabilities(v)), q)

    def mass(self, a: Any, b: Any) -> np.ndarray | float:
        """:math:`P(a < X < b)` (0 when ``a >= b``); ``a, b`` broadcast, may be infinite."""
        return self._elementwise("mass", lambda u, v: self._partial1(0, u, v), a, b)

    def first_moment(self, a: Any, b: Any) -> np.ndarray | float:
        """:math:`E[X 1\\{a < X < b\\}]` (0 when ``a >= b``), elementwise."""
        return self._elementwise("first_moment", lambda u, v: self._partial1(1, u, v), a, b)

    def second_moment(self, a: Any, b: Any) -> np.ndarray | float:
        """:math:`E[X^2 1\\{a < X < b\\}]` (0 when ``a >= b``), elementwise."""
        return self._elementwise("second_moment", lambda u, v: self._partial1(2, u, v), a, b)


class _LocScale1D(Source):
    """1-D interface of :math:`X = \\mu + s Z` with :math:`Z` from a symmetric family."""

    def _loc_scale(self) -> tuple[_Family, float, float]:
        raise NotImplementedError

    def _logpdf1(self, x: np.ndarray) -> np.ndarray:
        fam, mu, s = self._loc_scale()
        return fam.logpdf((x - mu) / s) - math.log(s)

    def _cdf1(self, x: np.ndarray) -> np.ndarray:
        fam, mu, s = self._loc_scale()
        return fam.cdf((x - mu) / s)

    def _sf1(self, x: np.ndarray) -> np.ndarray:
        fam, mu, s = self._loc_scale()
        return fam.cdf((mu - x) / s)

    def _ppf1(self, q: np.ndarray) -> np.ndarray:
        fam, mu, s = self._loc_scale()
        return mu + s * fam.ppf(q)

    def _isf1(self, q: np.ndarray) -> np.ndarray:
        fam, mu, s = self._loc_scale()
        return mu - s * fam.ppf(q)

    def _partial1(self, k: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        r""":math:`E[(\mu + sZ)^k 1\{\alpha < Z < \beta\}]` expanded in the standard moments."""
        fam, mu, s = self._loc_scale()
        return _loc_scale_partial(fam, k, mu, s, a, b)


# --------------------------------------------------------------------------------------- sources
class GaussianSource(_LocScale1D):
    r"""Multivariate normal :math:`N(\mu, \Sigma)`; :math:`\Sigma` PSD (PD for ``logpdf``)."""

    name = "gaussian"

    def __init__(self, d: int, *, mean: Any = 0.0, cov: Any = 1.0) -> None:
        super().__init__(d, {"mean": mean, "cov": cov})
        self._mean = _vector(mean, d, "mean")
        self._cov = _covariance(cov, d, "cov")
        self._chol, self._pd = _sqrt_factor(self._cov)
        self._freeze()

    def _require_pd(self) -> None:
        if not self._pd:
            raise ValueError("cov must be positive definite for densities, got a singular cov")

    def _loc_scale(self) -> tuple[_Family, float, float]:
        self._require_pd()
        return _Normal(), float(self._mean[0]), math.sqrt(self._cov[0, 0])

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._mean + rng.standard_normal((n, self.d)) @ self._chol.T

    def _logpdf(self, x: np.ndarray) -> np.ndarray:
        self._require_pd()
        return _mvn_logpdf(x, self._mean, self._chol)


class _IIDSource(_LocScale1D):
    """Independent coordinates :math:`X_j = \\mathrm{loc}_j + \\mathrm{scale}_j Z_j`."""

    def _setup(self, fam: _Family, loc: Any, scale: Any) -> None:
        self._fam = fam
        self._loc = _vector(loc, self.d, "loc")
        self._scale = _vector(scale, self.d, "scale", positive=True)
        self._mean = self._loc
        self._cov = _frozen(np.diag(fam.var * self._scale**2))
        self._freeze()

    def _loc_scale(self) -> tuple[_Family, float, float]:
        return self._fam, float(self._loc[0]), float(self._scale[0])

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._loc + self._scale * self._fam.sample(rng, (n, self.d))

    def _logpdf(self, x: np.ndarray) -> np.ndarray:
        z = (x - self._loc) / self._scale
        return np.sum(self._fam.logpdf(z) - np.log(self._scale), axis=1)


class LaplaceSource(_IIDSource):
    r"""I.i.d. Laplace coordinates, density :math:`\frac{1}{2s} e^{-|x - \mathrm{loc}|/s}`."""

    name = "laplace"

    def __init__(self, d: int, *, loc: Any = 0.0, scale: Any = 1.0) -> None:
        super().__init__(d, {"loc": loc, "scale": scale})
        self._setup(_Laplace(), loc, scale)


class StudentTSource(_IIDSource):
    r"""I.i.d. Student-t coordinates with ``df`` > 2 degrees of freedom.

    ``df > 2`` is required so that :math:`E\|Z\|^2 < \infty`; Theorem 2 of the paper needs
    :math:`E\|Z\|^{2+\delta} < \infty`, which holds for any :math:`\delta < \mathrm{df} - 2`.
    """

    name = "student_t"

    def __init__(self, d: int, *, df: float = 5.0, loc: Any = 0.0, scale: Any = 1.0) -> None:
        super().__init__(d, {"df": df, "loc": loc, "scale": scale})
        if isinstance(df, bool) or not isinstance(df, (int, float, np.integer, np.floating)) \
                or not math.isfinite(df) or df <= 2:
            raise ValueError(
                f"df must be a finite number > 2 (finite second moment, needed by Theorem 2's "
                f"E||Z||^(2+delta) < inf), got df={df!r}"
            )
        self._setup(_StudentT(float(df)), loc, scale)


class _UniformBase(Source):
    name = "uniform"

    def _interval(self) -> tuple[float, float]:
        raise NotImplementedError

    def _logpdf1(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self._interval()
        with np.errstate(divide="ignore"):
            return np.where((x >= lo) & (x <= hi), -math.log(hi - lo), -np.inf)

    def _cdf1(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self._interval()
        return np.clip((x - lo) / (hi - lo), 0.0, 1.0)

    def _sf1(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self._interval()
        return np.clip((hi - x) / (hi - lo), 0.0, 1.0)

    def _ppf1(self, q: np.ndarray) -> np.ndarray:
        lo, hi = self._interval()
        return lo + q * (hi - lo)

    def _isf1(self, q: np.ndarray) -> np.ndarray:
        lo, hi = self._interval()
        return hi - q * (hi - lo)

    def _partial1(self, k: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        lo, hi = self._interval()
        u, v = np.clip(a, lo, hi), np.clip(b, lo, hi)
        poly = (1.0, (u + v) / 2, (u * u + u * v + v * v) / 3)[k]
        return np.where(u < v, (v - u) * poly / (hi - lo), np.where(np.isnan(u + v), np.nan, 0.0))


class UniformCubeSource(_UniformBase):
    r"""Uniform on the box :math:`\prod_j [\mathrm{low}_j, \mathrm{high}_j]`."""

    def __init__(self, d: int, *, low: Any = -1.0, high: Any = 1.0) -> None:
        super().__init__(d, {"shape": "cube", "low": low, "high": high})
        self._low, self._high = _vector(low, d, "low"), _vector(high, d, "high")
        if np.any(self._high <= self._low):
            raise ValueError(f"high must exceed low elementwise, got low={low!r}, high={high!r}")
        self._mean = _frozen((self._low + self._high) / 2)
        self._cov = _frozen(np.diag((self._high - self._low) ** 2 / 12))
        self._freeze()

    @property
    def support(self) -> Box:
        return Box(tuple(self._low.tolist()), tuple(self._high.tolist()))

    def _interval(self) -> tuple[float, float]:
        return float(self._low[0]), float(self._high[0])

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._low + (self._high - self._low) * rng.random((n, self.d))

    def _logpdf(self, x: np.ndarray) -> np.ndarray:
        inside = self.support.contains(x)
        return np.where(inside, -np.sum(np.log(self._high - self._low)), -np.inf)


class UniformBallSource(_UniformBase):
    r"""Uniform on the ball :math:`\{\|x - c\| \le r\}`; covariance :math:`r^2 I / (d + 2)`."""

    def __init__(self, d: int, *, center: Any = 0.0, radius: float = 1.0) -> None:
        super().__init__(d, {"shape": "ball", "center": center, "radius": radius})
        self._center = _vector(center, d, "center")
        self._radius = float(_vector(radius, 1, "radius", positive=True)[0])
        self._mean = self._center
        self._cov = _frozen(np.eye(d) * self._radius**2 / (d + 2))
        self._freeze()

    @property
    def support(self) -> Ball:
        return Ball(tuple(self._center.tolist()), self._radius)

    def _interval(self) -> tuple[float, float]:
        c = float(self._center[0])
        return c - self._radius, c + self._radius

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        # Exact: uniform direction times radius * U^(1/d).
        g = rng.standard_normal((n, self.d))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        return self._center + g * (self._radius * rng.random((n, 1)) ** (1.0 / self.d))

    def _logpdf(self, x: np.ndarray) -> np.ndarray:
        d = self.d
        log_vol = 0.5 * d * math.log(math.pi) - special.gammaln(d / 2 + 1) + d * math.log(
            self._radius)
        return np.where(self.support.contains(x), -log_vol, -np.inf)


def _make_uniform(d: int, *, shape: str = "cube", **params: Any) -> Source:
    if shape == "cube":
        return UniformCubeSource(d, **params)
    if shape == "ball":
        return UniformBallSource(d, **params)
    raise ValueError(f"shape must be 'cube' or 'ball', got shape={shape!r}")


class GaussianMixtureSource(Source):
    r"""Finite Gaussian mixture :math:`\sum_j w_j N(\mu_j, \Sigma_j)`.

    ``separation=z`` alone gives :math:`\tfrac12 N(z\mathbf{1}, I) + \tfrac12 N(-z\mathbf{1}, I)`.
    """

    name = "gaussian_mixture"

    def __init__(self, d: int, *, means: Any = None, covs: Any = 1.0, weights: Any = None,
                 separation: float | None = None) -> None:
        if separation is not None:
            if means is not None or weights is not None or not np.isscalar(covs) or covs != 1.0:
                raise ValueError("separation cannot be combined with means, covs or weights, "
                                 f"got separation={separation!r}")
            z = float(_vector(separation, 1, "separation")[0])
            super().__init__(d, {"separation": separation})
            means, covs, weights = np.array([[z] * d, [-z] * d]), 1.0, [0.5, 0.5]
        else:
            super().__init__(d, {"means": means, "covs": covs, "weights": weights})
        if means is None:
            raise ValueError("means is required (shape (m, d)) unless separation is given, "
                             "got means=None")
        mu = np.asarray(means, dtype=float)
        if d == 1 and mu.ndim == 1:
            mu = mu[:, None]
        if mu.ndim != 2 or mu.shape[1] != d or mu.shape[0] < 1 or not np.all(np.isfinite(mu)):
            raise ValueError(f"means must be a finite (m, {d}) array, got shape {mu.shape}")
        m = mu.shape[0]
        c = np.asarray(covs, dtype=float)
        if c.ndim == 0 or c.shape == (m,):
            covs_list = [_covariance(v, d, "covs") for v in np.broadcast_to(c, (m,))]
        elif c.shape == (m, d, d):
            covs_list = [_covariance(v, d, "covs") for v in c]
        else:
            raise ValueError(
                f"covs must be a scalar, ({m},) or ({m}, {d}, {d}), got shape {c.shape}")
        w = np.full(m, 1.0 / m) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (m,) or not np.all(np.isfinite(w)) or np.any(w < 0) \
                or abs(float(np.sum(w)) - 1.0) > 1e-9:
            raise ValueError(f"weights must be {m} non-negative numbers summing to 1, "
                             f"got weights={_jsonable(weights)}")
        self._means, self._covs = _frozen(mu), _frozen(np.stack(covs_list))
        self._weights = _frozen(w / np.sum(w))
        factors = [_sqrt_factor(cj) for cj in covs_list]
        self._chols = [f[0] for f in factors]
        self._pd = all(f[1] for f in factors)
        self._mean = _frozen(self._weights @ mu)
        dev = mu - self._mean
        self._cov = _frozen(np.einsum("j,jab->ab", self._weights, self._covs)
                            + np.einsum("j,ja,jb->ab", self._weights, dev, dev))
        self._freeze()

    def _require_pd(self) -> None:
        if not self._pd:
            raise ValueError("covs must be positive definite for densities, got a singular one")

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        labels = rng.choice(len(self._weights), size=n, p=self._weights)
        z = rng.standard_normal((n, self.d))
        out = np.empty((n, self.d))
        for j, chol in enumerate(self._chols):
            idx = labels == j
            out[idx] = self._means[j] + z[idx] @ chol.T
        return out

    def _logpdf(self, x: np.ndarray) -> np.ndarray:
        self._require_pd()
        comps = [_mvn_logpdf(x, mj, cj) for mj, cj in zip(self._means, self._chols, strict=True)]
        with np.errstate(divide="ignore"):
            return np.logaddexp.reduce(np.stack(comps) + np.log(self._weights)[:, None], axis=0)

    # 1-D interface: weighted sums over Gaussian components.
    def _components(self) -> list[tuple[float, float, float]]:
        self._require_pd()
        return [(float(w), float(m[0]), math.sqrt(c[0, 0]))
                for w, m, c in zip(self._weights, self._means, self._covs, strict=True)]

    def _logpdf1(self, x: np.ndarray) -> np.ndarray:
        fam = _Normal()
        with np.errstate(divide="ignore"):
            terms = [math.log(w) + fam.logpdf((x - mu) / s) - math.log(s)
                     for w, mu, s in self._components()]
        return np.logaddexp.reduce(np.stack(terms), axis=0)

    def _cdf1(self, x: np.ndarray) -> np.ndarray:
        return sum(w * _Normal().cdf((x - mu) / s) for w, mu, s in self._components())

    def _sf1(self, x: np.ndarray) -> np.ndarray:
        return sum(w * _Normal().cdf((mu - x) / s) for w, mu, s in self._components())

    def _partial1(self, k: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        fam = _Normal()
        return sum(w * _loc_scale_partial(fam, k, mu, s, a, b) for w, mu, s in self._components())

    def _invert(self, q: np.ndarray, upper: bool) -> np.ndarray:
        """Safeguarded Newton (bisection fallback) for ``cdf(x) = q``, or ``sf(x) = q`` if upper."""
        comps, shape, q = self._components(), np.shape(q), np.reshape(q, -1)
        flip = q > 0.5  # solve the other tail's equation on 1 - q (exact for q >= 1/2)
        upper_eq = flip != upper
        target = np.where(flip, 1 - q, q)
        z = special.ndtri(target)  # the component quantiles bracket the mixture quantile
        ends = [np.where(upper_eq, mu - s * z, mu + s * z) for _, mu, s in comps]
        lo, hi = np.min(ends, axis=0), np.max(ends, axis=0)
        floor = 8 * np.finfo(float).eps * max(s for _, _, s in comps)  # rounding level of x
        sign = np.where(upper_eq, -1.0, 1.0)
        log_w = np.log([w for w, _, _ in comps])[:, None]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            x = 0.5 * (lo + hi)
            for _ in range(200):
                # Newton on h = +-(log F - log q) (F = cdf, or sf if upper_eq), increasing in x
                zs = np.stack([sign * (x - mu) / s for _, mu, s in comps])
                log_tail = np.logaddexp.reduce(log_w + special.log_ndtr(zs), axis=0)
                h = sign * (log_tail - np.log(target))
                lo, hi = np.where(h < 0, x, lo), np.where(h > 0, x, hi)
                newton = x - h * np.exp(log_tail - self._logpdf1(x))  # dh/dx = f / F
                done = np.abs(newton - x) <= 8 * np.finfo(float).eps * np.abs(x) + floor
                inside = done | ((newton > lo) & (newton < hi))
                x = np.where(inside, newton, 0.5 * (lo + hi))
                if np.all(done | ~np.isfinite(x)):
                    break
        return np.where(target == 0, np.where(upper_eq, np.inf, -np.inf), x).reshape(shape)

    def _ppf1(self, q: np.ndarray) -> np.ndarray:
        return self._invert(q, upper=False)

    def _isf1(self, q: np.ndarray) -> np.ndarray:
        return self._invert(q, upper=True)


_REGISTRY = {
    "gaussian": GaussianSource,
    "uniform": _make_uniform,
    "laplace": LaplaceSource,
    "student_t": StudentTSource,
    "gaussian_mixture": GaussianMixtureSource,
}


def make_source(name: str, d: int, **params: Any) -> Source:
    r"""Build a source by name.

    Parameters
    ----------
    name : str
        One of ``"gaussian"``, ``"uniform"``, ``"laplace"``, ``"student_t"``,
        ``"gaussian_mixture"``.
    d : int
        Dimension, a positive integer.
    **params
        Family parameters (scalars broadcast to all coordinates):

        * ``gaussian``: ``mean`` (scalar or ``(d,)``, default 0), ``cov`` (scalar variance,
          ``(d,)`` diagonal or ``(d, d)`` symmetric PSD matrix, default 1 = identity).
        * ``uniform``: ``shape="cube"`` with ``low``, ``high`` (scalar or ``(d,)``, default
          -1, 1), or ``shape="ball"`` with ``center`` (default 0) and ``radius`` (default 1).
        * ``laplace``: ``loc`` (default 0), ``scale`` (default 1), i.i.d. coordinates.
        * ``student_t``: ``df`` > 2 (default 5), ``loc`` (default 0), ``scale`` (default 1).
        * ``gaussian_mixture``: ``means`` ``(m, d)``, ``covs`` (scalar, ``(m,)`` isotropic
          variances or ``(m, d, d)``, default 1), ``weights`` ``(m,)`` summing to 1 (default
          equal); or only ``separation=z`` for
          :math:`\tfrac12 N(z\mathbf{1}, I) + \tfrac12 N(-z\mathbf{1}, I)`.

    Returns
    -------
    Source
        Immutable source object.

    Raises
    ------
    ValueError
        Unknown ``name``, non-positive ``d`` or invalid parameter values.
    TypeError
        Unknown parameter names.
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"name must be one of {', '.join(SOURCE_NAMES)}; got name={name!r}")
    return _REGISTRY[name](check_int(d, "d"), **params)
