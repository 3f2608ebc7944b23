"""Oracles for the closed-form Gaussian W2 (vqmatch.theory.gaussian): POT, a scipy.linalg.sqrtm re-statement,
metric axioms, closed forms (1-D, commuting covariances), the Monge map, Gelbrich's bound against exact
discrete OT (ot.emd2) and the validation contract."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import ot
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests._helpers import to_lib, to_numpy
from tests.theory import roundoff as ro
from vqmatch import theory
from vqmatch.theory import (
    empirical_gaussian_w2,
    gaussian_monge_map,
    gaussian_w2,
    gelbrich_bound,
)

EPS = np.finfo(np.float64).eps
REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def random_spd(rng, d, lo=0.5, hi=2.0, scale=1.0):
    """Well-conditioned SPD matrix: random eigenvectors, eigenvalues uniform in [lo, hi] * scale."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s = (q * rng.uniform(lo, hi, size=d) * scale) @ q.T
    return 0.5 * (s + s.T)


def sqrtm_reference(m1, a, m2, b, squared=False):
    """Independent, slow re-statement of Lemma 3 with scipy's Schur-based matrix square root."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Matrix is singular" for the rank-deficient cases
        ra = scipy.linalg.sqrtm(a)
        cross = scipy.linalg.sqrtm(ra @ b @ ra)
    w2sq = float(np.sum((m1 - m2) ** 2) + np.trace(a + b - 2.0 * cross).real)
    w2sq = max(w2sq, 0.0)
    return w2sq if squared else np.sqrt(w2sq)


def pot_w2(m1, a, m2, b):
    return float(ot.gaussian.bures_wasserstein_distance(m1, m2, a, b))


def pot_w2_torch(m1, a, m2, b):
    """POT through its torch backend, whose sqrtm clamps eigenvalues at 0 (its numpy sqrtm takes
    sqrt of the round-off negative eigenvalues of a singular matrix and returns NaN / raises)."""
    import torch

    t = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)) for x in (m1, m2, a, b)]
    return float(ot.gaussian.bures_wasserstein_distance(*t))


def roundoff_sq(m1, a, m2, b):
    """The a priori float64 round-off of ``gaussian_w2(m1, a, m2, b, squared=True)``
    (:func:`tests.theory.roundoff.closed_form_bound`: backward errors of the factorisation, the
    products and the eigensolver, moved through the square roots by Weyl's inequality)."""
    return ro.closed_form_bound(np.subtract(m1, m2), a, b)


def mean_leg(bm):
    """W2 moved by perturbing a mean by at most ``bm`` entrywise."""
    return float(np.sqrt(np.sum(np.asarray(bm) ** 2)))


def cov_leg(fro, cov):
    """W2 moved by perturbing ``cov`` by at most ``fro`` in Frobenius norm (Bures bound)."""
    return float(np.sqrt(ro.bures_sq_bound(fro, cov.shape[0], max(ro.lambda_min(cov) - fro, 0.0))))


def reference_tolerance(m1, a, m2, b, w):
    """|ours - a two-square-root reference| in W2 units: both errors, a priori (tests.theory.roundoff),
    plus the final square roots' rounding."""
    return (ro.sq_to_w(roundoff_sq(m1, a, m2, b), w) + ro.sqrt_reference_bound(np.subtract(m1, m2), a, b, w)
            + 4 * ro.U64 * w)


def fro_of(bound):
    return float(np.sqrt(np.sum(np.asarray(bound) ** 2)))


U = ro.U64


# hypothesis strategies: SPD matrices as A A^T + c I from bounded floats, d in 1..6
_entry = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def spd_matrix(draw, d):
    a = draw(arrays(np.float64, (d, d), elements=_entry))
    c = draw(st.floats(0.05, 2.0))
    s = a @ a.T + c * np.eye(d)
    return 0.5 * (s + s.T)


@st.composite
def gaussian(draw, d):
    m = draw(arrays(np.float64, (d,), elements=st.floats(-10.0, 10.0, width=64)))
    return m, draw(spd_matrix(d))


@st.composite
def gaussian_tuple(draw, n):
    d = draw(st.integers(1, 6))
    return [draw(gaussian(d)) for _ in range(n)]


# ----------------------------------------------------------------------------------------------
# agreement with POT and with the sqrtm reference
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 3, 8, 32, 64])
def test_agrees_with_pot_and_sqrtm_reference(d, xp_name):
    rng = np.random.default_rng(100 + d)
    for _ in range(3):
        m1, m2 = rng.normal(size=d), rng.normal(size=d)
        a = random_spd(rng, d, scale=rng.uniform(0.5, 2.0))
        b = random_spd(rng, d, scale=rng.uniform(0.5, 2.0))
        ours = float(to_numpy(gaussian_w2(*(to_lib(x, xp_name) for x in (m1, a, m2, b)))))
        ours_sq = float(to_numpy(gaussian_w2(*(to_lib(x, xp_name) for x in (m1, a, m2, b)),
                                             squared=True)))
        tol = reference_tolerance(m1, a, m2, b, ours)
        assert ro.check("w2.pot", abs(ours - pot_w2(m1, a, m2, b)), tol)
        assert ro.check("w2.sqrtm", abs(ours - sqrtm_reference(m1, a, m2, b)), tol)
        ref = sqrtm_reference(m1, a, m2, b)
        assert ro.check("w2.sqrtm_sq", abs(ours_sq - ref**2), tol * (ours + ref))


