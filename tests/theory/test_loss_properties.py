"""Properties of the paper's training loss (vqmatch.theory.loss.wasserstein_vq_loss), each in float32
and float64: non-negativity, ~0 at matched moments, invariances (translation, scaling, rotation, code
order), where the gradient goes, finiteness at degenerate inputs, and agreement with an independent
recomputation (longdouble moments, float64 closed form).

Tolerances are the a priori round-off bounds of :mod:`tests.theory.roundoff`: worst-case bounds for
the operations the loss performs (the cast of the data, the division by the scale, the moments in
the input dtype, the float64 closed form), valid for any summation order, BLAS kernel and thread
count, and evaluated on the data of each example (so they follow its conditioning). Each compares
the loss with the exact W2 of the ideal data; an invariance holds exactly for the ideal data, so the
two sides differ by at most the sum of their bounds.
"""

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.stats import ortho_group

from tests.theory import roundoff as ro
from vqmatch.theory import wasserstein_vq_loss

DTYPES = [torch.float32, torch.float64]

# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------


def orthogonal(rng, d):
    return ortho_group.rvs(d, random_state=rng) if d > 1 else np.ones((1, 1))


def well_conditioned(rng, d):
    """A mixing matrix with singular values in [10^-0.5, 10^0.5] (condition number <= 10)."""
    return (orthogonal(rng, d) * 10.0 ** rng.uniform(-0.5, 0.5, size=d)) @ orthogonal(rng, d)


@st.composite
def cases(draw, min_codes=None):
    """(seed, n, k, d, spread, offset): features N(offset, spread^2 A A^T), codes around them.

    By default k >= 2d + 2 codes (a well-conditioned codebook covariance); ``min_codes`` overrides.
    """
    d = draw(st.integers(1, 8), label="d")
    n = draw(st.integers(d + 2, 64), label="n")
    lo = 2 * d + 2 if min_codes is None else min_codes
    k = draw(st.integers(lo, lo + 24), label="k")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    spread = 10.0 ** draw(st.floats(-2.0, 2.0), label="log10 spread")
    offset = draw(st.floats(0.0, 3.0), label="offset / spread")
    return seed, n, k, d, spread, offset


def make_data64(case):
    seed, n, k, d, spread, offset = case
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=d) * offset * spread
    feats = rng.normal(size=(n, d)) @ well_conditioned(rng, d) * spread + centre
    code_spread = rng.uniform(0.2, 2.0) * spread
    codes = (rng.normal(size=(k, d)) @ well_conditioned(rng, d) * code_spread
             + centre + rng.normal(size=d) * rng.uniform(0.0, 1.0) * spread)
    return feats, codes


def make_data(case, dtype):
    feats, codes = make_data64(case)
    return torch.tensor(feats, dtype=dtype), torch.tensor(codes, dtype=dtype)


def normaliser(feats):
    """s: the largest unbiased per-coordinate standard deviation (float64, of the given values)."""
    return float(feats.detach().double().std(dim=0).max())


def exact(x):
    """The stored values as ideal data (longdouble), with no perturbation."""
    v = x.detach().double().numpy().astype(ro.LD)
    return v, np.zeros(v.shape)


def bound_of(feats, codes, ideal_f=None, ideal_c=None, **kw):
    """:func:`tests.theory.roundoff.loss_bound` with (ideal, perturbation) pairs; the stored values
    themselves by default."""
    ideal_f = ideal_f or exact(feats)
    ideal_c = ideal_c or exact(codes)
    return ro.loss_bound(feats, codes, ideal_features=ideal_f[0], perturb_features=ideal_f[1],
                         ideal_codebook=ideal_c[0], perturb_codebook=ideal_c[1], **kw)


def cast_of(x64, stored):
    """The float64 array ``x64`` as ideal data, stored in ``stored``'s dtype (one rounding)."""
    p = ro.rounding(stored, 1) if stored.dtype != torch.float64 else np.zeros(x64.shape)
    return np.asarray(x64, dtype=ro.LD), p


def loss(feats, codes, **kw):
    return float(wasserstein_vq_loss(feats, codes, **kw))


def check(name, error, bound):
    assert ro.check(name, error, bound), (name, error, bound)


