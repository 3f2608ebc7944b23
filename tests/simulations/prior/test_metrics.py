"""Token statistics: entropy, perplexity, utilisation, unigram baselines, Jensen-Shannon divergence."""

import math

import numpy as np
import pytest

from vqmatch.simulations.prior import (
    check_tokens,
    entropy_bits,
    histogram,
    js_divergence,
    log2_k,
    perplexity,
    token_stats,
    unigram_baselines,
    utilization,
)


def test_js_divergence_of_a_histogram_with_itself_is_zero_and_of_disjoint_ones_one_bit():
    c = np.array([5, 0, 3, 2, 10])
    assert js_divergence(c, c) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(c, 7 * c) == pytest.approx(0.0, abs=1e-12)  # histograms are normalised
    assert js_divergence([1, 2, 0, 0], [0, 0, 4, 1]) == pytest.approx(1.0, abs=1e-12)
    # two point masses sharing half: JS = 1/2 of (KL to the midpoint) each = 0.311... bits
    p, q = np.array([1.0, 0.0]), np.array([0.5, 0.5])
    m = (p + q) / 2
    expected = (0.5 * (1.0 * math.log2(1.0 / m[0]))
                + 0.5 * (0.5 * math.log2(0.5 / m[0]) + 0.5 * math.log2(0.5 / m[1])))
    assert js_divergence(p, q) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="same length"):
        js_divergence([1, 2], [1, 2, 3])


def test_unigram_baseline_of_the_marginal_itself_is_its_entropy():
    rng = np.random.default_rng(0)
    k = 64
    held = rng.choice(k, size=(200, 4, 4), p=rng.dirichlet(np.ones(k) * 0.3))
    base = unigram_baselines(held, held, k, smoothing=1e-9)  # q = the held-out marginal (alpha -> 0)
    h = entropy_bits(histogram(held, k))
    assert base["heldout_entropy_bits"] == pytest.approx(h, rel=1e-12)
    assert base["train_unigram_bits"] == pytest.approx(h, rel=1e-6)
    # Gibbs: any other marginal costs more; add-one smoothing never gives an infinite cross-entropy
    train = rng.integers(0, k // 2, size=(100, 4, 4))  # half the codes never seen in training
    other = unigram_baselines(train, held, k)
    assert other["train_unigram_bits"] > h and math.isfinite(other["train_unigram_bits"])
    n, counts = train.size, histogram(train, k)
    q = (counts + 1.0) / (n + k)
    p = histogram(held, k) / held.size
    assert other["train_unigram_bits"] == pytest.approx(-(p * np.log2(q)).sum(), rel=1e-12)
    assert other["log2_k"] == 6.0


def test_entropy_perplexity_and_utilisation():
    k = 8
    uniform = np.arange(8).reshape(1, 8).repeat(3, axis=0)
    assert entropy_bits(histogram(uniform, k)) == pytest.approx(3.0) == log2_k(k)
    assert perplexity(uniform, k) == pytest.approx(8.0) and utilization(uniform, k) == 1.0
    two = np.array([[0, 1, 0, 1]])
    stats = token_stats(two, k)
    assert stats == {"tokens": 4, "entropy_bits": 1.0, "perplexity": 2.0, "utilization": 0.25, "log2_k": 3.0}
    assert entropy_bits(histogram(np.zeros((2, 3), dtype=int), k)) == 0.0


def test_check_tokens_names_the_parameter():
    assert check_tokens(np.zeros((2, 5), dtype=np.int32), 4, grid=True).shape == (2, 1, 5)
    with pytest.raises(ValueError, match=r"codes must lie in \[0, codebook_size=4\)"):
        check_tokens(np.array([[0, 4]]), 4, "codes")
    with pytest.raises(ValueError, match="codes must be integer"):
        check_tokens(np.array([[0.0, 1.0]]), 4, "codes")
    with pytest.raises(ValueError, match="codes must have shape"):
        check_tokens(np.zeros((1, 2, 2, 2), dtype=int), 4, "codes")
    with pytest.raises(ValueError, match="codebook_size must be a positive integer"):
        check_tokens(np.zeros((1, 2), dtype=int), 0)
    with pytest.raises(ValueError, match="smoothing"):
        unigram_baselines(np.zeros((1, 2), dtype=int), np.zeros((1, 2), dtype=int), 4, smoothing=0)
