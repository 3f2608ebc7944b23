"""Positive semi-definiteness judged against the round-off of the dtype a covariance arrived in
(vqmatch.theory.validation): rank-deficient covariances formed in float32 (and float16, bfloat16) are
accepted with finite values and gradients, clearly indefinite ones are still refused, and the
tolerance follows each covariance's own dtype."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests._helpers import to_numpy
from tests.theory import roundoff as ro
from vqmatch.theory import (
    empirical_gaussian_w2,
    gaussian_monge_map,
    gaussian_w2,
    gelbrich_bound,
)
from vqmatch.theory.validation import PSD_RTOL

EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)


def gram32(rng, d, r, scale, lib):
    """Z @ Z.T formed in float32 (by the named library) from Z of shape (d, r), and Z in float64."""
    z = (rng.standard_normal((d, r)) * scale).astype(np.float32)
    if lib == "numpy":
        return z @ z.T, z.astype(np.float64)
    zt = torch.from_numpy(z)
    return zt @ zt.T, z.astype(np.float64)


def spd32(rng, d, scale):
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = (q * rng.uniform(0.5, 2.0, size=d) * scale**2) @ q.T
    return (0.5 * (s + s.T)).astype(np.float32)


def as_lib(x, lib, grad=False):
    if lib == "numpy":
        return np.asarray(x)
    t = x.clone() if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x))
    return t.requires_grad_(grad)


def exact_w2sq(m1, z, m2, s):
    """W2^2 between N(m1, Z Z^T) and N(m2, S) from the exact (float64) factor Z: the trace term
    tr((S^1/2 Z Z^T S^1/2)^1/2) is the nuclear norm of S^1/2 Z (no round-off eigenvalues at all)."""
    lam, q = np.linalg.eigh(s)
    s_half = (q * np.sqrt(np.clip(lam, 0.0, None))) @ q.T
    nuclear = np.linalg.svd(s_half @ z, compute_uv=False).sum()
    return float(np.sum((m1 - m2) ** 2) + np.sum(z * z) + np.trace(s) - 2.0 * nuclear)


def gram_error_bound(z, u: float) -> np.ndarray:
    """Entrywise bound on |fl(Z Z^T) - Z Z^T| for Z of r columns stored exactly (any summation
    order): gamma_r |Z| |Z|^T."""
    return ro.gamma(z.shape[1], u) * (np.abs(z) @ np.abs(z).T)


def check_rank_deficient_case(rng, d, r, scale, lib, other):
    """gaussian_w2 with a float32 Z Z^T on either side: finite, >= 0, within the a priori bound of
    the exact value, and (torch) finite gradients. Returns whether the float64 spectrum of Z Z^T had
    an eigenvalue below the old float64 tolerance -1e3 d eps64 lambda_max (the case used to raise).

    Acceptance is guaranteed, not measured: the float32 product moves the spectrum by at most
    ||gamma_r |Z| |Z|^T||_2 (Weyl), which the check shows to be within the library's tolerance
    PSD_RTOL d eps32 lambda_max for these matrices (``psd.margin`` in the round-off audit)."""
    c, z = gram32(rng, d, r, scale, lib)
    s = spd32(rng, d, scale) if other == "spd" else gram32(rng, d, max(1, r // 2), scale, "numpy")[0]
    m1 = (rng.standard_normal(d) * scale).astype(np.float32)
    m2 = (rng.standard_normal(d) * scale).astype(np.float32)
    c64 = to_numpy(c).astype(np.float64)
    lam = np.linalg.eigvalsh(c64)
    lam_max = np.abs(lam).max()
    used_to_raise = lam[0] < -1e3 * d * EPS64 * lam_max
    err = gram_error_bound(z, EPS32 / 2)
    spectral_err = float(np.linalg.norm(err, 2)) * (1 + 1e-12)
    assert ro.check("psd.margin", spectral_err, PSD_RTOL * d * EPS32 * (lam_max - spectral_err))
    assert ro.check("psd.weyl", max(-lam[0], 0.0), spectral_err + d * d * EPS64 * lam_max)
    s64 = to_numpy(s).astype(np.float64)
    m1_64, m2_64 = m1.astype(np.float64), m2.astype(np.float64)
    exact = exact_w2sq(m1_64, z, m2_64, s64)
    w = np.sqrt(exact)
    # ours: the closed form of the stored inputs, whose Gram matrix is within err of Z Z^T (a
    # singular covariance: the Bures bound without conditioning); the exact reference takes a
    # square root of s and an SVD (tests.theory.roundoff.sqrt_reference_bound)
    leg = float(np.sqrt(ro.bures_sq_bound(float(np.sqrt(np.sum(err**2))), d, 0.0)))
    ref_err = ro.sqrt_reference_bound(m2_64 - m1_64, s64, z @ z.T, w)
    for flip in (False, True):
        args = [m1, c, m2, s] if not flip else [m2, s, m1, c]
        args = [as_lib(a, lib, grad=(lib == "torch")) for a in args]
        w2sq = gaussian_w2(*args, squared=True)
        w2 = gaussian_w2(*args)
        v = float(to_numpy(w2sq))
        assert np.isfinite(v) and v >= 0.0, (d, r, scale, lib, flip, v)
        assert np.isfinite(float(to_numpy(w2))) and float(to_numpy(w2)) >= 0.0
        e_ours = roundoff_sq(*(to_numpy(a).astype(np.float64) for a in args))
        tol_w = leg + ro.sq_to_w(e_ours, w) + ref_err
        tol = tol_w * (2 * w + tol_w) + EPS32 * v  # and the float32 rounding of the result
        assert ro.check("psd.value", abs(v - exact), tol), (d, r, scale, lib, flip, v, exact)
        if lib == "torch" and not flip:  # one backward differentiates both covariances' roles
            (w2 + w2sq).backward()
            for a in args:
                assert a.grad is not None and bool(torch.isfinite(a.grad).all()), (d, r, scale, flip)
    return bool(used_to_raise)


def roundoff_sq(m1, a, m2, b):
    return ro.closed_form_bound(np.subtract(m1, m2), a, b)


# ----------------------------------------------------------------------------------------------
# float32 Z Z^T of rank < d is accepted
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_float32_rank_deficient_gram_sweep(lib):
    used_to_raise = total = 0
    for d in (2, 3, 8, 17, 32, 64):
        for r in sorted({1, max(1, d // 2), d - 1}):
            for scale in (1e-3, 1.0, 1e3):
                for seed in range(2):
                    rng = np.random.default_rng([d, r, int(np.log10(scale)) + 3, seed])
                    other = ("spd", "singular")[seed % 2]
                    used_to_raise += check_rank_deficient_case(rng, d, r, scale, lib, other)
                    total += 1
    # the sweep exercises the bug: most of these spectra have a negative eigenvalue that the old
    # float64 tolerance (-1e3 d eps64 lambda_max) refused
    assert used_to_raise >= total // 2, (used_to_raise, total)


@given(d=st.integers(2, 64), data=st.data(), log_scale=st.floats(-3.0, 3.0),
       lib=st.sampled_from(["numpy", "torch"]), other=st.sampled_from(["spd", "singular"]),
       seed=st.integers(0, 2**32 - 1))
def test_float32_rank_deficient_gram_property(d, data, log_scale, lib, other, seed):
    r = data.draw(st.integers(1, d - 1), label="rank")
    check_rank_deficient_case(np.random.default_rng(seed), d, r, 10.0**log_scale, lib, other)


def test_reported_240_case_sweep_has_no_failures():
    # the reported failure: Z float32 of shape (d, 3), gaussian_w2(0, I, 0, Z Z^T) and the reverse
    failures = 0
    for d in (2, 8, 32):
        for seed in range(80):
            rng = np.random.default_rng([d, seed])
            z = rng.standard_normal((d, 3)).astype(np.float32)
            c, eye, zero = z @ z.T, np.eye(d, dtype=np.float32), np.zeros(d, dtype=np.float32)
            try:
                for args in ((zero, eye, zero, c), (zero, c, zero, eye)):
                    assert np.isfinite(gaussian_w2(*args))
            except ValueError:
                failures += 1
    assert failures == 0


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_other_functions_accept_float32_singular_covariances(lib):
    rng = np.random.default_rng(7)
    d = 16
    xs = rng.standard_normal((5, d)).astype(np.float32)  # covariance of rank 4 in d = 16
    xt = (rng.standard_normal((200, d)) + 0.5).astype(np.float32)
    xs_, xt_ = as_lib(xs, lib), as_lib(xt, lib)
    for value in (empirical_gaussian_w2(xs_, xt_), empirical_gaussian_w2(xt_, xs_),
                  gelbrich_bound(xs_, xt_), gelbrich_bound(xt_, xs_)):
        assert np.isfinite(float(to_numpy(value))) and float(to_numpy(value)) >= 0.0
    # the Monge map needs a positive definite source, but its target may be singular
    c, _ = gram32(rng, d, 3, 1.0, lib)
    t = gaussian_monge_map(as_lib(np.zeros(d, np.float32), lib), as_lib(spd32(rng, d, 1.0), lib),
                           as_lib(np.ones(d, np.float32), lib), c)
    assert np.isfinite(to_numpy(t.linear)).all()


def test_half_precision_rank_deficient_accepted():
    rng = np.random.default_rng(3)
    d, r = 24, 5
    z = rng.standard_normal((d, r))
    z16 = z.astype(np.float16)
    c16 = z16 @ z16.T
    zero = np.zeros(d, dtype=np.float16)
    assert np.isfinite(gaussian_w2(zero, c16, zero, np.eye(d, dtype=np.float16)))
    zb = torch.from_numpy(z).to(torch.bfloat16)
    cb = (zb @ zb.T).requires_grad_(True)
    w = gaussian_w2(torch.zeros(d, dtype=torch.bfloat16), torch.eye(d, dtype=torch.bfloat16),
                    torch.zeros(d, dtype=torch.bfloat16), cb)
    w.backward()
    assert w.dtype == torch.bfloat16 and torch.isfinite(w) and torch.isfinite(cb.grad).all()


# ----------------------------------------------------------------------------------------------
# indefinite input is still refused, and the tolerance follows each covariance's dtype
# ----------------------------------------------------------------------------------------------


INDEFINITE32 = {
    "diag(1,-0.1)": np.diag([1.0, -0.1]),  # refused by the diagonal pre-check
    "[[1,2],[2,1]]": np.array([[1.0, 2.0], [2.0, 1.0]]),  # positive diagonal: refused by eigenvalues
}


@pytest.mark.parametrize("bad", list(INDEFINITE32))
@pytest.mark.parametrize("name", ["cov_s", "cov_t"])
@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_indefinite_float32_still_raises(bad, name, lib):
    kw = {"mean_s": np.zeros(2), "cov_s": np.eye(2), "mean_t": np.ones(2), "cov_t": np.eye(2)}
    kw[name] = INDEFINITE32[bad]
    kw = {k: as_lib(v.astype(np.float32), lib) for k, v in kw.items()}
    with pytest.raises(ValueError, match=f"{name} must be positive semi-definite"):
        gaussian_w2(**kw)
    with pytest.raises(ValueError, match=name):
        gaussian_monge_map(**kw)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_indefinite_float32_beyond_roundoff_raises_in_high_dimension(lib):
    # a float32 rank-deficient Gram matrix (accepted above) minus 1e-3 lambda_max along one
    # direction: its diagonal stays positive, but -1e-3 lambda_max is far beyond the float32
    # tolerance PSD_RTOL * d * eps32 * lambda_max = 7.6e-5 lambda_max (d = 64)
    rng = np.random.default_rng(11)
    d = 64
    c, _ = gram32(rng, d, 10, 1.0, "numpy")
    lam_max = np.linalg.eigvalsh(c.astype(np.float64))[-1]
    lam_null = np.linalg.eigh(c.astype(np.float64))[1][:, 0]  # a null direction of c
    bad = (c - 1e-3 * lam_max * np.outer(lam_null, lam_null)).astype(np.float32)
    bad = 0.5 * (bad + bad.T)
    assert np.diag(bad).min() > 0
    zero, eye = np.zeros(d, np.float32), np.eye(d, dtype=np.float32)
    for name, args in (("cov_s", (zero, bad, zero, eye)), ("cov_t", (zero, eye, zero, bad))):
        with pytest.raises(ValueError, match=rf"{name} must be positive semi-definite.*largest"):
            gaussian_w2(*(as_lib(a, lib) for a in args))


def test_tolerance_follows_the_dtype_each_covariance_arrived_in():
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    c = (q * np.array([1.0, 0.5, -1e-9])) @ q.T  # -1e-9: beyond float64 round-off only
    c = 0.5 * (c + c.T)
    zero, eye = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match=r"cov_t must be positive semi-definite.*float64"):
        gaussian_w2(zero, eye, zero, c)
    # the same matrix as float32 is within float32 round-off (the float32 rounding alone moves
    # its eigenvalues by ~1e-7), also next to a float64 partner (the record precedes promotion)
    c32 = c.astype(np.float32)
    assert np.isfinite(gaussian_w2(zero.astype(np.float32), eye.astype(np.float32), zero, c32))
    assert np.isfinite(gaussian_w2(zero, c32, zero, eye))


def test_negative_diagonal_within_roundoff_accepted():
    # a zero variance that came out as -1e-8 (float32 round-off of a difference): accepted
    rng = np.random.default_rng(9)
    d = 6
    z = rng.standard_normal((d, 3)).astype(np.float32)
    z[2] = 0.0
    c = z @ z.T
    c[2, 2] = np.float32(-1e-8) * np.trace(c)
    zero = np.zeros(d, np.float32)
    assert np.isfinite(gaussian_w2(zero, c, zero, np.eye(d, dtype=np.float32)))
    c[2, 2] = np.float32(-1e-2) * np.trace(c)
    with pytest.raises(ValueError, match=r"cov_s must be positive semi-definite.*diagonal"):
        gaussian_w2(zero, c, zero, np.eye(d, dtype=np.float32))


def test_batched_rank_deficient_float32():
    rng = np.random.default_rng(13)
    d = 12
    covs = np.stack([gram32(rng, d, r, 1.0, "numpy")[0] for r in (2, 5, 11)])
    got = gaussian_w2(np.zeros((3, d), np.float32), covs, np.zeros(d, np.float32),
                      np.eye(d, dtype=np.float32))
    assert got.shape == (3,) and np.isfinite(got).all()
    covs[1] = np.diag(np.r_[1.0, -0.5, np.ones(d - 2)]).astype(np.float32)
    with pytest.raises(ValueError, match="cov_s"):
        gaussian_w2(np.zeros((3, d), np.float32), covs, np.zeros(d, np.float32),
                    np.eye(d, dtype=np.float32))
