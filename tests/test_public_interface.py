"""The stable public interface of DESIGN.md: names importable from the packages, with the documented
behaviour at a glance (the detailed oracles live in the per-module tests)."""

import subprocess
import sys

import numpy as np

import simulations
import theory


def test_theory_names():
    for name in ("gaussian_w2", "empirical_gaussian_w2", "criterion_triple", "optimal_density_exponent"):
        assert callable(getattr(theory, name))
    assert theory.optimal_density_exponent(2) == 0.5


def test_simulations_functions():
    source = simulations.make_source("gaussian", 1)
    lm = simulations.lloyd_max(source, 2)
    assert np.allclose(lm.levels, [-np.sqrt(2 / np.pi), np.sqrt(2 / np.pi)])
    x = np.array([[0.0], [0.1], [10.0], [10.1]])
    res = simulations.kmeans(x, 2, seed=0)
    assert np.allclose(np.sort(res.codebook[:, 0]), [0.05, 10.05]) and res.n_iter >= 1
    assert isinstance(res, simulations.KMeansResult)


def test_importing_simulations_does_not_load_torch():
    code = "import sys, simulations; sys.exit(int('torch' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_make_quantizer_interface():
    import torch

    assert set(simulations.QUANTIZERS) >= {"vanilla", "ema", "online", "linear", "wasserstein", "mmd"}
    q = simulations.make_quantizer("vanilla", 16, 3, seed=0)
    z = torch.randn(2, 3, 4, 5, requires_grad=True)
    out = q(z)
    assert out.quantized.shape == z.shape and out.indices.shape == (2, 4, 5)
    assert out.loss.ndim == 0 and set(out.metrics) >= {"error", "utilization", "perplexity"}
    out.quantized.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))  # straight-through
