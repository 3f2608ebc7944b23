"""Gradients of the closed-form Gaussian W2 in torch (float64): gradcheck against finite differences,
an analytic derivative computed with scipy, finiteness at the degenerate points the module documents
(equal / isotropic / singular / badly scaled covariances, W = 0), and a descent sanity check."""

import numpy as np
import pytest
import scipy.linalg
import torch

from vqmatch.theory import empirical_gaussian_w2, gaussian_w2

DT = torch.float64


def random_spd(rng, d, lo=0.5, hi=2.0):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s = (q * rng.uniform(lo, hi, size=d)) @ q.T
    return 0.5 * (s + s.T)


def t(x, grad=False):
    return torch.tensor(np.asarray(x), dtype=DT, requires_grad=grad)


def sym(c):
    # gradcheck perturbs one entry at a time, which makes a symmetric input non-symmetric by the
    # finite-difference step (1e-6) and the function rightly refuses that (symmetry validation).
    # Checking the composition with the symmetrisation keeps every evaluation valid; its Jacobian
    # is the symmetric part of the gradient, which is what the closed-form backward returns.
    return 0.5 * (c + c.mT)


def grads(loss, *xs):
    return torch.autograd.grad(loss, xs, allow_unused=True)


def all_finite(gs):
    return all(g is None or bool(torch.isfinite(g).all()) for g in gs)


# ----------------------------------------------------------------------------------------------
# gradcheck
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("d", [1, 2, 4])
def test_gradcheck_all_inputs(d, squared):
    rng = np.random.default_rng(d + 10 * squared)
    ms, mt = t(rng.normal(size=d), True), t(rng.normal(size=d) + 1.0, True)
    cs, ct = t(random_spd(rng, d), True), t(random_spd(rng, d, 1.0, 3.0), True)

    def f(ms, cs, mt, ct):
        return gaussian_w2(ms, sym(cs), mt, sym(ct), squared=squared)

    assert torch.autograd.gradcheck(f, (ms, cs, mt, ct), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_gradcheck_batched_broadcast(d):
    rng = np.random.default_rng(40 + d)
    ms = t(rng.normal(size=(3, d)), True)
    cs = t(np.stack([random_spd(rng, d) for _ in range(3)]), True)
    mt, ct = t(rng.normal(size=d), True), t(random_spd(rng, d), True)

    def f(ms, cs, mt, ct):
        return gaussian_w2(ms, sym(cs), mt, sym(ct))

    assert torch.autograd.gradcheck(f, (ms, cs, mt, ct), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("d", [1, 2, 4])
def test_gradcheck_empirical_wrt_points(d, squared):
    rng = np.random.default_rng(60 + d)
    xs = t(rng.normal(size=(d + 4, d)), True)
    xt = t(rng.normal(size=(d + 6, d)) * 1.5 + 0.5, True)

    def f(xs, xt):
        return empirical_gaussian_w2(xs, xt, squared=squared)

    assert torch.autograd.gradcheck(f, (xs, xt), eps=1e-6, atol=1e-7, rtol=1e-5)


# ----------------------------------------------------------------------------------------------
# analytic gradient (scipy), independent of autograd
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 3, 6])
def test_trace_term_gradient_matches_analytic(d):
    rng = np.random.default_rng(70 + d)
    a, b = random_spd(rng, d, 0.3, 3.0), random_spd(rng, d, 0.3, 3.0)
    ra = scipy.linalg.sqrtm(a).real
    mid = scipy.linalg.sqrtm(ra @ b @ ra).real
    analytic = 0.5 * ra @ scipy.linalg.inv(mid) @ ra  # d/dB tr((A^1/2 B A^1/2)^1/2)
    m = t(np.zeros(d))
    ta, tb = t(a), t(b, True)
    w2sq = gaussian_w2(m, ta, m, tb, squared=True)
    trace_term = 0.5 * (ta.trace() + tb.trace() - w2sq)  # equals tr((A^1/2 B A^1/2)^1/2)
    (g,) = grads(trace_term, tb)
    np.testing.assert_allclose(g.numpy(), analytic, rtol=1e-9, atol=1e-11)
    # and the gradient with respect to A, by the symmetry of the trace term
    rb = scipy.linalg.sqrtm(b).real
    analytic_a = 0.5 * rb @ scipy.linalg.inv(scipy.linalg.sqrtm(rb @ a @ rb).real) @ rb
    ta_g = t(a, True)
    w2sq = gaussian_w2(m, ta_g, m, t(b), squared=True)
    (ga,) = grads(0.5 * (ta_g.trace() + t(b).trace() - w2sq), ta_g)
    np.testing.assert_allclose(ga.numpy(), analytic_a, rtol=1e-9, atol=1e-11)