def test_known_values():
    # N(0, 1) vs N(10, 1): W = 10; N(0, 4) vs N(0, 1): W^2 = (2 - 1)^2 = 1
    assert float(gaussian_w2(np.zeros(1), np.eye(1), np.full(1, 10.0), np.eye(1))) == 10.0
    np.testing.assert_allclose(
        gaussian_w2(np.zeros(1), 4 * np.eye(1), np.zeros(1), np.eye(1), squared=True), 1.0,
        rtol=1e-15,
    )
    # isotropic in d = 3: W^2 = d (sqrt(s) - sqrt(t))^2 = 3 (3 - 1)^2 = 12
    np.testing.assert_allclose(
        gaussian_w2(np.zeros(3), 9 * np.eye(3), np.zeros(3), np.eye(3), squared=True), 12.0,
        rtol=1e-14,
    )


# ----------------------------------------------------------------------------------------------
# batching and broadcasting
# ----------------------------------------------------------------------------------------------


def test_batched_equals_loop(xp_name):
    rng = np.random.default_rng(7)
    n, d = 5, 4
    ms, mt = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    cs = np.stack([random_spd(rng, d) for _ in range(n)])
    ct = np.stack([random_spd(rng, d) for _ in range(n)])
    for squared in (False, True):
        batched = to_numpy(gaussian_w2(*(to_lib(x, xp_name) for x in (ms, cs, mt, ct)),
                                       squared=squared))
        assert batched.shape == (n,)
        loop = [to_numpy(gaussian_w2(*(to_lib(x, xp_name) for x in (ms[i], cs[i], mt[i], ct[i])),
                                     squared=squared)) for i in range(n)]
        np.testing.assert_allclose(batched, loop, rtol=1e-12)


def test_broadcast_single_target_against_batch(xp_name):
    rng = np.random.default_rng(8)
    n, d = 6, 3
    ms = rng.normal(size=(n, d))
    cs = np.stack([random_spd(rng, d) for _ in range(n)])
    mt, ct = rng.normal(size=d), random_spd(rng, d)
    lib = [to_lib(x, xp_name) for x in (ms, cs, mt, ct)]
    loop = np.array([pot_w2(ms[i], cs[i], mt, ct) for i in range(n)])
    # one target against a batch of sources, and a batch of targets against one source
    np.testing.assert_allclose(to_numpy(gaussian_w2(*lib)), loop, rtol=1e-10)
    np.testing.assert_allclose(to_numpy(gaussian_w2(lib[2], lib[3], lib[0], lib[1])), loop,
                               rtol=1e-10)
    # batch of means sharing one covariance
    shared = to_numpy(gaussian_w2(lib[0], to_lib(cs[0], xp_name), lib[2], lib[3]))
    loop_shared = np.array([pot_w2(ms[i], cs[0], mt, ct) for i in range(n)])
    assert shared.shape == (n,)
    np.testing.assert_allclose(shared, loop_shared, rtol=1e-10)


# ----------------------------------------------------------------------------------------------
# hypothesis properties (metric axioms, closed forms, invariances)
# ----------------------------------------------------------------------------------------------


@given(gaussian_tuple(2))
def test_nonnegative_and_symmetric(pair):
    (m1, a), (m2, b) = pair
    w12 = float(gaussian_w2(m1, a, m2, b))
    w21 = float(gaussian_w2(m2, b, m1, a))
    assert w12 >= 0.0 and w21 >= 0.0
    # W^2 from either side differs only by round-off (different factor, same spectrum)
    s12 = float(gaussian_w2(m1, a, m2, b, squared=True))
    s21 = float(gaussian_w2(m2, b, m1, a, squared=True))
    assert ro.check("w2.symmetric", abs(s12 - s21), roundoff_sq(m1, a, m2, b) + roundoff_sq(m2, b, m1, a))


@given(gaussian_tuple(1))
def test_identity_is_roundoff_zero(single):
    # W(x, x) is 0 in exact arithmetic; computed, W^2 is round-off of size roundoff_sq and W is its
    # square root, so W(x, x) is only ~sqrt(eps)-small, never exactly guaranteed to be 0.
    ((m, s),) = single
    e = roundoff_sq(m, s, m, s)
    w = float(gaussian_w2(m, s, m, s))
    assert 0.0 <= w and ro.check("w2.identity", w, np.sqrt(e) * (1 + 2 * U))
    assert ro.check("w2.identity_sq", float(gaussian_w2(m, s, m, s, squared=True)), e)