# ----------------------------------------------------------------------------------------------
# value
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=2))
def test_nonnegative_and_agrees_with_the_exact_value(case, dtype):
    feats, codes = make_data(case, dtype)
    got_sq, got = loss(feats, codes, squared=True), loss(feats, codes)
    assert got_sq >= 0.0 and got >= 0.0
    assert np.isfinite(got_sq) and np.isfinite(got)
    b = bound_of(feats, codes)
    check(f"agrees.w2[{dtype}]", abs(got - b.exact), b.w2 + b.exact_error)
    check(f"agrees.w2sq[{dtype}]", abs(got_sq - b.exact**2),
          b.w2sq + b.exact_error * (2 * b.exact + b.exact_error))
    # and the check has teeth: moving the codebook by v along the mean difference raises W2^2 by at
    # least |v|^2, so W2 by more than the bound once |v| >= 2 tol + 2 sqrt(2 W tol)
    tol = b.w2 + b.exact_error
    diff = (codes.double().mean(0) - feats.double().mean(0)).numpy()
    direction = diff / np.linalg.norm(diff) if np.linalg.norm(diff) > 0 else np.eye(len(diff))[0]
    step = 4 * tol + 2 * np.sqrt(2 * b.exact * tol) + 2 * tol
    moved = codes + torch.tensor(direction * step * b.scale, dtype=dtype)
    assert abs(loss(feats, moved) - b.exact) > tol


def matched_codebook(feats, k, rng):
    """k >= d + 1 codes with the features' mean and unbiased covariance (float64): an affine map of
    random points, x -> m_z + L_z L_0^-1 (x - m_0)."""
    f = feats.double().numpy()
    x = rng.normal(size=(k, f.shape[1]))
    l_z = np.linalg.cholesky(np.atleast_2d(np.cov(f.T)))
    l_0 = np.linalg.cholesky(np.atleast_2d(np.cov(x.T)))
    return np.linalg.solve(l_0, (x - x.mean(0)).T).T @ l_z.T + f.mean(0)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=9))  # k >= d + 1 for every d <= 8
@example(case=(4_294_967_295, 23, 32, 7, 1.0, 1.0))  # failed on AMD EPYC: an asymmetric X^T X
def test_zero_at_matched_moments(case, dtype):
    """The features (stored in ``dtype``) and a codebook built in float64 with their exact moments
    (then stored in ``dtype``): the loss is the round-off of the casts, the moments and the closed
    form, bounded a priori; ``exact`` measures what is left of the float64 construction."""
    feats64, _ = make_data64(case)
    feats = torch.tensor(feats64, dtype=dtype)
    codes64 = matched_codebook(feats, case[2], np.random.default_rng(case[0]))
    codes = torch.tensor(codes64, dtype=dtype)
    b = bound_of(feats, codes, exact(feats), cast_of(codes64, codes))
    top = b.exact + b.exact_error
    got_sq, got = loss(feats, codes, squared=True), loss(feats, codes)
    assert got_sq >= 0.0 and got >= 0.0
    check(f"matched.w2sq[{dtype}]", got_sq, top * top + b.w2sq)
    check(f"matched.w2[{dtype}]", got, top + b.w2)
    # and the check has teeth: moving the codebook by s / 2 along one axis adds 1/4 to W2^2
    shifted = codes.clone()
    shifted[:, 0] += 0.5 * normaliser(feats)
    assert loss(feats, shifted, squared=True) > max(top * top + b.w2sq, 0.2)


