r"""A priori round-off bounds for the Gaussian W2 and the training loss, derived from the operations
they perform; the tolerance tests of ``tests/theory`` compare against these and nothing fitted.

Every bound is a worst-case bound in the standard model of floating-point arithmetic,
:math:`\mathrm{fl}(a \circ b) = (a \circ b)(1 + \theta)`, :math:`|\theta| \le u` (the unit round-off,
half the machine epsilon), with :math:`\gamma_k = k u / (1 - k u)` (Higham, *Accuracy and Stability of
Numerical Algorithms*, 2nd ed., 2002, §3.1). A sum of :math:`n` terms computed in *any* order, with
or without fused multiply-adds, in any blocking or split over threads, is within
:math:`\gamma_{n-1} \sum |a_i|` of the exact sum (Higham §4.2): so the bounds below hold for every BLAS
kernel, vector width and thread count, which a constant fitted to the round-off of one machine does
not.

Moments formed in the input dtype (:func:`moment_bounds`). The values the moments are formed from
are :math:`\hat y = y + \Delta` with :math:`|\Delta| \le p` entrywise (``p``: how the caller's data
was rounded: a cast, a shift, a rotation; plus the loss's division by its scale). Then

* mean: :math:`|\hat m - m(y)| \le \bar p + \gamma_n\,\overline{|y| + p}` (the bar: mean over rows);
* covariance: with the exact centred values :math:`c = y - m(y)`, :math:`D = \Delta - \bar\Delta`,
  :math:`|D| \le q = p + \bar p`, and the computed mean's error :math:`\delta`, the centred values
  formed are :math:`(c + D - \delta)(1 + \theta)`; the sums :math:`\sum_i c_i = \sum_i D_i = 0` make
  the cross terms with :math:`\delta` vanish, so that

  .. math::
      (n-1)\,|\hat C - C(y)| \le |c|^\top q + q^\top |c| + q^\top q + n\,|\delta||\delta|^\top
          + \gamma_{n+3}\,e^\top e, \qquad e = |c| + q + |\delta|

  (:math:`\gamma_2` from the centring and the product, :math:`\gamma_n` from the sum over rows,
  :math:`u` from the division, combined by :math:`\gamma_a + \gamma_b + \gamma_a\gamma_b \le
  \gamma_{a+b}`).

From moments to W2 (:func:`perturbation_w2`). :math:`W_2` is a metric on Gaussians, and between
two Gaussians with the same mean offset :math:`W_2^2 = |\delta m|^2 + d_B(S, S')^2` with the Bures
distance :math:`d_B(S, S') = \min_U \|S^{1/2} - S'^{1/2}U\|_F \le \|S^{1/2} - S'^{1/2}\|_F`, and

.. math::
    \|S^{1/2} - S'^{1/2}\|_F \le \frac{\|S - S'\|_F}{\sqrt{\lambda_{\min}(S)}}
    \quad\text{(van Hemmen \& Ando 1980)}, \qquad
    \|S^{1/2} - S'^{1/2}\|_F^2 \le \|S - S'\|_* \le \sqrt d\,\|S - S'\|_F
    \quad\text{(Powers \& Størmer 1970)};

the second needs no conditioning (a singular codebook covariance). So a computed :math:`W_2` is
within the sum of the two sets' perturbation distances of the exact one (triangle inequality).

The float64 closed form (:func:`closed_form_bound`). :math:`W_2^2 = |\Delta m|^2 + \mathrm{tr}A +
\mathrm{tr}B - 2\sum_i \sqrt{\mu_i}`, :math:`\mu` the eigenvalues of :math:`M = F^\top B F`,
:math:`A = FF^\top` (Cholesky, or an eigenvalue factor when :math:`A` is singular). The computed
:math:`\mu` are those of a matrix within :math:`\|E\|_2 \le c_\mu\, u\,\|A\|_2\|B\|_2` of
:math:`M`, with :math:`c_\mu = d\gamma_{d+1}/u` (Cholesky: :math:`FF^\top = A + E_1`,
:math:`|E_1| \le \gamma_{d+1}|F||F^\top|` (Higham Thm 10.3) and :math:`\||F|\|_2^2 \le d\|F\|_2^2`)
:math:`+\, d^{3/2}\gamma_{2d}/u` (the two products) :math:`+\, d^2` (the symmetric eigensolver's
backward error :math:`p(d)\,u\|M\|`, :math:`p(d) = d^2` for Householder tridiagonalisation)
:math:`+\, 2d` (eigenvalues below :math:`d\,\varepsilon\,\mu_{\max}` are set to 0). Weyl moves each
:math:`\mu_i` by at most :math:`\|E\|_2 = \epsilon_\mu`, hence :math:`\sqrt{\mu_i}` by at most
:math:`\min(\epsilon_\mu/\sqrt{\mu_i}, \sqrt{\epsilon_\mu})`; the sums and the square roots add
:math:`\gamma_{d+3}` relative to the terms.

Where the "exact" value needs more precision than float64 (the moments of the ideal data), it is
formed in ``numpy.longdouble``; its unit round-off enters the bounds, so on a platform where
``longdouble`` is float64 the bounds widen accordingly instead of silently failing.

Set ``VQMATCH_ROUNDOFF_LOG=path`` to append every checked ``(test, error, bound)`` to a JSON-lines
file (the tolerance audit reads it: the largest error / bound per test and configuration).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import torch

LD = np.longdouble
U_LD = float(np.finfo(LD).eps) / 2
U64 = float(np.finfo(np.float64).eps) / 2


def unit_roundoff(dtype) -> float:
    """Half the machine epsilon of a torch or numpy dtype."""
    if isinstance(dtype, torch.dtype):
        return float(torch.finfo(dtype).eps) / 2
    return float(np.finfo(dtype).eps) / 2


def gamma(k: float, u: float) -> float:
    """Higham's gamma_k = k u / (1 - k u)."""
    if k * u >= 1:
        raise ValueError(f"gamma_k needs k u < 1, got k={k}, u={u}")
    return k * u / (1.0 - k * u)


