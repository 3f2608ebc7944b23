r"""Exact W2 between non-Gaussian laws in any dimension, for the ``w2`` study.

The truth for non-Gaussian pairs comes from the 1-D quantile formula

.. math::
    W_2^2(\mu, \nu) = \int_0^1 \big(F_\mu^{-1}(u) - F_\nu^{-1}(u)\big)^2\, du
    \qquad (\mu, \nu \text{ on } \mathbb R),

(the monotone rearrangement is the optimal coupling on the line), evaluated by adaptive quadrature
(``scipy.integrate.quad``) on :math:`(0, \tfrac12]` with the quantile functions and on
:math:`[\tfrac12, 1)` with the inverse survival functions (so the upper tail is not rounded through
:math:`1 - u`); heavy tails give an integrable endpoint singularity, which QAGS extrapolates, and
its error estimate is returned alongside the value.

It is carried to d dimensions by two exact facts:

* **Products.** For :math:`P = \otimes_j P_j`, :math:`Q = \otimes_j Q_j`,
  :math:`W_2^2(P, Q) = \sum_j W_2^2(P_j, Q_j)`. Upper bound: the product of the 1-D optimal couplings
  is a coupling of :math:`P` and :math:`Q` with cost :math:`\sum_j W_2^2(P_j, Q_j)`. Lower bound: for
  any coupling :math:`\gamma` of :math:`P, Q`, its :math:`(X_j, Y_j)` marginal couples
  :math:`P_j` and :math:`Q_j`, so :math:`E_\gamma\|X - Y\|^2 = \sum_j E_\gamma(X_j - Y_j)^2 \ge
  \sum_j W_2^2(P_j, Q_j)`.
* **Rotations.** For an orthogonal :math:`R`, :math:`W_2(R_\# P, R_\# Q) = W_2(P, Q)`: couplings are
  mapped one-to-one by :math:`(x, y) \mapsto (Rx, Ry)` and :math:`\|Rx - Ry\| = \|x - y\|`.

A :class:`ProductLaw` has coordinates :math:`X_j = s_j (A_j + \delta)` with :math:`A_j` i.i.d. from
a 1-D source, then a common rotation; for two such laws with proportional scale profiles
(:math:`s^Y = c\, s^X`) and the same rotation, :math:`W_2^2 = \sum_j s_j^2\,
W_2^2(A + \delta_X, c(B + \delta_Y))`: one quadrature, whatever d. The rotation makes the two laws'
coordinates correlated and their covariances full matrices, so nothing about the estimators is
axis-aligned.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np

from vqmatch.theory import gaussian_w2

from ...core.seeding import SeedLike, as_generator, as_seed_sequence, child_generator
from ...sources import haar_rotation, make_source, random_pair, random_spd


@dataclass(frozen=True)
class Affine1D:
    """The 1-D law of ``scale * (A + shift)`` for a 1-D source ``A`` and ``scale > 0``."""

    base: object  # a d = 1 vqmatch.simulations.sources.Source
    scale: float = 1.0
    shift: float = 0.0

    def ppf(self, u: float) -> float:
        return self.scale * (float(self.base.ppf(u)) + self.shift)

    def isf(self, u: float) -> float:
        return self.scale * (float(self.base.isf(u)) + self.shift)


def quantile_w2sq(a: Affine1D, b: Affine1D) -> tuple[float, float]:
    r""":math:`W_2^2` between two 1-D laws by the quantile formula; returns ``(value, error bound)``.

    ``quad`` on :math:`(0, 1/2]` with ``ppf`` and on the mirrored upper half with ``isf``; the error
    bound is the sum of quad's two absolute error estimates.
    """
    from scipy import integrate

    total, err = 0.0, 0.0
    with warnings.catch_warnings():  # quad's round-off warnings: the error bound below says it
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for q_a, q_b in ((a.ppf, b.ppf), (a.isf, b.isf)):
            val, e = integrate.quad(lambda u, q_a=q_a, q_b=q_b: (q_a(u) - q_b(u)) ** 2, 0.0, 0.5,
                                    limit=200, epsabs=1e-12, epsrel=1e-10)
            total += val
            err += e
    if err > 1e-6 * max(total, 1e-12):
        warnings.warn(f"quantile quadrature did not converge: W2^2 = {total:.6g} +- {err:.2g}",
                      RuntimeWarning, stacklevel=2)
    return total, err


def default_scales(d: int) -> np.ndarray:
    """Coordinate scales log-spaced in [1/2, 2] (1 in d = 1): an anisotropic covariance."""
    return np.geomspace(0.5, 2.0, d) if d > 1 else np.ones(1)


@dataclass(frozen=True)
class ProductLaw:
    r"""The law of :math:`R\,(s \odot (A + \delta))`, :math:`A` with i.i.d. coordinates of ``base``."""

    base: object  # d = 1 source
    scales: np.ndarray  # (d,)
    shift: float
    rotation: np.ndarray  # (d, d) orthogonal

    @property
    def d(self) -> int:
        return int(self.scales.shape[0])

    def sample(self, n: int, seed: SeedLike = None) -> np.ndarray:
        a = self.base.sample(n * self.d, seed=as_generator(seed)).reshape(n, self.d)
        return ((a + self.shift) * self.scales) @ self.rotation.T

    @property
    def mean(self) -> np.ndarray:
        return self.rotation @ (self.scales * (float(self.base.mean[0]) + self.shift))

    @property
    def cov(self) -> np.ndarray:
        var = float(self.base.cov[0, 0])
        return (self.rotation * (var * self.scales**2)) @ self.rotation.T


def product_pair_w2sq(x: ProductLaw, y: ProductLaw) -> tuple[float, float]:
    """Exact W2^2 (and quadrature error bound) between two product laws with proportional scale
    profiles and the same rotation (see the module docstring)."""
    if x.d != y.d or not np.allclose(x.rotation, y.rotation, rtol=0, atol=1e-12):
        raise ValueError("x and y must share the dimension and the rotation")
    ratio = y.scales / x.scales
    if not np.allclose(ratio, ratio[0], rtol=1e-12, atol=0):
        raise ValueError(f"y.scales must be proportional to x.scales, got ratios {ratio[:5]}")
    w1, err = quantile_w2sq(Affine1D(x.base, 1.0, x.shift), Affine1D(y.base, float(ratio[0]),
                                                                       y.shift))
    s2 = float(np.sum(x.scales**2))
    return s2 * w1, s2 * err


# ---------------------------------------------------------------------------------------------
# the 1-D building blocks (all of unit variance before scaling)


def base_source(label: str, **kw):
    """A unit-variance 1-D source by label: ``uniform``, ``laplace``, ``t<df>``, ``gaussian``,
    ``bimodal`` (``0.5 N(-z, 1) + 0.5 N(z, 1)``, variance 1 + z^2, z = ``separation``) or
    ``gaussian`` with a variance (``var``)."""

    if label == "uniform":
        h = math.sqrt(3.0)
        return make_source("uniform", 1, low=-h, high=h)
    if label == "laplace":
        return make_source("laplace", 1, scale=1 / math.sqrt(2.0))
    if label.startswith("t"):
        df = float(label[1:])
        return make_source("student_t", 1, df=df, scale=math.sqrt((df - 2) / df))
    if label == "gaussian":
        return make_source("gaussian", 1, cov=float(kw.get("var", 1.0)))
    if label == "bimodal":
        z = float(kw["separation"])
        return make_source("gaussian_mixture", 1, means=[[-z], [z]], covs=1.0, weights=[0.5, 0.5])
    raise ValueError(f"label must be uniform, laplace, t<df>, gaussian or bimodal, got {label!r}")


def bimodal_excess_kurtosis(z: float) -> float:
    """Excess kurtosis of 0.5 N(-z, 1) + 0.5 N(z, 1): -2 z^4 / (1 + z^2)^2 (0 at z = 0)."""
    return -2 * z**4 / (1 + z * z) ** 2


def gaussian_sliced_w2sq(m_s, c_s, m_t, c_t, *, n_directions: int, seed: SeedLike) -> tuple[float,
                                                                                          float]:
    r"""Population sliced :math:`SW_2^2` between two Gaussians, directions uniform on the sphere.

    Each projection is a pair of 1-D Gaussians, so :math:`W_2^2(\theta_\#P, \theta_\#Q) =
    (\theta\cdot\Delta m)^2 + (\sqrt{\theta^\top\Sigma_s\theta} - \sqrt{\theta^\top\Sigma_t\theta})^2`
    exactly; the mean term averages to :math:`\|\Delta m\|^2/d` exactly and the covariance term is
    averaged over ``n_directions`` random directions. Returns ``(value, Monte Carlo stderr)``.
    """
    rng = as_generator(seed)
    d = len(m_s)
    theta = rng.standard_normal((n_directions, d))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    v_s = np.einsum("li,ij,lj->l", theta, c_s, theta)
    v_t = np.einsum("li,ij,lj->l", theta, c_t, theta)
    cov_term = (np.sqrt(np.maximum(v_s, 0)) - np.sqrt(np.maximum(v_t, 0))) ** 2
    dm = np.asarray(m_s) - np.asarray(m_t)
    return float(dm @ dm / d + cov_term.mean()), float(cov_term.std(ddof=1) / math.sqrt(n_directions))


# ---------------------------------------------------------------------------------------------
# the pairs of laws of the w2 study (see :mod:`.cells`), each with its exact W2

GAUSSIAN_PAIRS = ("gauss_shift", "gauss_same")
# label -> (features base, target base); bases have unit variance except the bimodal pair's
PRODUCT_PAIRS = {"uniform_laplace": ("uniform", "laplace"), "t4_gauss": ("t4", "gaussian"),
                 "bimodal_gauss": ("bimodal", "gaussian")}
PAIRS = GAUSSIAN_PAIRS + tuple(PRODUCT_PAIRS)


@dataclass(frozen=True)
class Pair:
    """Two laws (``sample(n, seed)``, ``mean``, ``cov``) and their exact W2."""

    label: str
    p: object
    q: object
    truth: float  # exact W2
    truth_error: float  # bound on the quadrature error of truth (W2 scale); 0 for Gaussians
    closed_form_true: float  # Lemma 3 on the true moments
    sliced_target: float | None  # population sqrt(d) SW2 (Gaussian pairs), else None
    sliced_target_stderr: float | None


@functools.lru_cache(maxsize=64)
def cached_quantile_w2sq(a_label: str, a_kw: tuple, b_label: str, b_kw: tuple, ratio: float,
                          shift_a: float, shift_b: float) -> tuple[float, float]:
    a = base_source(a_label, **dict(a_kw))
    b = base_source(b_label, **dict(b_kw))
    return quantile_w2sq(Affine1D(a, 1.0, shift_a),
                                   Affine1D(b, ratio, shift_b))


def product_truth(x: ProductLaw, y: ProductLaw, keys) -> tuple[float, float]:
    """Exact W2 (and its error bound) between product laws; the 1-D quadrature is cached by
    ``keys = ((label, kw), (label, kw))`` so each d costs nothing extra."""
    if not np.allclose(x.rotation, y.rotation, rtol=0, atol=1e-12):
        raise ValueError("x and y must share the rotation")
    ratio = y.scales / x.scales
    if not np.allclose(ratio, ratio[0], rtol=1e-12, atol=0):
        raise ValueError("y.scales must be proportional to x.scales")
    (la, ka), (lb, kb) = keys
    w1, err = cached_quantile_w2sq(la, tuple(sorted(ka.items())), lb, tuple(sorted(kb.items())),
                                    float(ratio[0]), float(x.shift), float(y.shift))
    s2 = float(np.sum(x.scales**2))
    w2sq = s2 * w1
    return math.sqrt(w2sq), s2 * err / (2 * math.sqrt(w2sq)) if w2sq > 0 else math.sqrt(s2 * err)


def _product_law(label, kw, d, scales, shift, rotation):
    return ProductLaw(base_source(label, **kw), scales, shift, rotation)


def make_pair(label: str, d: int, seed, *, shift: float, bimodal_separation: float,
              sliced_truth_directions: int) -> Pair:
    """The pair ``label`` in dimension d (random parts drawn from ``child(seed, 0)`` and the sliced
    truth's directions from ``child(seed, 1)``; cached, since every replicate of a cell asks)."""
    ss = as_seed_sequence(seed)
    return _make_pair(label, d, ss.entropy, tuple(ss.spawn_key), float(shift),
                      float(bimodal_separation), int(sliced_truth_directions))


@functools.lru_cache(maxsize=64)
def _make_pair(label: str, d: int, entropy, spawn_key: tuple, shift: float,
               bimodal_separation: float, sliced_truth_directions: int) -> Pair:
    seed = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    rng_pair, rng_dirs = child_generator(seed, 0), child_generator(seed, 1)
    if label in GAUSSIAN_PAIRS:
        if label == "gauss_shift":
            m_s, c_s, m_t, c_t = random_pair(rng_pair, d)
        else:
            m_s = m_t = np.zeros(d)
            c_s = c_t = random_spd(rng_pair, d)
        p, q = make_source("gaussian", d, mean=m_s, cov=c_s), make_source("gaussian", d, mean=m_t,
                                                                        cov=c_t)
        w2 = float(gaussian_w2(m_s, c_s, m_t, c_t))
        sw2sq, sw_se = gaussian_sliced_w2sq(m_s, c_s, m_t, c_t,
                                                      n_directions=sliced_truth_directions,
                                                      seed=rng_dirs)
        target = math.sqrt(d * sw2sq)
        return Pair(label, p, q, w2, 0.0, w2, target,
                    d * sw_se / (2 * target) if target > 0 else math.sqrt(d * sw_se))
    if label not in PRODUCT_PAIRS:
        raise ValueError(f"label must be one of {PAIRS}, got label={label!r}")
    a, b = PRODUCT_PAIRS[label]
    ka = {"separation": bimodal_separation} if a == "bimodal" else {}
    kb = {"var": 1 + bimodal_separation**2} if a == "bimodal" else {}
    rot = haar_rotation(rng_pair, d)
    scales = default_scales(d)
    p = _product_law(a, ka, d, scales, 0.0, rot)
    q = _product_law(b, kb, d, scales, shift, rot)
    w2, err = product_truth(p, q, ((a, ka), (b, kb)))
    cf = float(gaussian_w2(p.mean, p.cov, q.mean, q.cov))
    return Pair(label, p, q, w2, err, cf, None, None)


def misrank_laws(d: int, seed, *, separation: float, scale: float, shift: float):
    """Features F (bimodal product, rotated), codebook law A (the Gaussian with F's moments) and
    codebook law B (F scaled by ``scale`` and shifted by ``shift``): ``(F, A, B, keys_A, keys_B)``;
    the rotation is drawn from ``child(seed, 0)``."""
    rot = haar_rotation(child_generator(seed, 0), d)
    scales = default_scales(d)
    kf, ka = {"separation": separation}, {"var": 1 + separation**2}
    f = _product_law("bimodal", kf, d, scales, 0.0, rot)
    a = _product_law("gaussian", ka, d, scales, 0.0, rot)
    b = _product_law("bimodal", kf, d, scale * scales, shift, rot)
    return f, a, b, (("bimodal", kf), ("gaussian", ka)), (("bimodal", kf), ("bimodal", kf))