@given(gaussian_tuple(3))
def test_triangle_inequality(triple):
    (ma, a), (mb, b), (mc, c) = triple
    ac = float(gaussian_w2(ma, a, mc, c))
    ab = float(gaussian_w2(ma, a, mb, b))
    bc = float(gaussian_w2(mb, b, mc, c))
    # each computed W is within sq_to_w(its W^2 round-off) of the exact one (plus the final sqrt)
    tol = sum(ro.sq_to_w(roundoff_sq(*pq), w) + 2 * U * w for pq, w in
              (((ma, a, mc, c), ac), ((ma, a, mb, b), ab), ((mb, b, mc, c), bc)))
    assert ro.check("w2.triangle", ac - (ab + bc), tol)


@given(st.floats(-10, 10), st.floats(-10, 10), st.floats(1e-3, 10), st.floats(1e-3, 10))
def test_one_dimensional_closed_form(m1, m2, s1, s2):
    expected = (m1 - m2) ** 2 + (s1 - s2) ** 2
    a, b = np.array([[s1**2]]), np.array([[s2**2]])
    got = float(gaussian_w2(np.array([m1]), a, np.array([m2]), b, squared=True))
    # the given variances are s^2 rounded once: sqrt(a) = s (1 + t), |t| <= u, so the exact W^2 of
    # the inputs is within 2 |s1 - s2| u (s1 + s2) + (u (s1 + s2))^2 of (s1 - s2)^2; the expected
    # value itself rounds in a few operations
    spread = U * (s1 + s2)
    tol = (roundoff_sq([m1], a, [m2], b) + 2 * abs(s1 - s2) * spread + spread**2
           + ro.gamma(6, U) * ((m1 - m2) ** 2 + (s1 + s2) ** 2))
    assert ro.check("w2.one_dimensional", abs(got - expected), tol)


@given(st.integers(1, 6).flatmap(lambda d: st.tuples(
    arrays(np.float64, (d, d), elements=_entry),
    arrays(np.float64, (d,), elements=st.floats(1e-2, 10.0)),
    arrays(np.float64, (d,), elements=st.floats(1e-2, 10.0)),
    arrays(np.float64, (d,), elements=st.floats(-5.0, 5.0)),
    arrays(np.float64, (d,), elements=st.floats(-5.0, 5.0)),
)))
def test_commuting_covariances_closed_form(args):
    """A = Q diag(a) Q^T, B = Q diag(b) Q^T: W^2 = |m1 - m2|^2 + sum (sqrt a_i - sqrt b_i)^2. The
    stored q is orthogonal only up to e = ||q^T q - I||: with its polar factor Q0 (q = Q0 P,
    ||P - I|| <= e) the inputs are within sqrt(d) (2e + e^2) max(a) (and their own rounding,
    gamma_{d+1} |q| diag(a) |q|^T) of commuting A0, B0 whose W^2 is the closed form."""
    g, ev_a, ev_b, m1, m2 = args
    d = g.shape[0]
    q, _ = np.linalg.qr(g + 7.0 * np.eye(d))  # shifted: never rank-deficient
    a = (q * ev_a) @ q.T
    b = (q * ev_b) @ q.T
    a, b = 0.5 * (a + a.T), 0.5 * (b + b.T)
    e = float(np.linalg.norm(q.T @ q - np.eye(d), 2)) + ro.gamma(d, U) * d
    legs = 0.0
    for ev in (ev_a, ev_b):
        fro = (np.sqrt(d) * (2 * e + e * e) * ev.max()
               + fro_of(ro.gamma(d + 1, U) * (np.abs(q) * ev) @ np.abs(q).T))
        legs += float(np.sqrt(ro.bures_sq_bound(fro, d, max(ev.min() - fro, 0.0))))
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(ev_a) - np.sqrt(ev_b)) ** 2)
    got = float(gaussian_w2(m1, a, m2, b, squared=True))
    w0 = np.sqrt(expected)
    tol = (legs * (2 * w0 + legs) + roundoff_sq(m1, a, m2, b)
           + ro.gamma(d + 6, U) * (np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(ev_a) + np.sqrt(ev_b)) ** 2)))
    assert ro.check("w2.commuting", abs(got - expected), tol)


@given(gaussian_tuple(2), st.integers(0, 2**32 - 1))
def test_rotation_invariance(pair, seed):
    """For the stored r (orthogonal up to e = ||r^T r - I||), pushing both Gaussians through r scales
    W by a factor in [sigma_min(r), sigma_max(r)], within e of 1; the rotated inputs are within
    their products' rounding of the pushed-forward moments."""
    (m1, a), (m2, b) = pair
    d = m1.shape[0]
    r, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    ra, rb = r @ a @ r.T, r @ b @ r.T
    ra, rb = 0.5 * (ra + ra.T), 0.5 * (rb + rb.T)
    got = float(gaussian_w2(r @ m1, ra, r @ m2, rb, squared=True))
    ref = float(gaussian_w2(m1, a, m2, b, squared=True))
    e = float(np.linalg.norm(r.T @ r - np.eye(d), 2)) + ro.gamma(d, U) * d
    ar = np.abs(r)
    legs = (mean_leg(ro.gamma(d, U) * ar @ np.abs(m1)) + mean_leg(ro.gamma(d, U) * ar @ np.abs(m2))
            + cov_leg(fro_of(ro.gamma(2 * d, U) * ar @ np.abs(a) @ ar.T), ra)
            + cov_leg(fro_of(ro.gamma(2 * d, U) * ar @ np.abs(b) @ ar.T), rb))
    w = np.sqrt(ref) + ro.sq_to_w(roundoff_sq(m1, a, m2, b), np.sqrt(ref))
    tol = (legs + e * w + ro.sq_to_w(roundoff_sq(r @ m1, ra, r @ m2, rb), np.sqrt(got))
           + ro.sq_to_w(roundoff_sq(m1, a, m2, b), np.sqrt(ref)) + 2 * U * (np.sqrt(got) + np.sqrt(ref)))
    assert ro.check("w2.rotation", abs(np.sqrt(got) - np.sqrt(ref)), tol)


