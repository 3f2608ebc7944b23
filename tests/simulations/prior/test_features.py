"""Sample-quality features and distances: Fréchet distance, KID, precision/recall, and the random
conv feature space on the built-in photographs; inception_fid refuses without weights / libraries."""

import itertools
import math
import sys
import types

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from vqmatch.simulations.prior import (
    FEATURE_DIM,
    frechet_distance,
    inception_fid,
    kernel_distance,
    precision_recall,
    random_features,
)
from vqmatch.simulations.prior.features import as_images
from vqmatch.simulations.vqvae.data import builtin_patches


@pytest.fixture(scope="module")
def photos():
    """Two disjoint random sets of 600 built-in training patches (same distribution), (N, 3, 32, 32) in
    [-1, 1] float32."""
    patches, _ = builtin_patches("train")
    idx = np.random.default_rng(0).permutation(len(patches))[:1200]
    x = patches[idx].astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0
    return x[:600], x[600:]


def _feats(x):
    return random_features(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).clamp(-1, 1))


def _fd_self_bound(feats):
    """Round-off bound of FD(X, X). FD = 2 tr C - 2 sum_i sqrt(mu_i), mu_i the eigenvalues of
    C^1/2 C C^1/2 = C^2, i.e. lambda_i^2. A backward-stable factorisation and eigensolve in float64
    give mu_i + e_i with |e_i| <= c d eps lambda_max^2, and sqrt(lambda^2 + e) - lambda <= sqrt(|e|), so
    |FD| <= 2 d sqrt(c d eps) lambda_max (c = 10, the margin vqmatch.theory uses for round-off)."""
    d = feats.shape[1]
    lam = np.linalg.eigvalsh(np.cov(feats, rowvar=False)).max()
    return 2 * d * math.sqrt(10 * d * np.finfo(np.float64).eps) * lam


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_noise():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 24)) @ rng.standard_normal((24, 24))
    assert 0.0 <= frechet_distance(x, x) <= _fd_self_bound(x)
    assert frechet_distance(x, x) < 1e-6 * np.trace(np.cov(x, rowvar=False))
    values = [frechet_distance(x, x + s * rng.standard_normal(x.shape)) for s in (0.1, 0.3, 1.0, 3.0)]
    assert all(a < b for a, b in itertools.pairwise(values)), values
    # the closed form on a case known by hand: a pure mean shift of 2 in every one of 24 coordinates
    assert frechet_distance(x, x + 2.0) == pytest.approx(24 * 4.0, rel=1e-6)


def test_random_features_are_fixed_and_rank_noise_and_blur_on_real_photographs(photos):
    ref, test = photos
    f_ref, f_test = _feats(ref), _feats(test)
    assert f_ref.shape == (600, FEATURE_DIM) and f_ref.dtype == np.float64
    assert np.array_equal(f_ref, _feats(ref))  # deterministic
    assert not np.array_equal(f_ref, random_features(torch.from_numpy(ref), seed=1))
    # a set with itself: zero up to the derived round-off bound
    assert frechet_distance(f_ref, f_ref) <= _fd_self_bound(f_ref)
    base = frechet_distance(f_ref, f_test)  # two samples of one distribution: a sampling floor
    rng = np.random.default_rng(1)
    noise = [frechet_distance(f_ref, _feats(test + s * rng.standard_normal(test.shape)))
             for s in (0.1, 0.2, 0.4)]
    blur = [frechet_distance(f_ref, _feats(gaussian_filter(test, sigma=(0, 0, s, s), mode="reflect")))
            for s in (1.0, 2.0, 3.0)]
    for ranked in (noise, blur):
        assert base < ranked[0] < ranked[1] < ranked[2], (base, ranked)
    assert noise[-1] > 5 * base and blur[-1] > 2 * base