# ----------------------------------------------------------------------------------------------
# invariances: W2 of the ideal data is exactly invariant; compared in the data's units (times the
# loss's scale), the two computed values differ by at most the sum of their bounds
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(), shift=st.floats(-10.0, 10.0), seed=st.integers(0, 2**32 - 1))
def test_translation_invariance(case, dtype, shift, seed):
    feats, codes = make_data(case, dtype)
    d = feats.shape[1]
    t = torch.tensor(np.random.default_rng(seed).normal(size=d) * shift * normaliser(feats),
                     dtype=dtype)
    mf, mc = feats + t, codes + t  # one rounding of the exact sums (of the stored t)
    tl = t.double().numpy().astype(ro.LD)
    ideal_f = (feats.double().numpy().astype(ro.LD) + tl, ro.rounding(mf, 1))
    ideal_c = (codes.double().numpy().astype(ro.LD) + tl, ro.rounding(mc, 1))
    b0, b1 = bound_of(feats, codes), bound_of(mf, mc, ideal_f, ideal_c)
    base, moved = loss(feats, codes) * b0.scale, loss(mf, mc) * b1.scale
    check(f"translation[{dtype}]", abs(base - moved), b0.w2 * b0.scale + b1.w2 * b1.scale
          + 4 * ro.U64 * (base + moved))
    # teeth: translating the codes only is detected
    assert abs(loss(feats, codes + 3 * normaliser(feats)) * b0.scale - base) > b0.w2 * b0.scale


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(), log_c=st.floats(-3.0, 3.0))
def test_scale_invariance(case, dtype, log_c):
    """W2(c x, c y) = c W2(x, y); the loss divides by s + 1e-8, so that normalised it is scale-free up
    to the guard, and in the data's units (times its scale) exactly c times."""
    c = 10.0**log_c
    feats, codes = make_data(case, dtype)
    sf, sc = feats * c, codes * c  # c is rounded to the dtype, then the product: two roundings
    ideal_f = (feats.double().numpy().astype(ro.LD) * ro.LD(c), ro.rounding(sf, 2))
    ideal_c = (codes.double().numpy().astype(ro.LD) * ro.LD(c), ro.rounding(sc, 2))
    b0, b1 = bound_of(feats, codes), bound_of(sf, sc, ideal_f, ideal_c)
    base, scaled = loss(feats, codes) * b0.scale, loss(sf, sc) * b1.scale
    check(f"scale[{dtype}]", abs(scaled - c * base), b1.w2 * b1.scale + c * b0.w2 * b0.scale
          + 4 * ro.U64 * (scaled + c * base))
    # teeth: scaling the codebook alone changes the loss beyond the bound
    assert abs(loss(feats, codes * 1.5) - base / b0.scale) > b0.w2


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(), seed=st.integers(0, 2**32 - 1))
def test_rotation_invariance(case, dtype, seed):
    """For the map L stored as ``q`` (orthogonal only up to its rounding), sigma_min(L) W2 <=
    W2(L x, L y) <= sigma_max(L) W2 (push the optimal coupling through L and through L^-1)."""
    feats, codes = make_data(case, dtype)
    d = feats.shape[1]
    q = torch.tensor(orthogonal(np.random.default_rng(seed), d), dtype=dtype)
    rf, rc = feats @ q.T, codes @ q.T
    q64 = q.double().numpy()
    sig = np.linalg.svd(q64, compute_uv=False)
    off = max(sig[0] - 1.0, 1.0 - sig[-1]) + d * d * ro.U64
    u = ro.unit_roundoff(dtype)

    def rotated(x):  # ideal: the exact product with the stored q; stored: within gamma_d |x| |q|
        x64 = x.double().numpy()
        p = ro.gamma(d, u) * (np.abs(x64) @ np.abs(q64).T) + ro.gamma(d, ro.U_LD) * (
            np.abs(x64) @ np.abs(q64).T)
        return x64.astype(ro.LD) @ q64.T.astype(ro.LD), p

    for normalize in (False, True):
        b0 = bound_of(feats, codes, normalize=normalize)
        b1 = bound_of(rf, rc, rotated(feats), rotated(codes), normalize=normalize)
        base = loss(feats, codes, normalize=normalize) * b0.scale
        rot = loss(rf, rc, normalize=normalize) * b1.scale
        w = (b0.exact + b0.exact_error) * b0.scale
        check(f"rotation[{dtype}]", abs(base - rot), b0.w2 * b0.scale + b1.w2 * b1.scale + off * w
              + 4 * ro.U64 * (base + rot))


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=2), seed=st.integers(0, 2**32 - 1))
def test_code_permutation_invariance(case, dtype, seed):
    feats, codes = make_data(case, dtype)
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(codes.shape[0]))
    b0, b1 = bound_of(feats, codes), bound_of(feats, codes[perm])
    base, permuted = loss(feats, codes), loss(feats, codes[perm])
    check(f"permutation[{dtype}]", abs(base - permuted), b0.w2 + b1.w2)


# ----------------------------------------------------------------------------------------------
# gradients
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=2))
def test_gradient_reaches_the_codebook_only(case, dtype):
    feats, codes = make_data(case, dtype)
    feats.requires_grad_(True)
    codes.requires_grad_(True)
    value = wasserstein_vq_loss(feats, codes)
    value.backward()
    assert feats.grad is None or bool((feats.grad == 0).all())
    assert codes.grad is not None and bool(torch.isfinite(codes.grad).all())
    if float(value.detach()) > bound_of(feats, codes).w2:  # W2 > 0 for certain
        assert float(codes.grad.abs().max()) > 0
        # and the check has teeth: without the detach the features do receive a gradient
        feats.grad = None
        wasserstein_vq_loss(feats, codes, detach_features=False).backward()
        assert feats.grad is not None and float(feats.grad.abs().max()) > 0