@given(gaussian_tuple(2), st.data())
def test_translation(pair, data):
    (m1, a), (m2, b) = pair
    d = m1.shape[0]
    v = data.draw(arrays(np.float64, (d,), elements=st.floats(-10, 10)))
    ref = float(gaussian_w2(m1, a, m2, b, squared=True))
    got = float(gaussian_w2(m1 + v, a, m2 + v, b, squared=True))
    # m + v rounds once: the mean difference of the stored means moves by u (|m1 + v| + |m2 + v|)
    legs = mean_leg(U * np.abs(m1 + v)) + mean_leg(U * np.abs(m2 + v))
    tol = (legs + ro.sq_to_w(roundoff_sq(m1 + v, a, m2 + v, b), np.sqrt(got))
           + ro.sq_to_w(roundoff_sq(m1, a, m2, b), np.sqrt(ref)) + 2 * U * (np.sqrt(got) + np.sqrt(ref)))
    assert ro.check("w2.translation", abs(np.sqrt(got) - np.sqrt(ref)), tol)
    # shifting one mean with equal covariances: W = |v'| exactly, v' = (m1 + v) - m1 as stored
    diff = (m1 + v) - m1  # the subtraction rounds once more: within u |diff|
    e = roundoff_sq(m1, a, m1 + v, a)
    shifted = float(gaussian_w2(m1, a, m1 + v, a, squared=True))
    assert ro.check("w2.shift_sq", abs(shifted - np.sum(diff**2)), e + ro.gamma(d + 3, U) * np.sum(diff**2))
    w = float(gaussian_w2(m1, a, m1 + v, a))
    norm = np.linalg.norm(diff)
    assert ro.check("w2.shift", abs(w - norm), ro.sq_to_w(e, norm) + ro.gamma(d + 4, U) * norm)


@given(gaussian_tuple(2), st.sampled_from([-3.0, -1.0, 0.25, 0.5, 2.0, 10.0]))
def test_scaling(pair, c):
    """W(c m1, c^2 a; c m2, c^2 b) = |c| W: the scaled inputs are c m (one rounding) and c^2 a (two)."""
    (m1, a), (m2, b) = pair
    ref_sq = float(gaussian_w2(m1, a, m2, b, squared=True))
    got_sq = float(gaussian_w2(c * m1, c * c * a, c * m2, c * c * b, squared=True))
    ref, got = float(gaussian_w2(m1, a, m2, b)), float(gaussian_w2(c * m1, c * c * a, c * m2, c * c * b))
    legs = (mean_leg(U * np.abs(c * m1)) + mean_leg(U * np.abs(c * m2))
            + cov_leg(fro_of(ro.gamma(2, U) * np.abs(c * c * a)), c * c * a)
            + cov_leg(fro_of(ro.gamma(2, U) * np.abs(c * c * b)), c * c * b))
    e_got = roundoff_sq(c * m1, c * c * a, c * m2, c * c * b)
    e_ref = roundoff_sq(m1, a, m2, b)
    tol = legs + ro.sq_to_w(e_got, got) + abs(c) * ro.sq_to_w(e_ref, ref) + 4 * U * (got + abs(c) * ref)
    assert ro.check("w2.scaling", abs(got - abs(c) * ref), tol)
    w_sq = np.sqrt(got_sq)
    assert ro.check("w2.scaling_sq", abs(w_sq - abs(c) * np.sqrt(ref_sq)),
                    tol + 2 * U * (w_sq + abs(c) * np.sqrt(ref_sq)))


@given(gaussian_tuple(2))
def test_squared_is_square_of_unsquared(pair):
    (m1, a), (m2, b) = pair
    w = float(gaussian_w2(m1, a, m2, b))
    sq = float(gaussian_w2(m1, a, m2, b, squared=True))
    # both come from the same computed W^2: w = sqrt(sq) (1 + t1), w * w = w^2 (1 + t2), |t| <= u
    assert ro.check("w2.squared", abs(w * w - sq), ro.gamma(3, U) * sq)


# ----------------------------------------------------------------------------------------------
# singular covariances
# ----------------------------------------------------------------------------------------------


def _singular_case(rng, d=8, n=3):
    """Unbiased covariance of n = 3 points in d = 8 (rank 2) on each side, plus an SPD one."""
    xs = rng.normal(size=(n, d))
    xt = rng.normal(size=(n, d)) * 1.5 + 0.3
    return (np.cov(xs.T), np.cov(xt.T), random_spd(rng, d), rng.normal(size=d),
            rng.normal(size=d))


