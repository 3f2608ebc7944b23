"""The codebook training machinery of the atomic setting: sources, initial codebooks, evaluation
against brute force, settings validation."""

import math
from dataclasses import replace

import numpy as np
import pytest
import scipy.linalg

from vqmatch.simulations.engines import training as tr

TINY_TRAIN = tr.TrainSettings(codebook_size=16, steps=10, batch_size=128, eval_every=5,
                              eval_samples=512)


def test_evaluate_codebook_against_brute_force():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 3)).astype(np.float32) + 0.5
    c = (rng.standard_normal((40, 3)) * 1.3).astype(np.float32)
    got = tr.evaluate_codebook(x, c)
    d2 = ((x[:, None, :].astype(float) - c[None, :, :].astype(float)) ** 2).sum(-1)
    idx = d2.argmin(1)
    counts = np.bincount(idx, minlength=len(c))
    p = counts[counts > 0] / counts.sum()
    assert got["error"] == pytest.approx(d2.min(1).mean(), rel=1e-5)
    assert got["utilization"] == pytest.approx((counts > 0).mean())
    assert got["perplexity"] == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-9)
    # symmetric closed form with biased moments, by an independent scipy sqrtm
    mx, my = x.astype(float).mean(0), c.astype(float).mean(0)
    sx, sy = np.cov(x.T, ddof=0), np.cov(c.T, ddof=0)
    root = scipy.linalg.sqrtm(sx)
    cross = np.real(scipy.linalg.sqrtm(root @ sy @ root))
    w2 = math.sqrt(((mx - my) ** 2).sum() + np.trace(sx + sy - 2 * cross))
    assert got["w2"] == pytest.approx(w2, rel=1e-6)


@pytest.mark.parametrize("z", [0.0, 1.5])
def test_bimodal_source_moments(z):
    d = 4
    src = tr.feature_source("bimodal", d, separation=z)
    np.testing.assert_allclose(src.mean, np.zeros(d), atol=1e-12)
    np.testing.assert_allclose(src.cov, np.eye(d) + z * z * np.ones((d, d)), atol=1e-12)
    x = src.sample(40_000, seed=1)
    np.testing.assert_allclose(x.mean(0), 0.0, atol=5 * math.sqrt((1 + z * z) / 40_000))
    np.testing.assert_allclose(np.cov(x.T), src.cov, atol=0.05 * (1 + z * z))
    # two modes: given x_0 > 0 the mode is +z with probability Phi(z), so that the other
    # coordinates average z (2 Phi(z) - 1); a unimodal law with this covariance would not
    top = x[:, 0] > 0
    from scipy.stats import norm

    assert x[top, 1].mean() == pytest.approx(z * (2 * norm.cdf(z) - 1), abs=0.03)


def test_other_sources_and_inits():
    u = tr.feature_source("uniform", 3, shift=2.0)
    np.testing.assert_allclose(u.mean, 2.0)
    np.testing.assert_allclose(np.diag(u.cov), 1 / 3)
    g = tr.feature_source("gaussian", 2, shift=5.0)
    np.testing.assert_allclose(g.mean, 5.0)
    t = tr.feature_source("student_t", 2)
    np.testing.assert_allclose(np.diag(t.cov), 3.0)  # df / (df - 2) at df = 3
    init = tr.initial_codebook("uniform", 1000, 2, seed=0)
    assert init.dtype == np.float32 and init.min() >= -1 and init.max() <= 1
    with pytest.raises(ValueError, match="source"):
        tr.feature_source("cauchy", 2)
    with pytest.raises(ValueError, match="separation"):  # a shift is not a separation
        tr.feature_source("bimodal", 2, shift=1.0)
    with pytest.raises(ValueError, match="shift"):
        tr.feature_source("gaussian", 2, separation=1.0)
    with pytest.raises(ValueError, match="init"):
        tr.initial_codebook("laplace", 4, 2, seed=0)


def test_eval_steps_include_start_and_end():
    assert tr.eval_steps(replace(TINY_TRAIN, steps=25, eval_every=10)) == [0, 10, 20, 25]
    assert tr.eval_steps(TINY_TRAIN) == [0, 5, 10]


@pytest.mark.parametrize("bad", [{"steps": 0}, {"codebook_size": 1}, {"batch_size": 1.5},
                                 {"eval_every": True}])
def test_train_settings_validation(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        tr.TrainSettings(**bad)
