r"""Input checks shared by the public theory functions (validation happens at the boundary only).

Positive semi-definiteness and round-off
----------------------------------------
A covariance is judged against the round-off of the dtype it was *formed in* (the dtype it arrived
in, recorded before any internal upcast to float64), not against the float64 arithmetic it is later
analysed in. A rank-deficient covariance formed in float32 (``Z @ Z.T`` with ``Z`` of shape
``(d, r)``, ``r < d``; the unbiased covariance of ``K <= d`` codes) has exact zero eigenvalues that
come out as float32 round-off of either sign, e.g. ``-7e-7`` next to a largest eigenvalue of ``57``.
The rule, applied by :func:`check_psd_spectrum` to every spectrum the theory functions compute:

.. math::
    \lambda_{\min} < -\delta \;\Rightarrow\; \mathtt{ValueError}, \qquad
    \delta = c\, d\, \varepsilon\, \max(\lambda_{\max}, t), \qquad c = 10,

with :math:`\varepsilon = \max(\varepsilon_{\mathrm{input\ dtype}}, \varepsilon_{\mathrm{float64}})`
(float16 ``9.8e-4``, bfloat16 ``7.8e-3``, float32 ``1.2e-7``, float64 ``2.2e-16``; never below
float64's, because the spectrum itself is computed in float64), :math:`\lambda_{\max}` the largest
eigenvalue magnitude, :math:`t` the smallest normal number of the input dtype (entries below it
are subnormal, with absolute rather than relative round-off) and :math:`d` the dimension.
Eigenvalues in :math:`[-\delta, 0)` are round-off of a positive semi-definite matrix and are
clipped to 0; the error message names the parameter and shows the worst and the largest eigenvalue
and :math:`\delta`.

Why :math:`c = 10`. A covariance formed from :math:`r` points (or a Gram matrix :math:`ZZ^\top` of
:math:`r` columns) in a dtype of unit round-off :math:`u` is within :math:`\gamma_r |Z||Z|^\top`
entrywise of the exact one, whatever the summation order (Higham 2002, §3.5), so its spectrum moves
by at most :math:`\|\gamma_r |Z||Z|^\top\|_2` (Weyl): a bound that depends on the data, not on the
machine. For columns without a common direction, :math:`\||Z||Z|^\top\|_2` is about :math:`\min(r,
d)/2` times :math:`\lambda_{\max}`, and the shift within :math:`c\, d\, \varepsilon\,
\lambda_{\max}`: the tests check this on random rank-deficient float32 Gram matrices (``d = 2..64``,
rank ``1..d-1``, scales ``1e-3..1e3``), where it stays below 0.6 of the tolerance, and that the
tolerance still refuses clearly indefinite input: a float32 ``diag(1, -0.1)`` (d = 2) is beyond
:math:`\delta \approx 2.4\cdot10^{-6}` by a factor of 40,000. Points far off their mean are centred
before the product (:func:`vqmatch.theory.gaussian_moments`), which keeps :math:`|Z|` near
:math:`Z`'s scale. In bfloat16 the test is as coarse as the dtype (:math:`\delta \ge \lambda_{\max}`
from d = 13 on): only float32 and wider input gets a sharp one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

PSD_RTOL = 10.0  # c in delta = c * d * eps * max(lambda_max, tiny): see the module docstring
_EPS64 = sys.float_info.epsilon


@dataclass(frozen=True)
class RoundOff:
    """The round-off of the dtype a covariance arrived in (recorded before any upcast)."""

    eps: float  # max(eps of the dtype, eps of float64)
    tiny: float  # smallest normal number of the dtype
    dtype: str


_ROUNDOFFS: dict[Any, RoundOff] = {}  # per dtype: finfo and str(dtype) cost microseconds per call


def roundoff_of(xp, x) -> RoundOff:
    """The :class:`RoundOff` of ``x``'s dtype, as it is now (call this before upcasting)."""
    found = _ROUNDOFFS.get(x.dtype)
    if found is None:
        found = RoundOff(max(xp.eps(x), _EPS64), xp.tiny(x), str(x.dtype).removeprefix("torch."))
        _ROUNDOFFS[x.dtype] = found
    return found


def psd_tolerance(xp, roundoff: RoundOff, d: int, lam_max):
    r"""The round-off tolerance :math:`\delta = c\,d\,\varepsilon\max(\lambda_{\max}, t)` on negative
    eigenvalues (``lam_max`` a float or an array of per-matrix largest magnitudes)."""
    scale = PSD_RTOL * d * roundoff.eps
    if isinstance(lam_max, float):
        return scale * max(lam_max, roundoff.tiny)
    return scale * xp.clamp_min(lam_max, roundoff.tiny)