@pytest.mark.parametrize("which", ["source", "target", "both"])
@pytest.mark.parametrize("seed", range(4))
def test_singular_covariances(which, seed, xp_name):
    rng = np.random.default_rng(seed)
    sing_s, sing_t, spd, m1, m2 = _singular_case(rng)
    a = sing_s if which in ("source", "both") else spd
    b = sing_t if which in ("target", "both") else spd
    assert np.linalg.matrix_rank(sing_s) == 2 and np.linalg.matrix_rank(sing_t) == 2
    ours = float(to_numpy(gaussian_w2(*(to_lib(x, xp_name) for x in (m1, a, m2, b)))))
    assert np.isfinite(ours)
    # A rank-2 covariance computed in float64 has 6 eigenvalues at round-off level (either sign):
    # their square roots (~1e-8 each) enter the references' first square root, while ours sets
    # round-off eigenvalues to 0; the Bures bound at a singular covariance (Powers-Stormer) is what
    # separates them (sqrt has infinite slope at 0: the agreement is ~sqrt(eps), not eps)
    tol = reference_tolerance(m1, a, m2, b, ours)
    assert ro.check("w2.singular_sqrtm", abs(ours - sqrtm_reference(m1, a, m2, b)), tol)
    assert ro.check("w2.singular_pot", abs(ours - pot_w2_torch(m1, a, m2, b)), tol)


@pytest.mark.parametrize("seed", range(4))
def test_singular_exact_factor_oracle(seed):
    # With a = U U^T and b = V V^T (U, V of rank 2), tr((a^1/2 b a^1/2)^1/2) is the nuclear norm of
    # V^T U (a 2 x 2 SVD: well conditioned). Ours floors round-off eigenvalues and should be much
    # closer to this intended value than the 1e-6 of the sqrtm reference.
    rng = np.random.default_rng(50 + seed)
    d = 8
    u, v = rng.normal(size=(d, 2)), rng.normal(size=(d, 2))
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    a, b = u @ u.T, v @ v.T
    a, b = 0.5 * (a + a.T), 0.5 * (b + b.T)
    nuclear = np.linalg.svd(v.T @ u, compute_uv=False).sum()
    expected = np.sum((m1 - m2) ** 2) + np.sum(u * u) + np.sum(v * v) - 2.0 * nuclear
    got = gaussian_w2(m1, a, m2, b, squared=True)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


# ----------------------------------------------------------------------------------------------
# libraries, dtypes, devices, lazy torch import
# ----------------------------------------------------------------------------------------------


def test_numpy_and_torch_agree():
    rng = np.random.default_rng(11)
    d = 5
    args = (rng.normal(size=d), random_spd(rng, d), rng.normal(size=d), random_spd(rng, d))
    for squared in (False, True):
        w_np = gaussian_w2(*args, squared=squared)
        w_t = gaussian_w2(*(to_lib(x, "torch") for x in args), squared=squared)
        np.testing.assert_allclose(to_numpy(w_t), w_np, rtol=1e-13)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_and_device_preserved(dtype, xp_name):
    rng = np.random.default_rng(12)
    d = 4
    args64 = (rng.normal(size=d), random_spd(rng, d), rng.normal(size=d), random_spd(rng, d))
    args = [to_lib(x, xp_name, dtype=dtype) for x in args64]
    ref = pot_w2(*[np.asarray(x, dtype=dtype).astype(np.float64) for x in args64])
    for fn_args in (args, [a[None] for a in args]):  # scalar and batched results
        out = gaussian_w2(*fn_args)
        if xp_name == "torch":
            import torch

            assert isinstance(out, torch.Tensor)
            assert out.dtype == getattr(torch, dtype)
            assert out.device == fn_args[0].device
        else:
            assert isinstance(out, (np.ndarray, np.generic))
            assert out.dtype == np.dtype(dtype)
        # float32 inputs are computed in float64 internally and rounded once at the end
        np.testing.assert_allclose(to_numpy(out).astype(np.float64).reshape(-1)[0], ref,
                                   rtol=1e-6 if dtype == "float32" else 1e-12)