def assert_finite_value_and_gradient(feats, codes, **kw):
    codes = codes.detach().clone().requires_grad_(True)
    for squared in (False, True):
        codes.grad = None
        value = wasserstein_vq_loss(feats, codes, squared=squared, **kw)
        value.backward()
        value = value.detach()
        assert bool(torch.isfinite(value)) and float(value) >= 0.0, (float(value), kw)
        assert bool(torch.isfinite(codes.grad).all()), kw
    return float(wasserstein_vq_loss(feats, codes.detach(), squared=True, **kw))


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=2), k=st.integers(2, 7))
def test_finite_with_fewer_codes_than_dimensions(case, dtype, k):
    seed, n, _, d, spread, offset = case
    d = max(d, k + 1)  # k < d: a singular codebook covariance (the float32 case used to raise)
    feats, codes = make_data((seed, max(n, d + 2), k, d, spread, offset), dtype)
    got_sq = assert_finite_value_and_gradient(feats, codes)
    assert_finite_value_and_gradient(feats, codes * 0.01)  # the authors' init scale
    b = bound_of(feats, codes)
    check(f"fewer_codes.w2sq[{dtype}]", abs(got_sq - b.exact**2),
          b.w2sq + b.exact_error * (2 * b.exact + b.exact_error))


def closed_form_sq(one, many):
    """|m_many - c|^2 + tr(Sigma_many) in longdouble: W2^2 (in the data's units) when one set is a
    single repeated point c."""
    c = one.detach().double().numpy().astype(ro.LD)[0]
    m, cov = ro.exact_moments(many.detach().double().numpy())
    return float(np.sum((m - c) ** 2) + np.trace(cov))


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases())
def test_finite_with_duplicate_codes(case, dtype):
    feats, codes = make_data(case, dtype)
    # a few distinct codes, each repeated: a singular codebook covariance
    assert_finite_value_and_gradient(feats, codes[torch.arange(codes.shape[0]) % 2])
    # all codes equal: zero codebook covariance, W2^2 = |m_z - c|^2 + tr(Sigma_z) (normalised)
    same = codes[:1].repeat(codes.shape[0], 1)
    got_sq = assert_finite_value_and_gradient(feats, same)
    b = bound_of(feats, same)
    expected = closed_form_sq(same, feats) / b.scale**2
    check(f"duplicate_codes[{dtype}]", abs(got_sq - expected),
          b.w2sq + 8 * ro.U_LD * expected)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=2))
def test_finite_with_a_single_repeated_feature(case, dtype):
    feats, codes = make_data(case, dtype)
    one = feats[:1].repeat(feats.shape[0], 1)  # zero feature covariance: s = 0 + the 1e-8 guard
    assert_finite_value_and_gradient(one, codes)
    # unnormalised: W2^2 = |m_c - z|^2 + tr(Sigma_c), the trace term vanishing with Sigma_z = 0
    got_sq = assert_finite_value_and_gradient(one, codes, normalize=False)
    b = bound_of(one, codes, normalize=False)
    expected = closed_form_sq(one, codes)
    check(f"single_feature[{dtype}]", abs(got_sq - expected), b.w2sq + 8 * ro.U_LD * expected)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(), scale=st.sampled_from([1e-6, 1e6]), which=st.sampled_from(["both", "codes"]))
def test_finite_when_badly_scaled(case, dtype, scale, which):
    feats, codes = make_data(case, dtype)
    f = feats * scale if which == "both" else feats
    got_sq = assert_finite_value_and_gradient(f, codes * scale)
    if which == "both":  # W2 scales exactly; compared in the data's units (see test_scale_invariance)
        ideal_f = (feats.double().numpy().astype(ro.LD) * ro.LD(scale), ro.rounding(f, 2))
        ideal_c = (codes.double().numpy().astype(ro.LD) * ro.LD(scale), ro.rounding(codes * scale, 2))
        b0, b1 = bound_of(feats, codes), bound_of(f, codes * scale, ideal_f, ideal_c)
        base_sq = loss(feats, codes, squared=True) * b0.scale**2
        got = got_sq * b1.scale**2
        check(f"badly_scaled[{dtype}]", abs(got - scale**2 * base_sq),
              b1.w2sq * b1.scale**2 + scale**2 * b0.w2sq * b0.scale**2
              + 8 * ro.U64 * (got + scale**2 * base_sq))
