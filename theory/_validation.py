"""Input checks shared by the public theory functions (validation happens at the boundary only)."""

from __future__ import annotations

from typing import Any


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
    and must not be *clearly* indefinite: a negative diagonal entry is refused here; the eigenvalue
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
        raise ValueError(
            f"{cov_name} must be positive semi-definite, got a negative diagonal entry {diag_min:.3g}"
        )
    # Other clearly negative eigenvalues are caught where the spectrum is computed anyway (no extra
    # factorisation on the fast path, see theory.gaussian).
    return mean, cov