def check_psd_spectrum(xp, lam, name: str, roundoff: RoundOff):
    """Refuse a symmetric matrix whose ascending eigenvalues ``lam`` (..., d) go below -delta.

    Returns the largest eigenvalue magnitude: a float for a single numpy spectrum, else an array of
    shape (..., 1). Eigenvalues in [-delta, 0) are round-off; the caller clips them to 0.
    """
    d = lam.shape[-1]
    if lam.ndim == 1 and xp.name == "numpy":  # the common unbatched case, on Python floats
        lo, hi = float(lam[0]), float(lam[-1])
        lam_max = max(-lo, hi)
        if lo < 0.0 and lo < -psd_tolerance(xp, roundoff, d, lam_max):
            _refuse(name, lo, lam_max, psd_tolerance(xp, roundoff, d, lam_max), roundoff)
        return lam_max
    lo = lam[..., :1]
    lam_max = xp.clamp_min(xp.abs(lo), lam[..., -1:])
    tol = psd_tolerance(xp, roundoff, d, lam_max)
    excess = -lo - tol
    if bool((excess > 0).any()):
        worst = int(xp.to_numpy(excess).reshape(-1).argmax())  # the most clearly indefinite matrix
        flat = [xp.to_numpy(x).reshape(-1)[worst] for x in (lo, lam_max, tol)]
        _refuse(name, *(float(x) for x in flat), roundoff)
    return lam_max


def _refuse(name, worst, largest, tol, roundoff):
    raise ValueError(
        f"{name} must be positive semi-definite, got an eigenvalue {worst:.3g} (largest {largest:.3g});"
        f" {roundoff.dtype} round-off allows down to -{tol:.3g} ({PSD_RTOL:g} * d * eps * largest);"
        f" pass a covariance formed in lower precision in that dtype"
    )


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


def check_floating(xp, x, name: str):
    """Convert ``x`` to a floating array of library ``xp`` and check it holds no NaN/Inf."""
    x = xp.asarray(x)
    if not xp.is_floating(x):
        raise ValueError(f"{name} must hold real floating-point numbers, got dtype={x.dtype}")
    if not xp.all_finite(x):
        raise ValueError(f"{name} contains NaN or Inf values")
    return x


def check_points(xp, x, name: str, *, min_rows: int = 1):
    """A 2-D array of points, one per row, with at least ``min_rows`` rows."""
    x = check_floating(xp, x, name)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_points, dim), got shape={_shape(x)}")
    if x.shape[0] < min_rows:
        raise ValueError(
            f"{name} needs at least {min_rows} rows (points), got shape={_shape(x)}"
        )
    if x.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column, got shape={_shape(x)}")
    return x


def check_mean_cov(xp, mean, cov, mean_name: str, cov_name: str):
    """Validate a (batch of) Gaussian parameters: mean (..., d) and covariance (..., d, d).

    The covariance must be symmetric (relative tolerance ``1e3 * eps``, scaled by its largest entry)
    and must not be indefinite beyond round-off: a negative diagonal entry below the tolerance of
    the module docstring (with ``d * max|C_ij| >= lambda_max``) is refused here; the eigenvalue
    check happens where the eigenvalues are computed anyway (no extra factorisation on the fast path).
    """
    mean = check_floating(xp, mean, mean_name)
    cov = check_floating(xp, cov, cov_name)
    if mean.ndim < 1:
        raise ValueError(f"{mean_name} must have shape (..., d), got a scalar")
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"{cov_name} must have shape (..., d, d), got shape={_shape(cov)}")
    if cov.shape[-1] != mean.shape[-1]:
        raise ValueError(
            f"{mean_name} has dimension {mean.shape[-1]} but {cov_name} has dimension "
            f"{cov.shape[-1]} (shapes {_shape(mean)} and {_shape(cov)})"
        )
    if not xp.is_symmetric(cov):
        scale = xp.max_abs(cov)
        asym = xp.max_abs(cov - xp.mT(cov))
        if asym > 1e3 * xp.eps(cov) * max(scale, xp.tiny(cov)):
            raise ValueError(
                f"{cov_name} must be symmetric, got max |C - C^T| = {asym:.3g} "
                f"(largest entry {scale:.3g})"
            )
    diag_min = xp.min_diagonal(cov)
    if diag_min < 0:
        # a diagonal entry bounds the smallest eigenvalue from above; d * max|C_ij| bounds the largest
        d = cov.shape[-1]
        tol = psd_tolerance(xp, roundoff_of(xp, cov), d, d * xp.max_abs(cov))
        if diag_min < -tol:
            raise ValueError(
                f"{cov_name} must be positive semi-definite, got a negative diagonal entry "
                f"{diag_min:.3g} (beyond its {roundoff_of(xp, cov).dtype} round-off {tol:.3g})"
            )
    # Negative eigenvalues are judged (check_psd_spectrum) where the spectrum is computed anyway
    # (no extra factorisation on the fast path, see vqmatch.theory.gaussian).
    return mean, cov