def test_numpy_only_use_does_not_import_torch():
    code = (
        "import sys, numpy as np\n"
        "from vqmatch import theory\n"
        "w = theory.gaussian_w2(np.zeros(2), np.eye(2), np.ones(2), 2 * np.eye(2))\n"
        "theory.empirical_gaussian_w2(np.random.rand(5, 2), np.random.rand(6, 2))\n"
        "theory.gelbrich_bound(np.random.rand(5, 2), np.random.rand(6, 2))\n"
        "theory.criterion_triple(np.random.rand(5, 2), np.random.rand(3, 2), engine='blas')\n"
        "assert np.isfinite(w)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


# ----------------------------------------------------------------------------------------------
# validation: ValueError naming the parameter
# ----------------------------------------------------------------------------------------------


def _good(d=2):
    return {"mean_s": np.zeros(d), "cov_s": np.eye(d), "mean_t": np.ones(d),
            "cov_t": 2.0 * np.eye(d)}


def _call(kw):
    return gaussian_w2(kw["mean_s"], kw["cov_s"], kw["mean_t"], kw["cov_t"])


@pytest.mark.parametrize("name", ["mean_s", "cov_s", "mean_t", "cov_t"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_input_rejected(name, bad, xp_name):
    kw = _good()
    x = kw[name].copy()
    x.flat[0] = bad
    if x.ndim == 2:
        x.flat[-1] = bad  # keep it symmetric: the finiteness check must be the one that fires
    kw[name] = x
    kw = {k: to_lib(v, xp_name) for k, v in kw.items()}
    with pytest.raises(ValueError, match=name):
        _call(kw)


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"cov_s": np.ones((2, 3))}, "cov_s"),
        ({"cov_t": np.ones((2, 3))}, "cov_t"),
        ({"cov_s": np.ones(2)}, "cov_s"),
        ({"mean_s": np.zeros(3)}, "mean_s"),
        ({"mean_t": np.zeros(3)}, "mean_t"),
        ({"mean_t": np.zeros(3), "cov_t": np.eye(3)}, "mean_t"),  # source/target dimensions
        ({"mean_s": np.array(0.0)}, "mean_s"),
    ],
)
def test_bad_shapes_rejected(changes, name, xp_name):
    kw = _good()
    kw.update(changes)
    kw = {k: to_lib(v, xp_name) for k, v in kw.items()}
    with pytest.raises(ValueError, match=name):
        _call(kw)


@pytest.mark.parametrize("name", ["cov_s", "cov_t"])
def test_nonsymmetric_rejected(name, xp_name):
    kw = _good()
    kw[name] = np.array([[1.0, 0.5], [0.0, 1.0]])
    kw = {k: to_lib(v, xp_name) for k, v in kw.items()}
    with pytest.raises(ValueError, match=f"{name}.*symmetric"):
        _call(kw)


INDEFINITE = {
    "diag(1,-1)": np.diag([1.0, -1.0]),
    "[[1,2],[2,1]]": np.array([[1.0, 2.0], [2.0, 1.0]]),  # positive diagonal, eigenvalue -1
    "diag(-1,-1)": -np.eye(2),
}
OTHER_SIDE = {
    "identity": np.eye(2),
    "spd": np.array([[2.0, 0.3], [0.3, 1.0]]),
    "singular": np.diag([1.0, 0.0]),  # PSD, rank 1: allowed on the other side
    "zero": np.zeros((2, 2)),  # PSD, rank 0: allowed on the other side
}


@pytest.mark.parametrize("other", list(OTHER_SIDE))
@pytest.mark.parametrize("bad", list(INDEFINITE))
@pytest.mark.parametrize("name", ["cov_s", "cov_t"])
def test_indefinite_covariance_rejected(name, bad, other, xp_name):
    kw = _good()
    kw[name] = INDEFINITE[bad]
    kw["cov_t" if name == "cov_s" else "cov_s"] = OTHER_SIDE[other]
    kw = {k: to_lib(v, xp_name) for k, v in kw.items()}
    with pytest.raises(ValueError, match=name):
        _call(kw)


def test_indefinite_rejected_in_batch():
    covs = np.stack([np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])])
    with pytest.raises(ValueError, match="cov_s"):
        gaussian_w2(np.zeros((2, 2)), covs, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="cov_t"):
        gaussian_w2(np.zeros(2), np.eye(2), np.zeros((2, 2)), covs)


@pytest.mark.parametrize("torch_arg", ["mean_s", "cov_s", "mean_t", "cov_t"])
def test_mixing_numpy_and_torch_rejected(torch_arg):
    kw = _good()
    kw[torch_arg] = to_lib(kw[torch_arg], "torch")
    with pytest.raises(ValueError, match=torch_arg):
        _call(kw)


def test_mixing_rejected_in_other_functions():
    x = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(ValueError, match="x_t"):
        empirical_gaussian_w2(x, to_lib(x, "torch"))
    with pytest.raises(ValueError, match="x_s"):
        gelbrich_bound(to_lib(x, "torch"), x)
    with pytest.raises(ValueError, match="cov_t"):
        gaussian_monge_map(np.zeros(2), np.eye(2), np.zeros(2), to_lib(np.eye(2), "torch"))