def test_mean_gradient_is_analytic():
    # d W / d m_s = (m_s - m_t) / W and d W^2 / d m_s = 2 (m_s - m_t)
    rng = np.random.default_rng(80)
    d = 3
    ms, mt = t(rng.normal(size=d), True), t(rng.normal(size=d))
    cs, ct = t(random_spd(rng, d)), t(random_spd(rng, d))
    w = gaussian_w2(ms, cs, mt, ct)
    (g,) = grads(w, ms)
    np.testing.assert_allclose(g.numpy(), ((ms - mt) / w).detach().numpy(), rtol=1e-12)
    (g2,) = grads(gaussian_w2(ms, cs, mt, ct, squared=True), ms)
    np.testing.assert_allclose(g2.numpy(), (2 * (ms - mt)).detach().numpy(), rtol=1e-13)


# ----------------------------------------------------------------------------------------------
# finiteness at degenerate points
# ----------------------------------------------------------------------------------------------


def _grad_all(ms, cs, mt, ct, squared):
    xs = [t(x, True) for x in (ms, cs, mt, ct)]
    w = gaussian_w2(*xs, squared=squared)
    return w, grads(w, *xs)


def _singular(rng, d, rank):
    """Unbiased covariance of rank + 1 points: rank min(rank, d - 1) (the zero matrix in d = 1)."""
    rank = min(rank, d - 1)
    if rank == 0:
        return np.zeros((d, d))
    x = rng.normal(size=(rank + 1, d))
    return np.atleast_2d(np.cov(x.T))


CASES = {
    "equal_covariances": lambda r, d: (random_spd(r, d),) * 2,
    "both_isotropic": lambda r, d: (2.0 * np.eye(d), 0.3 * np.eye(d)),
    "equal_isotropic": lambda r, d: (1.7 * np.eye(d), 1.7 * np.eye(d)),
    "singular_target": lambda r, d: (random_spd(r, d), _singular(r, d, 2)),
    "singular_source": lambda r, d: (_singular(r, d, 2), random_spd(r, d)),
    "singular_both": lambda r, d: (_singular(r, d, 2), _singular(r, d, 1)),
    "zero_target": lambda r, d: (random_spd(r, d), np.zeros((d, d))),
    "tiny_both": lambda r, d: (1e-6 * random_spd(r, d), 1e-6 * random_spd(r, d)),
    "huge_both": lambda r, d: (1e6 * random_spd(r, d), 1e6 * random_spd(r, d)),
    "tiny_huge": lambda r, d: (1e-6 * random_spd(r, d), 1e6 * random_spd(r, d)),
    "huge_tiny": lambda r, d: (1e6 * random_spd(r, d), 1e-6 * random_spd(r, d)),
}


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("d", [1, 4])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("same_mean", [False, True])
def test_gradients_finite_at_degenerate_points(case, d, squared, same_mean):
    rng = np.random.default_rng(list(CASES).index(case) * 10 + d)
    cs, ct = CASES[case](rng, d)
    ms = rng.normal(size=d)
    mt = ms if same_mean else rng.normal(size=d)
    w, gs = _grad_all(ms, cs, mt, ct, squared)
    assert torch.isfinite(w.detach())
    assert all_finite(gs), (case, [g for g in gs])


@pytest.mark.parametrize("s", [1.0, 4.0, 0.25, 1.7, 3.0])
@pytest.mark.parametrize("d", [1, 3, 5])
def test_equal_isotropic_equal_means(s, d):
    # Powers of 4: the Cholesky factor sqrt(s) is exact, M = s^2 I exactly, so W = 0 exactly.
    # Other s: W is round-off (~sqrt(eps)) but the un-squared gradient is exactly 0 (documented:
    # W2^2 below 64 eps * scale counts as 0, and 0 is a subgradient of W at its minimum).
    m = np.linspace(-1, 1, d)
    w, gs = _grad_all(m, s * np.eye(d), m, s * np.eye(d), squared=False)
    if s in (1.0, 4.0, 0.25):
        assert float(w.detach()) == 0.0
    assert float(w.detach()) <= 1e-7 * np.sqrt(s)
    for g in gs:
        assert torch.equal(g, torch.zeros_like(g)), g


