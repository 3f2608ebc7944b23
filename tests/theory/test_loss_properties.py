"""Properties of the paper's training loss (vqmatch.theory.loss.wasserstein_vq_loss), each in float32 and
float64: non-negativity, ~0 at matched moments, invariances (translation, scaling, rotation, code
order), where the gradient goes, finiteness at degenerate inputs, and agreement with an independent
float64 recomputation.

Tolerances. All values are compared in the loss's normalised units (features divided by their
largest per-coordinate standard deviation s). Rounding the inputs to the dtype moves every entry by
up to eps * R (R the largest |entry| / s), the moments by ~eps * R, and W2^2 by
ROUNDOFF * eps * (d (1 + R) + W2^2); ROUNDOFF = 1000 is 5x the largest ratio measured over random
cases of the strategies below (~175 in float64, where the eigenvalue solve of an ill-conditioned
M dominates, ~14 in float32), i.e. about 1e-4 relative in float32 and 1e-12 in float64. The
un-squared loss then differs by at most delta / (a + b) and sqrt(delta) (|a - b| = |a^2 - b^2| /
(a + b)).
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import ortho_group

from vqmatch.theory import gaussian_w2, wasserstein_vq_loss
from vqmatch.theory.loss import STD_GUARD

DTYPES = [torch.float32, torch.float64]
EPS = {torch.float32: float(torch.finfo(torch.float32).eps),
       torch.float64: float(torch.finfo(torch.float64).eps)}
ROUNDOFF = 1000.0

# ----------------------------------------------------------------------------------------------
# data and tolerances
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


def make_data(case, dtype):
    seed, n, k, d, spread, offset = case
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=d) * offset * spread
    feats = rng.normal(size=(n, d)) @ well_conditioned(rng, d) * spread + centre
    code_spread = rng.uniform(0.2, 2.0) * spread
    codes = (rng.normal(size=(k, d)) @ well_conditioned(rng, d) * code_spread
             + centre + rng.normal(size=d) * rng.uniform(0.0, 1.0) * spread)
    return torch.tensor(feats, dtype=dtype), torch.tensor(codes, dtype=dtype)


def normaliser(feats):
    """s: the largest unbiased per-coordinate standard deviation (float64, of the given values)."""
    return float(feats.detach().double().std(dim=0).max())


def extent(feats, *others):
    """R: the largest |entry| of all inputs, in units of the features' normaliser."""
    s = normaliser(feats) + STD_GUARD
    return max(float(x.detach().double().abs().max()) for x in (feats, *others)) / s


def delta_sq(dtype, d, r, value):
    """Allowed round-off of a normalised W2^2 of size ``value`` (see the module docstring)."""
    return ROUNDOFF * EPS[dtype] * (d * (1.0 + r) + abs(value))


def ill_conditioned_allowance(delta, d, k, r):
    """Extra round-off allowance for a codebook of k < 2d + 2 codes, whose covariance is singular
    (k <= d) or may be ill-conditioned: the trace term sum_i sqrt(mu_i) moves by up to
    sum_i sqrt(|d mu_i|) <= d sqrt(|dM|) (twice in W2^2), and |dM| <= delta (1 + R)^2 here."""
    return 2.0 * d * np.sqrt(delta * (1.0 + r) ** 2) if k < 2 * d + 2 else 0.0


def close_unsquared(a, b, delta):
    """|a - b| within what a W2^2 round-off of ``delta`` allows for W2 = sqrt(W2^2)."""
    return abs(a - b) <= min(delta / max(a + b, 1e-300), np.sqrt(delta))


def loss(feats, codes, **kw):
    return float(wasserstein_vq_loss(feats, codes, **kw))


def reference(feats, codes, squared=False):
    """Independent float64 recomputation with numpy: normalised moments, then gaussian_w2."""
    f = feats.detach().double().numpy()
    c = codes.detach().double().numpy()
    s = f.std(axis=0, ddof=1).max() + STD_GUARD
    z, e = f / s, c / s
    cov = [np.atleast_2d(np.cov(x.T)) for x in (z, e)]
    return float(gaussian_w2(z.mean(0), cov[0], e.mean(0), cov[1], squared=squared))


# ----------------------------------------------------------------------------------------------
# value
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=2))
def test_nonnegative_and_agrees_with_float64_reference(case, dtype):
    feats, codes = make_data(case, dtype)
    d, r = feats.shape[1], extent(feats, codes)
    got_sq = loss(feats, codes, squared=True)
    got = loss(feats, codes)
    assert got_sq >= 0.0 and got >= 0.0
    assert np.isfinite(got_sq) and np.isfinite(got)
    ref_sq = reference(feats, codes, squared=True)
    delta = delta_sq(dtype, d, r, ref_sq)
    delta += ill_conditioned_allowance(delta, d, codes.shape[0], r)
    assert abs(got_sq - ref_sq) <= delta, (got_sq, ref_sq, delta)
    assert close_unsquared(got, np.sqrt(ref_sq), delta), (got, np.sqrt(ref_sq), delta)