def test_uint8_images_are_read_as_the_vqvae_does():
    patches, _ = builtin_patches("heldout")
    x = as_images(patches[:3])
    assert x.shape == (3, 3, 32, 32)
    expected = patches[:3].transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1
    torch.testing.assert_close(x, torch.from_numpy(expected))
    with pytest.raises(ValueError, match=r"images must lie in \[-1, 1\]"):
        as_images(np.full((1, 3, 8, 8), 2.0, dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\)"):
        as_images(np.zeros((1, 8, 8, 3), dtype=np.float32))


def test_kid_of_one_distribution_is_zero_within_its_standard_error():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3000, 16)), rng.standard_normal((3000, 16))
    same = kernel_distance(x, y, subsets=200, subset_size=200)
    assert abs(same["kid"]) < 3 * same["kid_se"] and same["subset_size"] == 200
    shifted = kernel_distance(x, y + 0.5, subsets=50, subset_size=200)
    assert shifted["kid"] > 20 * shifted["kid_se"] > 0
    # a set against ITSELF: the subsets of the two sides overlap, so the cross term also averages
    # k(x, x); its expectation is -(2 / N) (mean k(x, x) - mean over x != x' of k(x, x')), known exactly
    n = 1000
    z = x[:n]
    kz = (z @ z.T / 16 + 1.0) ** 3
    offdiag = (kz.sum() - np.trace(kz)) / (n * (n - 1))
    bias = -2.0 / n * (np.trace(kz) / n - offdiag)
    own = kernel_distance(z, z, subsets=400, subset_size=100)
    assert abs(own["kid"] - bias) < 3 * own["kid_se"]
    assert abs(own["kid"]) < 0.05 * shifted["kid"]


def test_precision_recall_of_a_set_with_itself_is_one_and_of_far_apart_sets_zero():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8))
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0, "k": 3}
    assert precision_recall(x, x + 100.0) == {"precision": 0.0, "recall": 0.0, "k": 3}
    # a generator that covers half the real manifold: precise, but with a recall near one half
    half = x[x[:, 0] > 0]
    pr = precision_recall(x, half, k=3)
    assert pr["precision"] > 0.95 and 0.45 < pr["recall"] < 0.85
    with pytest.raises(ValueError, match="at least 4 rows"):
        precision_recall(x[:3], x)


def test_distances_check_their_inputs():
    with pytest.raises(ValueError, match="same number of features"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="feats_a must be a 2-D array"):
        kernel_distance(np.zeros(5), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="feats_b must be finite"):
        frechet_distance(np.zeros((5, 3)), np.full((5, 3), np.nan))


def test_inception_fid_refuses_without_weights_or_libraries(tmp_path):
    images = np.zeros((4, 3, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="weights_path is None"):
        inception_fid(images, images, None)
    with pytest.raises(ValueError, match="is not a file"):
        inception_fid(images, images, tmp_path / "missing.pth")
    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"not a checkpoint")
    try:
        import torchmetrics.image.fid  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="torchmetrics"):
            inception_fid(images, images, weights)
    else:
        with pytest.raises(ValueError, match="could not be loaded"):
            inception_fid(images, images, weights)


def test_inception_fid_hands_uint8_images_and_the_weights_to_torchmetrics(tmp_path, monkeypatch):
    """The plumbing, with a stand-in for torchmetrics (the real one needs the weights): the weights
    path reaches the FID metric, both metrics see every image once as uint8 NCHW, KID's subset size is
    capped at the set size."""
    seen = {"fid": [], "kid": []}

    class FID:
        def __init__(self, feature, normalize, feature_extractor_weights_path):
            seen["path"], self.inception = feature_extractor_weights_path, object()

        def to(self, device):
            return self

        def update(self, imgs, real):
            seen["fid"].append((imgs.dtype, tuple(imgs.shape), real))

        def compute(self):
            return torch.tensor(1.5)

    class KID(FID):
        def __init__(self, feature, subsets, subset_size, normalize):
            seen["subset_size"] = subset_size

        def update(self, imgs, real):
            seen["kid"].append((imgs.dtype, tuple(imgs.shape), real))

        def compute(self):
            return torch.tensor(0.25), torch.tensor(0.5)

    for name, attrs in (("torchmetrics", {}), ("torchmetrics.image", {}),
                        ("torchmetrics.image.fid", {"FrechetInceptionDistance": FID}),
                        ("torchmetrics.image.kid", {"KernelInceptionDistance": KID})):
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    a = np.zeros((5, 3, 8, 8), dtype=np.float32)
    b = np.full((3, 8, 8, 3), 255, dtype=np.uint8)
    out = inception_fid(a, b, weights, batch_size=4)
    assert out == {"fid": 1.5, "kid": 0.25, "kid_std": 0.5, "images_a": 5, "images_b": 3}
    assert seen["path"] == str(weights) and seen["subset_size"] == 3
    expected = [(torch.uint8, (4, 3, 8, 8), True), (torch.uint8, (1, 3, 8, 8), True),
                (torch.uint8, (3, 3, 8, 8), False)]
    assert seen["fid"] == expected and seen["kid"] == expected