@pytest.mark.parametrize("d", [1, 2, 5])
def test_unsquared_gradient_exactly_zero_at_identical_inputs(d):
    rng = np.random.default_rng(90 + d)
    m, c = rng.normal(size=d), random_spd(rng, d, 0.1, 10.0)
    w, gs = _grad_all(m, c, m, c, squared=False)
    assert float(w.detach()) < 1e-6  # round-off: see the module docstring ("order sqrt(eps)")
    for g in gs:
        assert torch.equal(g, torch.zeros_like(g)), g


@pytest.mark.parametrize("d", [1, 2, 5])
def test_squared_gradient_vanishes_at_identical_inputs(d):
    # W^2 is smooth with a minimum at equal inputs: its true gradient there is 0; computed, it is
    # round-off of the closed-form backward (I - F V diag(mu^-1/2) V^T F^T ~ eps * cond).
    rng = np.random.default_rng(95 + d)
    m, c = rng.normal(size=d), random_spd(rng, d, 0.1, 10.0)
    w, gs = _grad_all(m, c, m, c, squared=True)
    assert float(w.detach()) < 1e-10
    for g in gs:
        assert torch.isfinite(g).all()
        assert float(g.abs().max()) < 1e-10, g


def test_singular_target_source_gradient_matches_pseudo_inverse_formula():
    # With B = V V^T singular and A SPD, A -> tr((B^1/2 A B^1/2)^1/2) is smooth (the zero
    # eigenvalues stay zero); its gradient is 0.5 V (V^T A V)^(-1/2) V^T with a rank-r middle.
    rng = np.random.default_rng(99)
    d, r = 6, 2
    v = rng.normal(size=(d, r))
    a, b = random_spd(rng, d), v @ v.T
    b = 0.5 * (b + b.T)
    lam, q = np.linalg.eigh(v.T @ a @ v)
    analytic = 0.5 * v @ (q / np.sqrt(lam)) @ q.T @ v.T
    m = t(np.zeros(d))
    ta = t(a, True)
    w2sq = gaussian_w2(m, ta, m, t(b), squared=True)
    (g,) = grads(0.5 * (ta.trace() + float(np.trace(b)) - w2sq), ta)
    np.testing.assert_allclose(g.numpy(), analytic, rtol=1e-7, atol=1e-9)


# ----------------------------------------------------------------------------------------------
# descent sanity
# ----------------------------------------------------------------------------------------------


def test_gradient_descent_drives_w_to_zero():
    rng = np.random.default_rng(123)
    d = 3
    m_target, c_target = t(rng.normal(size=d) * 2), t(random_spd(rng, d, 0.5, 3.0))
    mean = torch.zeros(d, dtype=DT, requires_grad=True)
    factor = torch.eye(d, dtype=DT).mul(0.1).requires_grad_(True)  # cov = L L^T stays PSD
    opt = torch.optim.SGD([mean, factor], lr=0.1)
    start = float(gaussian_w2(mean.detach(), (factor @ factor.T).detach(), m_target, c_target))
    for _ in range(200):
        opt.zero_grad()
        loss = gaussian_w2(mean, factor @ factor.T, m_target, c_target, squared=True)
        loss.backward()
        opt.step()
    end = float(gaussian_w2(mean.detach(), (factor @ factor.T).detach(), m_target, c_target))
    assert start > 1.0
    assert end < 1e-4, end
    np.testing.assert_allclose((factor @ factor.T).detach().numpy(), c_target.numpy(), atol=1e-4)


def test_descent_on_codebook_points_matches_moments():
    # the paper's use: codebook points (K < d allowed) pulled by the un-squared W2 toward the
    # feature Gaussian; with K > d the moments can be matched exactly
    rng = np.random.default_rng(321)
    d, k = 3, 16
    feats = t(rng.normal(size=(400, d)) @ np.diag([2.0, 1.0, 0.5]) + 1.0)
    codes = torch.tensor(rng.normal(size=(k, d)) * 0.01, dtype=DT, requires_grad=True)
    opt = torch.optim.Adam([codes], lr=0.05)
    for _ in range(600):
        opt.zero_grad()
        loss = empirical_gaussian_w2(feats, codes)
        loss.backward()
        assert torch.isfinite(codes.grad).all()
        opt.step()
    assert float(empirical_gaussian_w2(feats, codes.detach())) < 0.05