def matched_codebook(feats, k, rng):
    """k >= d + 1 codes with exactly the features' mean and unbiased covariance (float64): an
    affine map of random points, x -> m_z + L_z L_0^-1 (x - m_0)."""
    f = feats.double().numpy()
    x = rng.normal(size=(k, f.shape[1]))
    l_z = np.linalg.cholesky(np.atleast_2d(np.cov(f.T)))
    l_0 = np.linalg.cholesky(np.atleast_2d(np.cov(x.T)))
    y = np.linalg.solve(l_0, (x - x.mean(0)).T).T @ l_z.T + f.mean(0)
    np.testing.assert_allclose(np.atleast_2d(np.cov(y.T)), np.atleast_2d(np.cov(f.T)), rtol=1e-9,
                               atol=1e-12 * np.abs(np.cov(f.T)).max())
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=9))  # k >= d + 1 for every d <= 8
def test_zero_at_matched_moments(case, dtype):
    feats, _ = make_data(case, dtype)
    k, d = case[2], feats.shape[1]
    codes = torch.tensor(matched_codebook(feats, k, np.random.default_rng(case[0])), dtype=dtype)
    r = extent(feats, codes)
    # W2^2 is quadratic at its minimum: rounding the inputs (eps * R) moves the moments by
    # ~eps (1 + R) and W2^2 by ~d (eps (1 + R))^2 / lambda_min (normalised units); the float64
    # evaluation of tr + tr - 2 tr(.)^1/2 adds ~d eps64 (1 + R). Measured ratios to this sum stay
    # below 4 (float64) and 0.4 (float32): ROUNDOFF is ample, and still far from the 0.25 below.
    f = feats.double().numpy()
    lam_min = np.linalg.eigvalsh(np.atleast_2d(np.cov((f / normaliser(feats)).T)))[0]
    delta = ROUNDOFF * d * ((EPS[dtype] * (1.0 + r)) ** 2 / lam_min + EPS[torch.float64] * (1.0 + r))
    assert 0.0 <= loss(feats, codes, squared=True) <= delta
    assert 0.0 <= loss(feats, codes) <= np.sqrt(delta)
    # and the check has teeth: moving the codebook by s / 2 along one axis adds 1/4 to W2^2
    shifted = codes.clone()
    shifted[:, 0] += 0.5 * normaliser(feats)
    assert loss(feats, shifted, squared=True) > max(delta, 0.2)


# ----------------------------------------------------------------------------------------------
# invariances
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(), shift=st.floats(-10.0, 10.0), seed=st.integers(0, 2**32 - 1))
def test_translation_invariance(case, dtype, shift, seed):
    feats, codes = make_data(case, dtype)
    d = feats.shape[1]
    t = torch.tensor(np.random.default_rng(seed).normal(size=d) * shift * normaliser(feats),
                     dtype=dtype)
    base, moved = loss(feats, codes), loss(feats + t, codes + t)
    delta = delta_sq(dtype, d, max(extent(feats, codes), extent(feats + t, codes + t)), base**2)
    assert close_unsquared(base, moved, delta), (base, moved, delta)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(), log_c=st.floats(-3.0, 3.0))
def test_scale_invariance(case, dtype, log_c):
    # normalised by s + 1e-8: loss(c x) = c (s + g) / (c s + g) * loss(x) exactly, i.e. scale-free
    # up to the guard g = 1e-8 (a relative 1e-8 |1 - 1/c| / s)
    c = 10.0**log_c
    feats, codes = make_data(case, dtype)
    d, s = feats.shape[1], normaliser(feats)
    base, scaled = loss(feats, codes), loss(feats * c, codes * c)
    ratio = c * (s + STD_GUARD) / (c * s + STD_GUARD)
    delta = delta_sq(dtype, d, extent(feats, codes), base**2)
    assert close_unsquared(scaled, ratio * base, delta * ratio**2), (scaled, base, ratio)
    assert abs(scaled - base) <= abs(ratio - 1.0) * base + np.sqrt(delta) * max(ratio, 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(), seed=st.integers(0, 2**32 - 1))