# ----------------------------------------------------------------------------------------------
# Monge map
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 5])
def test_monge_map_algebra(d, xp_name):
    rng = np.random.default_rng(20 + d)
    ms, mt = rng.normal(size=d), rng.normal(size=d)
    cs, ct = random_spd(rng, d, 0.3, 3.0), random_spd(rng, d, 0.3, 3.0)
    t = gaussian_monge_map(*(to_lib(x, xp_name) for x in (ms, cs, mt, ct)))
    a, c = to_numpy(t.linear), to_numpy(t.offset)
    assert a.shape == (d, d) and c.shape == (d,)
    np.testing.assert_allclose(a, a.T, rtol=0, atol=1e-14 * np.abs(a).max())
    assert np.linalg.eigvalsh(a).min() >= -1e-12 * np.abs(a).max()
    np.testing.assert_allclose(a @ cs @ a, ct, rtol=1e-10, atol=1e-10 * np.abs(ct).max())
    np.testing.assert_allclose(a @ ms + c, mt, rtol=1e-10, atol=1e-12)  # T(m_s) = m_t
    # Gaussian closed form of E|X - T(X)|^2 = |m_s - m_t|^2 + tr(S - 2 A S + A S A) = W2^2
    cost = np.sum((ms - mt) ** 2) + np.trace(cs - 2 * a @ cs + a @ cs @ a)
    np.testing.assert_allclose(cost, gaussian_w2(ms, cs, mt, ct, squared=True), rtol=1e-10)
    # the map applies to a batch of rows and to one vector alike
    x = rng.normal(size=(4, d))
    rows = to_numpy(t(to_lib(x, xp_name)))
    np.testing.assert_allclose(rows, x @ a.T + c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_numpy(t(to_lib(x[0], xp_name))), rows[0], rtol=1e-12,
                               atol=1e-12)


def test_monge_map_monte_carlo():
    rng = np.random.default_rng(2024)
    d, n = 3, 200_000
    ms, mt = rng.normal(size=d), rng.normal(size=d) + 1.0
    cs, ct = random_spd(rng, d, 0.3, 3.0), random_spd(rng, d, 0.3, 3.0)
    t = gaussian_monge_map(ms, cs, mt, ct)
    x = rng.multivariate_normal(ms, cs, size=n)
    sq = np.sum((x - t(x)) ** 2, axis=1)
    se = sq.std(ddof=1) / np.sqrt(n)
    w2sq = gaussian_w2(ms, cs, mt, ct, squared=True)
    assert abs(sq.mean() - w2sq) <= 5 * se, (sq.mean(), w2sq, se)
    # the image sample has the target moments (sampling error only)
    y = t(x)
    np.testing.assert_allclose(y.mean(0), mt, atol=5 * np.sqrt(np.diag(ct).max() / n))


def test_monge_map_singular_source_rejected(xp_name):
    cs = np.cov(np.random.default_rng(1).normal(size=(2, 3)).T)  # rank 1 in d = 3
    args = (np.zeros(3), cs, np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="cov_s"):
        gaussian_monge_map(*(to_lib(x, xp_name) for x in args))


# ----------------------------------------------------------------------------------------------
# Gelbrich bound against exact discrete OT
# ----------------------------------------------------------------------------------------------

SHAPES = ["gaussian", "uniform", "exponential", "mixture"]


def _cloud(rng, n, d, shape):
    if shape == "gaussian":
        return rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    if shape == "uniform":
        return rng.uniform(-1, 2, size=(n, d))
    if shape == "exponential":
        return rng.exponential(size=(n, d)) * rng.uniform(0.5, 3, size=d)
    centers = rng.normal(scale=4, size=(3, d))
    return centers[rng.integers(0, 3, size=n)] + rng.normal(scale=0.3, size=(n, d))


def _weights(rng, n, kind):
    if kind == "uniform":
        return np.full(n, 1.0 / n)
    w = rng.dirichlet(np.full(n, 0.7))
    return w / w.sum()


@pytest.mark.parametrize("weights", ["uniform", "random"])
@pytest.mark.parametrize("shape_t", SHAPES)
@pytest.mark.parametrize("shape_s", SHAPES)
def test_gelbrich_is_lower_bound(shape_s, shape_t, weights):
    rng = np.random.default_rng([SHAPES.index(shape_s), SHAPES.index(shape_t), weights == "random"])
    for _ in range(3):
        d = int(rng.integers(1, 5))
        ns, nt = int(rng.integers(5, 61)), int(rng.integers(5, 61))
        xs, xt = _cloud(rng, ns, d, shape_s), _cloud(rng, nt, d, shape_t)
        a, b = _weights(rng, ns, weights), _weights(rng, nt, weights)
        exact = ot.emd2(a, b, ot.dist(xs, xt))  # squared Euclidean ground cost
        bound = float(gelbrich_bound(xs, xt, a if weights == "random" else None,
                                     b if weights == "random" else None, squared=True))
        scale = np.sum(a[:, None] * xs**2) + np.sum(b[:, None] * xt**2)
        assert bound <= exact + 1e-9 * scale, (bound, exact)


@pytest.mark.parametrize("weights", ["uniform", "random"])
@pytest.mark.parametrize("shape", SHAPES)
def test_gelbrich_equality_for_affine_images(shape, weights):
    rng = np.random.default_rng([99, SHAPES.index(shape), weights == "random"])
    for _ in range(3):
        d = int(rng.integers(1, 5))
        n = int(rng.integers(5, 61))
        xs = _cloud(rng, n, d, shape)
        a_map = random_spd(rng, d, 0.2, 3.0)  # symmetric positive definite: x -> A x + c is the
        c = rng.normal(size=d)  # gradient of a convex function, so the identity coupling is optimal
        xt = xs @ a_map.T + c
        w = _weights(rng, n, weights)
        exact = ot.emd2(w, w, ot.dist(xs, xt))
        direct = float(np.sum(w * np.sum((xs - xt) ** 2, axis=1)))
        bound = float(gelbrich_bound(xs, xt, w, w, squared=True))
        np.testing.assert_allclose(exact, direct, rtol=1e-9)
        np.testing.assert_allclose(bound, direct, rtol=1e-8)
        np.testing.assert_allclose(float(gelbrich_bound(xs, xt, w, w)), np.sqrt(direct),
                                   rtol=1e-8)