# -------------------------------------------------------------------------------------------------
# moments


def exact_moments(y) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of the rows of ``y``, in longdouble (the reference moments)."""
    y = np.asarray(y, dtype=LD)
    m = y.mean(0)
    c = y - m
    return m, (c.T @ c) / LD(y.shape[0] - 1)


def moment_bounds(y, p, u: float) -> tuple[np.ndarray, np.ndarray]:
    """Entrywise bounds on the error of the mean and the unbiased covariance formed with unit
    round-off ``u`` from values within ``p`` (entrywise) of ``y`` (module docstring)."""
    y = np.asarray(y, dtype=LD).astype(np.float64)
    p = np.asarray(p, dtype=np.float64) + U_LD * np.abs(y)  # y itself is known to longdouble
    n = y.shape[0]
    ay = np.abs(y)
    delta = gamma(n, u) * (ay + p).mean(0)  # the computed mean's own error
    bm = p.mean(0) + delta
    c = np.abs(y - y.mean(0)) + gamma(1, U64) * (ay + np.abs(y.mean(0)))  # |exact centred|, safely
    q = p + p.mean(0)
    e = c + q + delta
    bc = (c.T @ q + q.T @ c + q.T @ q + n * np.outer(delta, delta) + gamma(n + 3, u) * (e.T @ e)) / (n - 1)
    return bm, bc * (1.0 + gamma(2 * n + 8, U64))  # the bound's own float64 evaluation


def lambda_min(cov) -> float:
    """A lower bound on the smallest eigenvalue of a (longdouble) covariance: the float64 spectrum,
    less the rounding of the cast and of the eigensolver."""
    c64 = np.asarray(cov, dtype=np.float64)
    lam = np.linalg.eigvalsh(c64)
    d = c64.shape[0]
    return max(float(lam[0]) - (d * d + 1) * 2 * U64 * float(np.abs(lam).max()), 0.0)


def bures_sq_bound(fro: float, d: int, lam_min: float) -> float:
    """Upper bound on d_B(S, S')^2 for ||S - S'||_F <= fro and lambda_min(S) >= lam_min (module
    docstring: van Hemmen-Ando, or Powers-Stormer when S may be singular)."""
    out = np.sqrt(d) * fro
    if lam_min > 0:
        out = min(out, fro * fro / lam_min)
    return float(out)


def perturbation_w2(bm, bc, lam_min: float) -> float:
    """Upper bound on W2(N(m, S), N(m + dm, S + dS)) for |dm| <= bm, |dS| <= bc entrywise and
    lambda_min(S) >= lam_min."""
    fro = float(np.sqrt(np.sum(np.asarray(bc, dtype=np.float64) ** 2)))
    bures = bures_sq_bound(fro, np.asarray(bc).shape[0], lam_min)
    return float(np.sqrt(np.sum(np.asarray(bm, dtype=np.float64) ** 2) + bures))


# -------------------------------------------------------------------------------------------------
# the float64 closed form


def _spectral(a) -> float:
    return float(np.abs(np.linalg.eigvalsh(np.asarray(a, dtype=np.float64))).max())


def closed_form_bound(mean_diff, a, b) -> float:
    """Bound on the float64 round-off of W2^2 computed by the closed form from the float64 moments
    (``mean_diff`` = m_s - m_t, covariances ``a``, ``b``): module docstring."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    mean_diff = np.asarray(mean_diff, dtype=np.float64)
    d = a.shape[0]
    u = U64
    c_mu = d * gamma(d + 1, u) / u + d**1.5 * gamma(2 * d, u) / u + d * d + 2 * d
    eps_mu = c_mu * u * _spectral(a) * _spectral(b)
    mu = _trace_eigenvalues(a, b)
    root = np.sqrt(np.clip(mu, 0.0, None))
    shift = np.where(mu > eps_mu, eps_mu / np.sqrt(np.clip(mu - eps_mu, 1e-300, None)), np.sqrt(eps_mu))
    shift = np.minimum(shift, np.sqrt(eps_mu))
    trace_term = float(root.sum())
    terms = float(mean_diff @ mean_diff) + float(np.trace(a)) + float(np.trace(b)) + 2 * trace_term
    return 2.0 * float(shift.sum()) + gamma(d + 3, u) * (terms + 2 * np.abs(mean_diff) @ np.abs(mean_diff))


def _trace_eigenvalues(a, b) -> np.ndarray:
    """The eigenvalues of A^1/2 B A^1/2 (float64, via an eigenvalue factor of A: no Cholesky, so
    that it works for singular A too)."""
    lam, q = np.linalg.eigh(a)
    f = q * np.sqrt(np.clip(lam, 0.0, None))
    return np.linalg.eigvalsh(f.T @ b @ f)


def exact_w2sq(mean_s, cov_s, mean_t, cov_t) -> float:
    """W2^2 of two Gaussians given in longdouble, evaluated in float64 (its round-off is
    :func:`closed_form_bound` plus the cast of the moments, see :class:`LossBound`)."""
    diff = np.asarray(mean_s, dtype=LD) - np.asarray(mean_t, dtype=LD)
    a, b = (np.asarray(x, dtype=np.float64) for x in (cov_s, cov_t))
    root = np.sqrt(np.clip(_trace_eigenvalues(a, b), 0.0, None)).sum()
    return max(float(diff @ diff) + float(np.trace(a) + np.trace(b)) - 2.0 * float(root), 0.0)


def sq_to_w(err_sq: float, value: float) -> float:
    """A bound on |sqrt(x) - sqrt(x')| from |x - x'| <= err_sq and x' = value**2 >= 0."""
    return float(min(np.sqrt(err_sq), err_sq / value)) if value > 0 else float(np.sqrt(err_sq))


# -------------------------------------------------------------------------------------------------
# the training loss


@dataclass(frozen=True)
class LossBound:
    """What :func:`loss_bound` returns, in the loss's own units (divided by its scale)."""

    exact: float  # W2 of the ideal data's moments (float64 closed form of longdouble moments)
    exact_error: float  # |exact - true W2 of the ideal data| (W2 units)
    w2: float  # |loss(...) - true W2| (W2 units)
    w2sq: float  # |loss(..., squared=True) - true W2^2|
    scale: float  # the loss's normalising scale (1.0 when normalize=False)


def loss_scale(features: torch.Tensor, normalize: bool = True) -> float:
    """The scale the loss divides by, computed the way it does (in the features' dtype)."""
    from vqmatch.theory.loss import STD_GUARD

    if not normalize:
        return 1.0
    return float(features.detach().std(dim=0).max() + STD_GUARD)


def points_bound(ys, yt, ps, pt, u: float) -> LossBound:
    """Round-off bound of the closed-form W2 between the Gaussians fitted to two point sets, formed
    with unit round-off ``u`` from stored values within ``ps`` / ``pt`` of the ideal ``ys`` / ``yt``
    (longdouble), against the exact W2 of the ideal points' moments (scale 1)."""
    parts = []
    for y, p in ((ys, ps), (yt, pt)):
        y = np.asarray(y, dtype=LD)
        m, c = exact_moments(y)
        bm, bc = moment_bounds(y, np.asarray(p, dtype=np.float64), u)
        parts.append((m, c, bm, bc))
    (m_f, c_f, bm_f, bc_f), (m_c, c_c, bm_c, bc_c) = parts
    legs = (perturbation_w2(bm_f, bc_f, lambda_min(c_f)) + perturbation_w2(bm_c, bc_c, lambda_min(c_c)))
    exact_sq = exact_w2sq(m_f, c_f, m_c, c_c)
    exact = float(np.sqrt(exact_sq))
    # the float64 casts of the longdouble moments (relative u64) and the closed form's round-off
    cast = sum(perturbation_w2(U64 * np.abs(np.asarray(m, dtype=np.float64)),
                               U64 * np.abs(np.asarray(c, dtype=np.float64)), lambda_min(c))
               for m, c in ((m_f, c_f), (m_c, c_c)))
    eval_sq = closed_form_bound(np.asarray(m_f - m_c, dtype=np.float64), c_f, c_c)
    exact_error = cast + sq_to_w(eval_sq, exact)
    w_true_max = exact + exact_error
    # the computation under test: the closed form of its computed moments (float64), then the
    # rounding of the returned value to the input dtype
    w2 = legs + sq_to_w(eval_sq, max(exact - legs - exact_error, 0.0)) + 2 * u * (w_true_max + legs)
    reach = w_true_max + legs
    w2sq = legs * (2 * w_true_max + legs) + eval_sq + 2 * u * reach * reach
    return LossBound(exact=exact, exact_error=exact_error, w2=w2, w2sq=w2sq, scale=1.0)


def loss_bound(features, codebook, *, ideal_features, ideal_codebook, perturb_features,
               perturb_codebook, normalize: bool = True) -> LossBound:
    """Round-off bound of ``wasserstein_vq_loss(features, codebook)`` against the exact W2 of the
    *ideal* data (longdouble arrays) that ``features`` / ``codebook`` store to within
    ``perturb_*`` (entrywise, in the data's units): the loss divides by its scale s (one more
    rounding), forms the moments in the input dtype and evaluates the closed form in float64."""
    u = unit_roundoff(features.dtype)
    s = loss_scale(features, normalize)
    ys, ps = [], []
    for stored, ideal, pert in ((features, ideal_features, perturb_features),
                                (codebook, ideal_codebook, perturb_codebook)):
        p = np.asarray(pert, dtype=np.float64) / s
        if normalize:  # the division rounds once more, relative to the stored value
            p = p + u * (np.abs(stored.detach().double().numpy()) / s)
        ys.append(np.asarray(ideal, dtype=LD) / LD(s))
        ps.append(p)
    b = points_bound(ys[0], ys[1], ps[0], ps[1], u)
    return LossBound(exact=b.exact, exact_error=b.exact_error, w2=b.w2, w2sq=b.w2sq, scale=s)


def sqrt_reference_bound(mean_diff, a, b, w: float) -> float:
    """Round-off, in W2 units, of a reference that evaluates Lemma 3 with two matrix square roots,
    ``X = sqrt(a)``, then ``tr sqrt(X b X)`` (scipy's Schur ``sqrtm``, POT's eigh-based ``sqrtm``),
    near a W2 of ``w``. The computed X is the square root of a' = X^2 with ||a' - a||_F <=
    sqrt(d) c_mu u ||a|| (a backward-stable spectral method), so the reference is the closed form
    of (a', b) up to the second root; ``a'`` is within d_B(a, a') of ``a`` (the Bures bound:
    Powers-Stormer at singular ``a``), and the second root errs as :func:`closed_form_bound` says."""
    a = np.asarray(a, dtype=np.float64)
    d = a.shape[0]
    c_mu = d * gamma(d + 1, U64) / U64 + d**1.5 * gamma(2 * d, U64) / U64 + d * d + 2 * d
    fro = np.sqrt(d) * c_mu * U64 * _spectral(a)
    first = float(np.sqrt(bures_sq_bound(fro, d, lambda_min(a))))
    return first + sq_to_w(closed_form_bound(mean_diff, a, b), w)


def rounding(x: torch.Tensor | np.ndarray, times: int = 1, u: float | None = None) -> np.ndarray:
    """Entrywise bound on |stored - ideal| for ``x`` that is ``times`` roundings of the ideal value
    (to x's dtype, unless ``u`` is given): gamma_times * |x| / (1 - gamma_times)."""
    if isinstance(x, torch.Tensor):
        uu = unit_roundoff(x.dtype) if u is None else u
        v = np.abs(x.detach().double().numpy())
    else:
        uu = unit_roundoff(np.asarray(x).dtype) if u is None else u
        v = np.abs(np.asarray(x, dtype=np.float64))
    g = gamma(times, uu)
    return g * v / (1.0 - g)


# -------------------------------------------------------------------------------------------------
# the audit log


def check(name: str, error: float, bound: float) -> bool:
    """``error <= bound``, recording the pair when ``VQMATCH_ROUNDOFF_LOG`` names a file."""
    path = os.environ.get("VQMATCH_ROUNDOFF_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": name, "error": float(error), "bound": float(bound)}) + "\n")
    return bool(error <= bound)
