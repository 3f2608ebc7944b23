"""The stable public interface: the names ``vqmatch`` re-exports, with the documented behaviour at a
glance (the detailed oracles live in the per-module tests), and the one import name."""

import subprocess
import sys

import numpy as np
import pytest

import vqmatch
from tests.test_imports import ROOT
from vqmatch import simulations, theory

STABLE = {
    "gaussian_w2": theory, "empirical_gaussian_w2": theory, "criterion_triple": theory,
    "wasserstein_vq_loss": theory, "nearest_code": theory, "optimal_density_exponent": theory,
    "kmeans": simulations, "lloyd_max": simulations, "make_source": simulations,
    "make_quantizer": simulations, "QUANTIZERS": simulations,
}


def test_stable_names_are_re_exported_from_their_subpackage():
    assert set(STABLE) <= set(vqmatch.__all__) and set(STABLE) <= set(dir(vqmatch))
    for name, sub in STABLE.items():
        assert getattr(vqmatch, name) is getattr(sub, name), name
    assert {"theory", "simulations", "figures"} <= set(vqmatch.__all__)
    assert vqmatch.figures.__name__ == "vqmatch.figures"
    with pytest.raises(AttributeError, match="no attribute 'gaussian_w3'"):
        vqmatch.gaussian_w3  # noqa: B018


def test_theory_names():
    assert vqmatch.optimal_density_exponent(2) == 0.5
    w = vqmatch.gaussian_w2(np.zeros(1), np.eye(1), np.full(1, 10.0), np.eye(1))
    assert float(w) == 10.0


def test_simulations_functions():
    source = vqmatch.make_source("gaussian", 1)
    lm = vqmatch.lloyd_max(source, 2)
    assert np.allclose(lm.levels, [-np.sqrt(2 / np.pi), np.sqrt(2 / np.pi)])
    x = np.array([[0.0], [0.1], [10.0], [10.1]])
    res = vqmatch.kmeans(x, 2, seed=0)
    assert np.allclose(np.sort(res.codebook[:, 0]), [0.05, 10.05]) and res.n_iter >= 1
    assert isinstance(res, simulations.KMeansResult)


@pytest.mark.parametrize("code", [
    "import vqmatch",
    "import vqmatch.simulations",
    "from vqmatch import gaussian_w2, kmeans, lloyd_max, make_source, criterion_triple",
])
def test_numpy_only_use_does_not_load_torch(code):
    check = f"import sys\n{code}\nsys.exit(int('torch' in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("old", ["theory", "simulations", "figures", "simulations.core.stats",
                                 "theory.gaussian"])
def test_old_top_level_names_refuse_to_import_from_the_repository_root(old):
    """From the repository root the folders are on sys.path under their own names: importing one so
    would make a second copy of every module; it raises instead, naming the vqmatch spelling."""
    proc = subprocess.run([sys.executable, "-c", f"import {old}"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "ImportError: import vqmatch." in proc.stderr, proc.stderr


def test_make_quantizer_is_a_drop_in_layer():
    import torch

    assert set(vqmatch.QUANTIZERS) >= {"vanilla", "ema", "online", "linear", "wasserstein", "mmd"}

    class Model(torch.nn.Module):  # a user's own model with a VQ bottleneck
        def __init__(self):
            super().__init__()
            self.encode = torch.nn.Conv2d(1, 3, 1)
            self.vq = vqmatch.make_quantizer("wasserstein", 16, 3, seed=0)
            self.decode = torch.nn.Conv2d(3, 1, 1)

        def forward(self, x):
            quantized, indices, loss = self.vq(self.encode(x))
            return self.decode(quantized), indices, loss

    model = Model()
    x = torch.randn(2, 1, 4, 5)
    y, indices, loss = model(x)
    assert y.shape == x.shape and indices.shape == (2, 4, 5) and loss.ndim == 0
    ((y - x) ** 2).mean().add(loss).backward()
    assert model.encode.weight.grad is not None  # straight-through reaches the encoder
    codebook_grads = [p.grad for p in model.vq.parameters()]
    assert codebook_grads and all(g is not None and bool(g.abs().sum() > 0) for g in codebook_grads)


def test_quantizer_output_fields():
    import torch

    q = vqmatch.make_quantizer("vanilla", 16, 3, seed=0)
    z = torch.randn(2, 3, 4, 5, requires_grad=True)
    out = q(z)
    assert out.quantized.shape == z.shape and out.indices.shape == (2, 4, 5)
    assert out.loss.ndim == 0 and set(out.metrics) >= {"error", "utilization", "perplexity"}
    out.quantized.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))  # straight-through