def test_gelbrich_uses_exact_moments_of_the_measures():
    rng = np.random.default_rng(3)
    xs, xt = rng.normal(size=(7, 3)), rng.exponential(size=(9, 3))
    ms, cs = xs.mean(0), np.cov(xs.T, ddof=0)
    mt, ct = xt.mean(0), np.cov(xt.T, ddof=0)
    np.testing.assert_allclose(gelbrich_bound(xs, xt), gaussian_w2(ms, cs, mt, ct), rtol=1e-12)
    a = rng.dirichlet(np.ones(7))
    ms_w = a @ xs
    cs_w = (xs - ms_w).T @ ((xs - ms_w) * a[:, None])
    np.testing.assert_allclose(gelbrich_bound(xs, xt, a=a), gaussian_w2(ms_w, cs_w, mt, ct),
                               rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# empirical_gaussian_w2
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ddof", [0, 1])
def test_empirical_matches_moments(ddof, xp_name):
    rng = np.random.default_rng(30 + ddof)
    xs, xt = rng.normal(size=(40, 4)), rng.uniform(size=(25, 4)) * 3
    ref = gaussian_w2(xs.mean(0), np.cov(xs.T, ddof=ddof), xt.mean(0), np.cov(xt.T, ddof=ddof))
    got = empirical_gaussian_w2(to_lib(xs, xp_name), to_lib(xt, xp_name), ddof=ddof)
    np.testing.assert_allclose(to_numpy(got), ref, rtol=1e-12)
    got_sq = empirical_gaussian_w2(to_lib(xs, xp_name), to_lib(xt, xp_name), ddof=ddof,
                                   squared=True)
    np.testing.assert_allclose(to_numpy(got_sq), ref**2, rtol=1e-12)


def test_empirical_singular_sample_covariance():
    rng = np.random.default_rng(31)
    xs, xt = rng.normal(size=(3, 8)), rng.normal(size=(50, 8))  # rank-2 source covariance
    got = float(empirical_gaussian_w2(xs, xt))
    b = ro.points_bound(xs.astype(ro.LD), xt.astype(ro.LD), np.zeros(xs.shape), np.zeros(xt.shape), ro.U64)
    assert ro.check("w2.empirical_singular", abs(got - b.exact), b.w2 + b.exact_error)


@pytest.mark.parametrize("name", ["x_s", "x_t"])
def test_empirical_needs_two_rows(name, xp_name):
    x = {"x_s": np.ones((5, 3)), "x_t": np.ones((5, 3))}
    x[name] = np.ones((1, 3))
    with pytest.raises(ValueError, match=name):
        empirical_gaussian_w2(to_lib(x["x_s"], xp_name), to_lib(x["x_t"], xp_name))


def test_empirical_bad_inputs():
    x = np.ones((5, 3))
    with pytest.raises(ValueError, match="x_s"):
        empirical_gaussian_w2(np.ones(5), x)
    with pytest.raises(ValueError, match="x_t"):
        empirical_gaussian_w2(x, np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match="x_s"):
        empirical_gaussian_w2(x, np.ones((5, 2)))
    with pytest.raises(ValueError, match="ddof"):
        empirical_gaussian_w2(x, x, ddof=2)


@given(st.integers(2, 30), st.integers(2, 30), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_empirical_is_gaussian_w2_of_moments_property(ns, nt, d, seed):
    """Moments and W2 of samples against longdouble moments and the exact closed form, within the a
    priori bounds (rank-deficient when n <= d: the Bures bound needs no conditioning there)."""
    rng = np.random.default_rng(seed)
    xs, xt = rng.normal(size=(ns, d)), rng.exponential(size=(nt, d))
    ms, cs = theory.gaussian_moments(xs)
    m_ref, c_ref = ro.exact_moments(xs)
    bm, bc = ro.moment_bounds(xs, np.zeros(xs.shape), ro.U64)
    assert ro.check("moments.mean", float(np.max(np.abs(ms - m_ref) / bm)), 1.0)
    assert ro.check("moments.cov", float(np.max(np.abs(cs - c_ref) / bc)), 1.0)
    got = float(empirical_gaussian_w2(xs, xt))
    b = ro.points_bound(xs.astype(ro.LD), xt.astype(ro.LD), np.zeros(xs.shape), np.zeros(xt.shape), ro.U64)
    assert ro.check("w2.empirical", abs(got - b.exact), b.w2 + b.exact_error)
    # teeth: the moments of a sample with one point moved by 1e3 times the mean's bound differ
    moved = xs.copy()
    moved[0, 0] += 1e3 * bm[0] * ns
    assert np.abs(theory.gaussian_moments(moved)[0] - m_ref).max() > bm.max()
