"""A trained VQ-VAE as a tokenizer: the token grid is the nearest code of every latent position (a
brute-force reference), decoding is the decoder of the codes, bad input is one ValueError, and the
latent picture's axes are the features' principal axes (checked through the covariance they give).
"""

import numpy as np
import pytest
import torch

from vqmatch.simulations.vqvae import tokens
from vqmatch.simulations.vqvae.train import build_model
from vqmatch.theory import empirical_gaussian_w2


@pytest.fixture(scope="module")
def model():
    from .conftest import TINY

    torch.set_num_threads(1)
    m, _ = build_model(TINY)
    return m


@pytest.fixture(scope="module")
def images():
    return torch.rand(10, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_encode_is_the_nearest_code_of_every_position(model, images):
    t = tokens.encode_tokens(model, images, batch_size=3)  # batches of 3, 3, 3, 1
    with torch.no_grad():
        z = model.encode(images).permute(0, 2, 3, 1).double()  # (N, h, w, d)
    c = model.quantizer.codebook.double()
    dist = ((z[..., None, :] - c) ** 2).sum(-1)
    ref = dist.argmin(-1).numpy()
    assert t.dtype == np.int64 and t.shape == ref.shape == (10, 8, 8)
    # where the float32 search picks another code, the two distances agree within the float32
    # round-off of ||z||^2 - 2 z.c + ||c||^2 (a few units of eps times the summed squared norms)
    picked = torch.gather(dist, -1, torch.from_numpy(t)[..., None])[..., 0]
    slack = 16 * np.finfo(np.float32).eps * ((z**2).sum(-1) + (c**2).sum(-1).max())
    assert bool((picked - dist.min(-1).values <= slack).all())
    assert (t == ref).mean() > 0.5  # not vacuous: mostly the same code
    assert model.training  # the model's mode is restored


def test_uint8_images_are_the_same_input(model):
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    as_float = torch.from_numpy(u8).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    np.testing.assert_array_equal(tokens.encode_tokens(model, u8),
                                  tokens.encode_tokens(model, as_float))


def test_decode_is_the_decoder_of_the_codes(model, images):
    t = tokens.encode_tokens(model, images)
    got = tokens.decode_tokens(model, t, batch_size=4)
    model.eval()
    with torch.no_grad():
        z_q = model.quantizer.codebook[torch.from_numpy(t)].permute(0, 3, 1, 2)
        want = model.decode(z_q).clamp(-1, 1)
    model.train()
    assert got.shape == images.shape and got.dtype == torch.float32
    # batching changes no arithmetic of a convolution's output pixel (one image per sum)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert float(got.abs().max()) <= 1.0


@pytest.mark.parametrize("bad, match", [
    (np.full((2, 8, 8), 64), r"tokens must lie in \[0, 64\)"),
    (np.full((2, 8, 8), -1), r"tokens must lie in \[0, 64\)"),
    (np.zeros((8, 8), dtype=np.int64), r"tokens must have shape \(N, h, w\)"),
])
def test_bad_tokens_are_one_clear_error(model, bad, match):
    with pytest.raises(ValueError, match=match):
        tokens.decode_tokens(model, bad)


def test_bad_images_and_batch_size_are_one_clear_error(model, images):
    with pytest.raises(ValueError, match=r"uint8 images must have shape \(N, H, W, 3\)"):
        tokens.encode_tokens(model, np.zeros((2, 3, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"images must have shape \(N, 3, H, W\)"):
        tokens.encode_tokens(model, torch.zeros(2, 32, 32))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        tokens.encode_tokens(model, images, batch_size=0)


def test_latent_projection_uses_the_principal_axes(model, images):
    n_feats = 10 * 8 * 8
    out = tokens.latent_projection(model, images, points=10_000)  # more than there are: all
    f, c = out["features"].astype(np.float64), out["codes"]
    assert f.shape == (n_feats, 2) and c.shape == (64, 2)
    # counts: the usage of each code over every feature = the token histogram
    np.testing.assert_array_equal(out["counts"], np.bincount(
        tokens.encode_tokens(model, images).ravel(), minlength=64))
    # projecting all features on the first two principal axes: centred, uncorrelated, variances
    # in decreasing order and summing to the explained share of the total variance
    with torch.no_grad():
        z = model.encode(images).permute(0, 2, 3, 1).reshape(-1, 8).double().numpy()
    total = ((z - z.mean(0)) ** 2).sum()
    cov = f.T @ f
    scale = total  # float32 storage of the coordinates: relative error ~ 1e-7 per entry
    assert abs(f.mean(0)).max() < 1e-5 * np.sqrt(total / n_feats)
    assert abs(cov[0, 1]) < 1e-5 * scale and cov[0, 0] >= cov[1, 1] * (1 - 1e-5)
    eig = np.linalg.eigvalsh((z - z.mean(0)).T @ (z - z.mean(0)))[::-1]
    np.testing.assert_allclose(np.diag(cov), eig[:2], rtol=1e-5)
    assert out["explained"] == pytest.approx(eig[:2].sum() / total, rel=1e-9)
    # the codes go through the same affine map
    axes = np.linalg.lstsq(z - z.mean(0), f, rcond=None)[0]
    cb = model.quantizer.codebook.detach().double().numpy()
    np.testing.assert_allclose(c, (cb - z.mean(0)) @ axes, rtol=1e-4, atol=1e-5 * np.abs(c).max())
    assert out["w2"] == pytest.approx(empirical_gaussian_w2(z, cb), rel=1e-6)
    # a subsample of the features, fixed by the seed
    few = tokens.latent_projection(model, images, points=50, seed=3)
    assert few["features"].shape == (50, 2)
    np.testing.assert_array_equal(few["features"],
                                  tokens.latent_projection(model, images, points=50, seed=3)["features"])