def test_rotation_invariance(case, dtype, seed):
    feats, codes = make_data(case, dtype)
    d = feats.shape[1]
    q = torch.tensor(orthogonal(np.random.default_rng(seed), d), dtype=dtype)  # Haar
    rf, rc = feats @ q.T, codes @ q.T
    r = max(extent(feats, codes), extent(rf, rc))
    # unnormalised: W2 is rotation invariant (compared in the features' units s)
    s = normaliser(feats)
    base, rot = loss(feats, codes, normalize=False) / s, loss(rf, rc, normalize=False) / s
    assert close_unsquared(base, rot, delta_sq(dtype, d, r, base**2)), (base, rot)
    # normalised: the normaliser max_j std_j is not rotation invariant (it depends on the axes), so
    # the loss is invariant once multiplied back by it
    base_n = loss(feats, codes) * (s + STD_GUARD) / s
    rot_n = loss(rf, rc) * (normaliser(rf) + STD_GUARD) / s
    assert close_unsquared(base_n, rot_n, delta_sq(dtype, d, r, base_n**2)), (base_n, rot_n)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=2), seed=st.integers(0, 2**32 - 1))
def test_code_permutation_invariance(case, dtype, seed):
    feats, codes = make_data(case, dtype)
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(codes.shape[0]))
    base, permuted = loss(feats, codes), loss(feats, codes[perm])
    d, r = feats.shape[1], extent(feats, codes)
    delta = delta_sq(dtype, d, r, base**2)
    delta += ill_conditioned_allowance(delta, d, codes.shape[0], r)
    assert close_unsquared(base, permuted, delta), (base, permuted, delta)


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
    if float(value.detach()) ** 2 > delta_sq(dtype, feats.shape[1], extent(feats, codes), 0.0):
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
    ref_sq = reference(feats, codes, squared=True)
    r = extent(feats, codes)
    delta = delta_sq(dtype, d, r, ref_sq)
    delta += ill_conditioned_allowance(delta, d, k, r)
    assert abs(got_sq - ref_sq) <= delta, (got_sq, ref_sq, delta)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases())
def test_finite_with_duplicate_codes(case, dtype):
    feats, codes = make_data(case, dtype)
    # a few distinct codes, each repeated: a singular codebook covariance
    assert_finite_value_and_gradient(feats, codes[torch.arange(codes.shape[0]) % 2])
    # all codes equal: zero codebook covariance, W2^2 = |m_z - c|^2 + tr(Sigma_z) (normalised)
    same = codes[:1].repeat(codes.shape[0], 1)
    got_sq = assert_finite_value_and_gradient(feats, same)
    f = feats.double().numpy()
    s = f.std(axis=0, ddof=1).max() + STD_GUARD
    expected = (np.sum((f.mean(0) - same[0].double().numpy()) ** 2)
                + np.trace(np.atleast_2d(np.cov(f.T)))) / s**2
    delta = delta_sq(dtype, feats.shape[1], extent(feats, same), expected)
    assert abs(got_sq - expected) <= delta, (got_sq, expected, delta)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(min_codes=2))
def test_finite_with_a_single_repeated_feature(case, dtype):
    feats, codes = make_data(case, dtype)
    one = feats[:1].repeat(feats.shape[0], 1)  # zero feature covariance: s = 0 + the 1e-8 guard
    assert_finite_value_and_gradient(one, codes)
    # unnormalised: W2^2 = |m_c - z|^2 + tr(Sigma_c), the trace term vanishing with Sigma_z = 0
    got_sq = assert_finite_value_and_gradient(one, codes, normalize=False)
    c = codes.double().numpy()
    expected = (np.sum((c.mean(0) - one[0].double().numpy()) ** 2)
                + np.trace(np.atleast_2d(np.cov(c.T))))
    scale = float(np.abs(c).max()) ** 2 + float(one.double().abs().max()) ** 2
    assert abs(got_sq - expected) <= ROUNDOFF * EPS[dtype] * feats.shape[1] * scale


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=cases(), scale=st.sampled_from([1e-6, 1e6]), which=st.sampled_from(["both", "codes"]))
def test_finite_when_badly_scaled(case, dtype, scale, which):
    feats, codes = make_data(case, dtype)
    f = feats * scale if which == "both" else feats
    got_sq = assert_finite_value_and_gradient(f, codes * scale)
    if which == "both":  # scale-free, up to the 1e-8 guard (see test_scale_invariance)
        s = normaliser(feats)
        ratio = scale * (s + STD_GUARD) / (normaliser(f) + STD_GUARD)
        base_sq = loss(feats, codes, squared=True)
        delta = delta_sq(dtype, feats.shape[1], extent(feats, codes), base_sq)
        assert abs(got_sq - ratio**2 * base_sq) <= delta * max(ratio, 1.0) ** 2, (got_sq, base_sq)
