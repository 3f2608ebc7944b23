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
